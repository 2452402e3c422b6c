"""Finding 6: a user can be disabled, re-enabled, given a new password and have a role taken
away, from the command line and the JSON API; a disabled user fails every way of logging in;
app users can expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import update

from server.accounts.models import AppUser, ProjectRole
from server.cli import main
from server.db import utcnow
from server.projects.models import Project
from server.submissions.models import Submission
from tests.conftest import LiveServer
from tests.factories import DEFAULT_PASSWORD, Factories, LoggedIn
from tests.openrosa.helpers import OPENROSA, count, new_instance_id, requests_files, simple_xml
from tests.security.helpers import basic_header, challenge, digest_header

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def cli_env(app: Flask, database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "FIELDSYNC_DATA_DIR": str(tmp_path / "cli-data"),
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


@pytest.fixture
def admin(factories: Factories) -> LoggedIn:
    return factories.login(factories.user(site_admin=True))


def _every_login(server: LiveServer, project: Project, email: str, token: str) -> dict[str, int]:
    """The status of each way in: Bearer on the API and on sync, a new API session, Basic and
    Digest on OpenRosa."""
    form_list = f"{server.url}/v1/projects/{project.id}/formList"
    bearer = {"Authorization": f"Bearer {token}"}
    digest = digest_header(challenge(form_list, "GET"), "GET", form_list, email, DEFAULT_PASSWORD)
    return {
        "bearer": requests.get(
            f"{server.url}/api/v1/users/current", headers=bearer, timeout=10
        ).status_code,
        "sync": requests.get(
            f"{server.url}/api/v1/sync/changes",
            params={"project_id": project.id},
            headers=bearer,
            timeout=10,
        ).status_code,
        "session": requests.post(
            f"{server.url}/api/v1/sessions",
            json={"email": email, "password": DEFAULT_PASSWORD},
            timeout=10,
        ).status_code,
        "basic": requests.get(
            form_list,
            headers={**OPENROSA, "Authorization": basic_header(email, DEFAULT_PASSWORD)},
            timeout=10,
        ).status_code,
        "digest": requests.get(
            form_list, headers={**OPENROSA, "Authorization": digest}, timeout=10
        ).status_code,
    }


def test_a_disabled_user_fails_every_login_and_an_enabled_one_gets_back_in(
    app: Flask,
    live_server: LiveServer,
    factories: Factories,
    admin: LoggedIn,
    project: Project,
    simple_form: None,
) -> None:
    user = factories.user(project, "coordinator", digest=True)
    token = factories.login(user).token
    assert set(_every_login(live_server, project, user.email, token).values()) == {200, 201}

    response = requests.patch(
        f"{live_server.url}/api/v1/users/{user.email}",
        json={"active": False},
        headers=admin.headers,
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert _every_login(live_server, project, user.email, token) == {
        "bearer": 401,
        "sync": 401,
        "session": 401,
        "basic": 401,
        "digest": 401,
    }
    # Nothing gets in by the password either: a submission is refused and not stored.
    submitted = requests.post(
        f"{live_server.url}/v1/projects/{project.id}/submission",
        files=requests_files(simple_xml(new_instance_id())),
        headers={**OPENROSA, "Authorization": basic_header(user.email, DEFAULT_PASSWORD)},
        timeout=10,
    )
    assert submitted.status_code == 401
    assert count(app, Submission) == 0

    enabled = requests.patch(
        f"{live_server.url}/api/v1/users/{user.email}",
        json={"active": True},
        headers=admin.headers,
        timeout=10,
    )
    assert enabled.status_code == 200
    statuses = _every_login(live_server, project, user.email, token)
    assert statuses["bearer"] == 401  # the tokens revoked on disabling stay revoked
    assert statuses["session"] == 201
    assert statuses["basic"] == 200
    assert statuses["digest"] == 200


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PATCH", "", {"active": False}),
        ("GET", "", None),
        ("PUT", "/password", {"password": NEW_PASSWORD}),
    ],
)
@pytest.mark.parametrize("exists", [True, False])
def test_only_site_administrators_manage_users_and_are_told_nothing_else(
    live_server: LiveServer,
    factories: Factories,
    project: Project,
    method: str,
    suffix: str,
    body: dict[str, object] | None,
    exists: bool,
) -> None:
    administrator = factories.logged_in(project, "administrator")  # of a project, not the site
    target = factories.user(project, "data_collector").email if exists else "nobody@example.org"
    response = requests.request(
        method,
        f"{live_server.url}/api/v1/users/{target}{suffix}",
        json=body,
        headers=administrator.headers,
        timeout=10,
    )
    assert response.status_code == 403
    assert response.json()["code"] == "auth.forbidden"


def test_a_new_password_locks_the_old_one_out_and_revokes_tokens(
    live_server: LiveServer, factories: Factories, admin: LoggedIn
) -> None:
    user = factories.user()
    token = factories.login(user).token
    response = requests.put(
        f"{live_server.url}/api/v1/users/{user.email}/password",
        json={"password": NEW_PASSWORD},
        headers=admin.headers,
        timeout=10,
    )
    assert response.status_code == 204
    current = requests.get(
        f"{live_server.url}/api/v1/users/current",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert current.status_code == 401

    def log_in(password: str) -> int:
        return requests.post(
            f"{live_server.url}/api/v1/sessions",
            json={"email": user.email, "password": password},
            timeout=10,
        ).status_code

    assert log_in(DEFAULT_PASSWORD) == 401
    assert log_in(NEW_PASSWORD) == 201


def test_removing_a_role_closes_the_project(
    app: Flask,
    live_server: LiveServer,
    factories: Factories,
    project: Project,
    simple_form: None,
) -> None:
    project_admin = factories.logged_in(project, "administrator")
    collector = factories.user(project, "data_collector")
    url = f"{live_server.url}/api/v1/projects/{project.id}/roles/{collector.email}"
    assert requests.delete(url, headers=project_admin.headers, timeout=10).status_code == 204
    again = requests.delete(url, headers=project_admin.headers, timeout=10)
    assert again.status_code == 404
    assert again.json()["code"] == "not_found"
    submitted = requests.post(
        f"{live_server.url}/v1/projects/{project.id}/submission",
        files=requests_files(simple_xml(new_instance_id())),
        headers={**OPENROSA, "Authorization": basic_header(collector.email, DEFAULT_PASSWORD)},
        timeout=10,
    )
    assert submitted.status_code == 403
    assert count(app, Submission) == 0
    # A coordinator may not take roles away.
    coordinator = factories.logged_in(project, "coordinator")
    other = factories.user(project, "viewer")
    refused = requests.delete(
        f"{live_server.url}/api/v1/projects/{project.id}/roles/{other.email}",
        headers=coordinator.headers,
        timeout=10,
    )
    assert refused.status_code == 403
    assert count(app, ProjectRole, ProjectRole.user_id == other.id) == 1


def test_offboarding_from_the_command_line(
    cli_env: dict[str, str],
    live_server: LiveServer,
    factories: Factories,
    project: Project,
) -> None:
    user = factories.user(project, "data_collector")
    token = factories.login(user).token
    bearer = {"Authorization": f"Bearer {token}"}

    disabled = run(cli_env, "user", "disable", user.email)
    assert disabled.exit_code == 0, disabled.output
    assert "revoked 1 tokens" in disabled.output
    me = f"{live_server.url}/api/v1/users/current"
    assert requests.get(me, headers=bearer, timeout=10).status_code == 401
    assert "disabled" in run(cli_env, "user", "list").output

    assert run(cli_env, "user", "enable", user.email).exit_code == 0
    changed = run(cli_env, "user", "set-password", user.email, stdin=NEW_PASSWORD + "\n")
    assert changed.exit_code == 0, changed.output
    login = requests.post(
        f"{live_server.url}/api/v1/sessions",
        json={"email": user.email, "password": NEW_PASSWORD},
        timeout=10,
    )
    assert login.status_code == 201

    removed = run(cli_env, "user", "remove-role", user.email, "--project", str(project.id))
    assert removed.exit_code == 0, removed.output
    assert "data_collector" in removed.output
    again = run(cli_env, "user", "remove-role", user.email, "--project", str(project.id))
    assert again.exit_code == 1
    unknown = run(cli_env, "user", "disable", "nobody@example.org")
    assert unknown.exit_code == 1


def test_an_expired_app_user_gets_403_like_a_revoked_one(
    app: Flask,
    live_server: LiveServer,
    factories: Factories,
    project: Project,
    simple_form: None,
) -> None:
    coordinator = factories.logged_in(project, "coordinator")
    created = requests.post(
        f"{live_server.url}/api/v1/projects/{project.id}/app-users",
        json={"name": "tablet 7", "expires_in_days": 30},
        headers=coordinator.headers,
        timeout=10,
    )
    assert created.status_code == 201
    body = created.json()
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    base = f"{live_server.url}/v1/key/{body['token']}/projects/{project.id}"
    assert requests.get(base + "/formList", headers=OPENROSA, timeout=10).status_code == 200

    with factories.session() as session, session.begin():
        session.execute(update(AppUser).values(expires_at=utcnow() - timedelta(seconds=1)))
    for response in (
        requests.get(base + "/formList", headers=OPENROSA, timeout=10),
        requests.post(
            base + "/submission",
            files=requests_files(simple_xml(new_instance_id())),
            headers=OPENROSA,
            timeout=10,
        ),
    ):
        assert response.status_code == 403
        assert b'nature="auth.app_user_token_invalid"' in response.content
        assert "WWW-Authenticate" not in response.headers
    assert count(app, Submission) == 0
    listed = requests.get(
        f"{live_server.url}/api/v1/projects/{project.id}/app-users",
        headers=coordinator.headers,
        timeout=10,
    ).json()
    assert listed[0]["active"] is False


def test_app_user_expiry_is_checked_on_input(
    cli_env: dict[str, str], live_server: LiveServer, factories: Factories, project: Project
) -> None:
    coordinator = factories.logged_in(project, "coordinator")
    url = f"{live_server.url}/api/v1/projects/{project.id}/app-users"
    for body in (
        {"name": "t", "expires_at": "2020-01-01T00:00:00Z"},
        {"name": "t", "expires_in_days": 0},
        {"name": "t", "expires_in_days": 3, "expires_at": "2099-01-01T00:00:00Z"},
    ):
        response = requests.post(url, json=body, headers=coordinator.headers, timeout=10)
        assert response.status_code == 400, body
        assert response.json()["code"] == "request.invalid"
    assert count(factories.app, AppUser) == 0

    made = run(cli_env, "app-user", "create", "tablet 9", "--expires-at", "2099-03-31")
    assert made.exit_code == 0, made.output
    assert "valid until 2099-03-31T00:00:00+00:00" in made.output
    both = run(
        cli_env, "app-user", "create", "t", "--expires-in", "3", "--expires-at", "2099-01-01"
    )
    assert both.exit_code == 2
