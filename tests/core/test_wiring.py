"""The URL map is the one create_app writes out: every blueprint by name, each with its routes."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from flask import Flask

import server

REGISTERED = {
    "accounts_api": "/api/v1",
    "bundles_api": "/api/v1",
    "central": "/v1",
    "central_odata": "/v1",
    "central_entities": "/v1/projects/<int:project_id>",
    "central_entity_writes": "/v1/projects/<int:project_id>",
    "central_submissions": "/v1",
    "central_keys": "/v1/projects/<int:project_id>",
    "encrypted_entities": "/api/v1/projects/<int:project_id>",
    "donors_api": "/api/v1/projects/<int:project_id>",
    "entities_api": "/api/v1/projects/<int:project_id>",
    "exports_api": "/api/v1/projects/<int:project_id>",
    "forms_api": "/api/v1/projects/<int:project_id>",
    "openrosa": "/v1",
    "personal_api": "/api/v1/projects/<int:project_id>",
    "projects_api": "/api/v1",
    "reports_api": "/api/v1/projects/<int:project_id>/reports",
    "submissions_api": "/api/v1/projects/<int:project_id>/forms/<form_id>/submissions",
    "submission_review": "/api/v1/projects/<int:project_id>/forms/<form_id>/submissions",
    "sync_api": "/api/v1/sync",
    "ui": "/ui",
}


def test_every_blueprint_is_registered_by_name_with_its_routes(app: Flask) -> None:
    assert set(app.blueprints) == set(REGISTERED)
    for name, prefix in REGISTERED.items():
        rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith(f"{name}.")]
        assert rules, name
        assert all(rule.startswith(prefix) for rule in rules), name


def test_every_blueprint_the_server_defines_is_registered(app: Flask) -> None:
    """A blueprint written but left out of create_app answers nothing (a 405 or 404 on its
    routes): every ``Blueprint("name", ...)`` in server/ must be in the URL map."""
    defined = set()
    for path in Path(server.__file__).parent.rglob("*.py"):
        defined |= set(re.findall(r"Blueprint\(\s*\"(\w+)\"", path.read_text(encoding="utf-8")))
    assert defined, "no blueprint found: the pattern no longer matches the code"
    assert defined - set(app.blueprints) == set()


def test_the_wiring_is_explicit() -> None:
    source = inspect.getsource(server)
    assert "pkgutil" not in source and "import_module" not in source
    assert source.count("app.register_blueprint(") == len(REGISTERED)
