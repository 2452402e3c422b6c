"""Health check and the error catalogue's rendering."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_healthz_checks_the_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["status"] == "ok"
    assert response.json["database"] in ("sqlite", "postgresql")


def test_unknown_api_route_is_problem_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json is not None
    assert response.json["code"] == "not_found"


def test_wrong_method_is_problem_json(client: FlaskClient) -> None:
    response = client.put("/api/v1/sessions")
    assert response.status_code == 405
    assert response.json is not None
    assert response.json["code"] == "request.method_not_allowed"
