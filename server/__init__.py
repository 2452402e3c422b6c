"""The fieldsync server: an OpenRosa server for ODK Collect and a JSON API, as a Flask app.

``create_app`` builds it; importing this package opens nothing and reads nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, g, jsonify, request
from sqlalchemy import text

from server.settings import Settings

log = logging.getLogger("fieldsync.http")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the application.

    Raises:
        SettingsError: ``settings`` was not given and the environment is incomplete.
    """
    from server import http
    from server.app_errors import register_error_handlers
    from server.logging_setup import configure_logging
    from server.runtime import make_runtime
    from server.web import close_request_session, db

    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    app = Flask(__name__)
    app.config["SECRET_KEY"] = settings.secret_key
    # Werkzeug refuses larger bodies with 413 before a view reads them.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    app.config["MAX_FORM_MEMORY_SIZE"] = 1024 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]

    app.extensions["fieldsync"] = make_runtime(settings)
    if settings.proxy_hops:
        # The client's address and scheme as the trusted proxies saw them (login throttling).
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )

    @app.before_request
    def _start() -> None:
        g.request_id = http.request_id(request.headers.get("X-Request-Id"))
        g.started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        http.security_headers(response, request.path)
        log.info(
            "request",
            extra={
                "request_id": g.get("request_id"),
                "method": request.method,
                "path": request.path if "/key/" not in request.path else "/v1/key/…",
                "status": response.status_code,
                "ms": round(
                    (time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1
                ),
            },
        )
        return response

    app.teardown_request(close_request_session)
    register_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> Any:
        db().execute(text("SELECT 1"))
        return jsonify({"status": "ok", "database": settings.database_backend})

    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    """The whole URL map, one blueprint per line: read this to know every route's home."""
    from server.accounts.project_views import blueprint as projects_api
    from server.accounts.views import blueprint as accounts_api
    from server.bundles.views import blueprint as bundles_api
    from server.central.entity_views import blueprint as central_entities
    from server.central.entity_writes import blueprint as central_entity_writes
    from server.central.key_views import blueprint as central_keys
    from server.central.odata_views import blueprint as central_odata
    from server.central.submission_views import blueprint as central_submissions
    from server.central.views import blueprint as central_api
    from server.data_protection.views import blueprint as personal_api
    from server.donors.views import blueprint as donors_api
    from server.entities.views import blueprint as entities_api
    from server.exports.views import blueprint as exports_api
    from server.forms.views import blueprint as forms_api
    from server.intake.encryption_views import blueprint as encrypted_entities
    from server.intake.views import blueprint as submission_review
    from server.openrosa.views import openrosa_blueprint
    from server.reports.views import blueprint as reports_api
    from server.submissions.views import blueprint as submissions_api
    from server.sync.views import blueprint as sync_api
    from server.ui.views import blueprint as web_ui

    app.register_blueprint(accounts_api)  # /api/v1/sessions, /users, project roles, app users
    app.register_blueprint(bundles_api)  # /api/v1/bundle-keys, .../bundle-key, .../bundles
    app.register_blueprint(central_api)  # /v1/...: ODK Central's REST API (pyodk, Power BI)
    app.register_blueprint(central_odata)  # /v1/.../forms/<id>.svc: Central's OData feed
    app.register_blueprint(central_entities)  # /v1/projects/<id>/datasets: entity lists (read)
    app.register_blueprint(central_entity_writes)  # …/datasets/<name>/entities: create, update
    app.register_blueprint(central_submissions)  # comments, PUT edits, files: Central's writes
    app.register_blueprint(central_keys)  # /v1/projects/<id>/key, decrypting CSV exports
    app.register_blueprint(encrypted_entities)  # .../encrypted-submissions/entities (ADR 0016)
    app.register_blueprint(donors_api)  # /api/v1/projects/<id>/donors, /reports/donors/<id>
    app.register_blueprint(entities_api)  # /api/v1/projects/<id>/entity-lists, /conflicts
    app.register_blueprint(exports_api)  # .../submissions.csv.zip|csv|xlsx|geojson, entities.csv
    app.register_blueprint(forms_api)  # /api/v1/projects/<id>/forms
    app.register_blueprint(submission_review)  # PATCH .../submissions/<id>: review state
    app.register_blueprint(openrosa_blueprint)  # /v1/...: ODK Collect (OpenRosa)
    app.register_blueprint(personal_api)  # .../entities/<uuid>/consent-withdrawal
    app.register_blueprint(projects_api)  # /api/v1/projects
    app.register_blueprint(reports_api)  # /api/v1/projects/<id>/reports: coalition reports
    app.register_blueprint(submissions_api)  # /api/v1/projects/<id>/forms/<id>/submissions
    app.register_blueprint(sync_api)  # /api/v1/sync: blobs, push, changes
    app.register_blueprint(web_ui)  # /ui/...: the coordinator's web pages
