"""The URL map is the one create_app writes out: every blueprint by name, each with its routes."""

from __future__ import annotations

import inspect

from flask import Flask

import server

REGISTERED = {
    "accounts_api": "/api/v1",
    "entities_api": "/api/v1/projects/<int:project_id>",
    "forms_api": "/api/v1/projects/<int:project_id>",
    "openrosa": "/v1",
    "projects_api": "/api/v1",
    "submissions_api": "/api/v1/projects/<int:project_id>/forms/<form_id>/submissions",
    "sync_api": "/api/v1/sync",
}


def test_every_blueprint_is_registered_by_name_with_its_routes(app: Flask) -> None:
    assert set(app.blueprints) == set(REGISTERED)
    for name, prefix in REGISTERED.items():
        rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith(f"{name}.")]
        assert rules, name
        assert all(rule.startswith(prefix) for rule in rules), name


def test_the_wiring_is_explicit() -> None:
    source = inspect.getsource(server)
    assert "pkgutil" not in source and "import_module" not in source
    assert source.count("app.register_blueprint(") == len(REGISTERED)
