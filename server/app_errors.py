"""One handler for every error: problem+json on the JSON API, OpenRosa XML on OpenRosa routes,
Central's ``{"code": 404.1, "message": ...}`` on Central's REST routes.

Nothing unexpected reaches a client as a stack trace: it is logged with the request id and the
client gets a 500 with that id to quote.
"""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, g, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from server import errors
from server.central.problems import BLUEPRINTS as CENTRAL_BLUEPRINTS
from server.central.problems import central_error_body
from server.errors import Problem
from server.openrosa.formats import message_response

log = logging.getLogger("fieldsync.http")


def is_central_request() -> bool:
    """A call to Central's REST API: a route of its blueprint, or a route it shares with
    OpenRosa (a form's XML) called with a bearer token and without the OpenRosa header, as
    pyodk calls it."""
    if request.blueprint in CENTRAL_BLUEPRINTS:
        return True
    return (
        request.path.startswith("/v1/")
        and not request.headers.get("X-OpenRosa-Version")
        and request.headers.get("Authorization", "").lower().startswith(("bearer ", "basic "))
    )


def is_openrosa_request() -> bool:
    return request.path.startswith("/v1/")


def render_problem(problem: Problem) -> Response:
    if is_central_request():
        response = jsonify(central_error_body(problem))
        response.status_code = problem.status
    elif is_openrosa_request():
        response = message_response(problem.status, problem.detail, nature=problem.code)
    else:
        response = jsonify(problem.to_json())
        response.status_code = problem.status
        response.mimetype = "application/problem+json"
    response.headers.update(problem.headers)
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(exc: Problem) -> Response:
        if exc.status >= 500:
            log.warning("refused", extra={"code": exc.code, "status": exc.status})
        return render_problem(exc)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> Response:
        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        return render_problem(errors.too_large(int(limit)))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status == 404:
            problem = errors.not_found("Resource", f"no route for {request.method} {request.path}")
        elif status == 405:
            problem = errors.method_not_allowed(request.method, request.path)
        else:
            problem = errors.http_error(status, exc.name, exc.description)
        response = render_problem(problem)
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(OperationalError)
    def _database_down(exc: OperationalError) -> Response:
        log.error("database error", extra={"request_id": g.get("request_id"), "error": str(exc)})
        return render_problem(errors.database_unavailable())

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        log.exception("unexpected error", extra={"request_id": request_id})
        return render_problem(errors.internal_error(request_id))
