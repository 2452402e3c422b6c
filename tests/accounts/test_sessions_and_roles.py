"""Login, bearer tokens, roles, revocation and bad input on the JSON API."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from server.accounts.models import ApiToken, Role
from server.audit.models import AuditEntry
from server.db import transaction, utcnow
from tests.factories import DEFAULT_PASSWORD, Factories


def test_login_returns_a_token_that_lists_my_projects(
    client: FlaskClient, factories: Factories
) -> None:
    mine = factories.project("Lao PDR coalition")
    factories.project("Someone else's")
    user = factories.user(mine, Role.COORDINATOR, email="Coord@Example.org")

    response = client.post(
        "/api/v1/sessions", json={"email": "coord@example.org", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 201
    token = response.json["token"]

    projects = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
    assert projects.status_code == 200
    assert [(p["name"], p["role"]) for p in projects.json] == [("Lao PDR coalition", "coordinator")]
    assert user.email == "coord@example.org"


def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: FlaskClient, factories: Factories
) -> None:
    factories.user(email="someone@example.org")
    wrong = client.post(
        "/api/v1/sessions", json={"email": "someone@example.org", "password": "not it at all"}
    )
    unknown = client.post(
        "/api/v1/sessions", json={"email": "nobody@example.org", "password": "not it at all"}
    )
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.json["code"] == "auth.bad_credentials"


def test_malformed_json_and_missing_fields(client: FlaskClient) -> None:
    broken = client.post("/api/v1/sessions", data=b'{"email": ', content_type="application/json")
    assert broken.status_code == 400
    assert broken.json["code"] == "request.malformed_json"

    missing = client.post("/api/v1/sessions", json={"email": "a@b.org"})
    assert missing.status_code == 400
    assert missing.json["code"] == "request.invalid"
    assert "password" in missing.json["errors"]


def test_revoked_and_expired_tokens_are_refused(client: FlaskClient, factories: Factories) -> None:
    project = factories.project()
    session = factories.logged_in(project, Role.VIEWER)
    assert client.get("/api/v1/projects", headers=session.headers).status_code == 200

    assert client.delete("/api/v1/sessions/current", headers=session.headers).status_code == 204
    after = client.get("/api/v1/projects", headers=session.headers)
    assert after.status_code == 401
    assert after.json["code"] == "auth.token_invalid"

    other = factories.logged_in(project, Role.VIEWER)
    with transaction(factories.runtime.session_factory) as db:
        for row in db.scalars(select(ApiToken).where(ApiToken.user_id == other.user.id)):
            row.expires_at = utcnow() - timedelta(seconds=1)
    expired = client.get("/api/v1/projects", headers=other.headers)
    assert expired.status_code == 401
    assert expired.json["code"] == "auth.token_invalid"

    garbage = client.get("/api/v1/projects", headers={"Authorization": "Bearer nonsense"})
    assert garbage.status_code == 401


def test_roles_gate_what_a_user_may_do(client: FlaskClient, factories: Factories) -> None:
    project = factories.project()
    viewer = factories.logged_in(project, Role.VIEWER)
    coordinator = factories.logged_in(project, Role.COORDINATOR)
    outsider = factories.logged_in(factories.project(), Role.ADMINISTRATOR)

    # Viewers read, but may not create device tokens; coordinators may.
    assert (
        client.get(f"/api/v1/projects/{project.id}/forms", headers=viewer.headers).status_code
        == 200
    )
    refused = client.post(
        f"/api/v1/projects/{project.id}/app-users", json={"name": "tab 1"}, headers=viewer.headers
    )
    assert refused.status_code == 403
    assert refused.json["code"] == "auth.forbidden"
    created = client.post(
        f"/api/v1/projects/{project.id}/app-users",
        json={"name": "tab 1"},
        headers=coordinator.headers,
    )
    assert created.status_code == 201
    assert created.json["server_url"].endswith(
        f"/v1/key/{created.json['token']}/projects/{project.id}"
    )

    # Someone without a role in the project does not learn that it exists.
    hidden = client.get(f"/api/v1/projects/{project.id}", headers=outsider.headers)
    assert hidden.status_code == 404

    # Only site administrators create projects.
    assert (
        client.post(
            "/api/v1/projects", json={"name": "New"}, headers=coordinator.headers
        ).status_code
        == 403
    )


def test_administrator_grants_roles_and_it_is_audited(
    client: FlaskClient, factories: Factories
) -> None:
    project = factories.project()
    admin = factories.logged_in(project, Role.ADMINISTRATOR)
    newcomer = factories.user(email="verifier@example.org")
    response = client.put(
        f"/api/v1/projects/{project.id}/roles",
        json={"email": "verifier@example.org", "role": "coordinator"},
        headers=admin.headers,
    )
    assert response.status_code == 200
    token = factories.login(newcomer).headers
    listed = client.get("/api/v1/projects", headers=token).json
    assert listed[0]["role"] == "coordinator"
    with factories.session() as db:
        actions = [
            e.action
            for e in db.scalars(select(AuditEntry).where(AuditEntry.project_id == project.id))
        ]
    assert "role.grant" in actions

    bad_role = client.put(
        f"/api/v1/projects/{project.id}/roles",
        json={"email": "verifier@example.org", "role": "king"},
        headers=admin.headers,
    )
    assert bad_role.status_code == 400
    assert "role" in bad_role.json["errors"]


def test_revoking_an_app_user(client: FlaskClient, factories: Factories) -> None:
    project = factories.project()
    coordinator = factories.logged_in(project, Role.COORDINATOR)
    device = factories.device(project, "tablet 7")
    listed = client.get(
        f"/api/v1/projects/{project.id}/app-users", headers=coordinator.headers
    ).json
    assert [(a["name"], a["revoked"]) for a in listed] == [("tablet 7", False)]
    assert (
        client.delete(
            f"/api/v1/projects/{project.id}/app-users/{device.app_user_id}",
            headers=coordinator.headers,
        ).status_code
        == 204
    )
    listed = client.get(
        f"/api/v1/projects/{project.id}/app-users", headers=coordinator.headers
    ).json
    assert listed[0]["revoked"] is True
