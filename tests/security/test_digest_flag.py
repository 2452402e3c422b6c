"""Finding 4 (the Digest part): HTTP Digest only for users whose flag is on; their HA1 (a
password equivalent) is stored only for them."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import select

from server.accounts.models import User
from server.cli import main
from server.projects.models import Project
from tests.conftest import LiveServer
from tests.factories import DEFAULT_PASSWORD, Factories, LoggedIn
from tests.openrosa.helpers import OPENROSA
from tests.security.helpers import basic_header, challenge, digest_header


@pytest.fixture
def cli_env(app: Flask, database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "FIELDSYNC_DATA_DIR": str(tmp_path / "cli-data"),
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


def _stored(factories: Factories, email: str) -> tuple[bool, str | None]:
    with factories.session() as session:
        row = session.execute(
            select(User.digest_enabled, User.digest_ha1).where(User.email == email)
        ).one()
    return bool(row[0]), row[1]


def _digest(server: LiveServer, project: Project, email: str) -> int:
    url = f"{server.url}/v1/projects/{project.id}/formList"
    header = digest_header(challenge(url, "GET"), "GET", url, email, DEFAULT_PASSWORD)
    return requests.get(url, headers={**OPENROSA, "Authorization": header}, timeout=10).status_code


def _basic(server: LiveServer, project: Project, email: str) -> int:
    return requests.get(
        f"{server.url}/v1/projects/{project.id}/formList",
        headers={**OPENROSA, "Authorization": basic_header(email, DEFAULT_PASSWORD)},
        timeout=10,
    ).status_code


def test_digest_is_off_by_default_and_no_ha1_is_kept(
    live_server: LiveServer, factories: Factories, project: Project, simple_form: None
) -> None:
    user = factories.user(project, "data_collector")
    assert _stored(factories, user.email) == (False, None)
    assert _digest(live_server, project, user.email) == 401
    assert _basic(live_server, project, user.email) == 200


def test_turning_digest_on_keeps_ha1_from_the_next_password_login_and_off_drops_it(
    live_server: LiveServer, factories: Factories, project: Project, simple_form: None
) -> None:
    admin: LoggedIn = factories.login(factories.user(site_admin=True))
    user = factories.user(project, "data_collector")
    url = f"{live_server.url}/api/v1/users/{user.email}"
    on = requests.patch(url, json={"digest": True}, headers=admin.headers, timeout=10)
    assert on.status_code == 200
    assert on.json()["digest"] is True
    assert _stored(factories, user.email) == (True, None)
    assert _digest(live_server, project, user.email) == 401  # no HA1 without the password yet

    assert _basic(live_server, project, user.email) == 200
    enabled, ha1 = _stored(factories, user.email)
    assert enabled and ha1 is not None and len(ha1) == 32
    assert _digest(live_server, project, user.email) == 200

    off = requests.patch(url, json={"digest": False}, headers=admin.headers, timeout=10)
    assert off.status_code == 200
    assert _stored(factories, user.email) == (False, None)
    assert _digest(live_server, project, user.email) == 401


def test_the_command_line_sets_the_flag(
    cli_env: dict[str, str],
    live_server: LiveServer,
    factories: Factories,
    project: Project,
    simple_form: None,
) -> None:
    made = run(
        cli_env,
        "user",
        "create",
        "collector@example.org",
        "--digest",
        "--role",
        "data_collector",
        "--project",
        str(project.id),
        stdin=DEFAULT_PASSWORD + "\n",
    )
    assert made.exit_code == 0, made.output
    assert _stored(factories, "collector@example.org")[1] is not None
    assert _digest(live_server, project, "collector@example.org") == 200
    listed = run(cli_env, "user", "list")
    assert "collector@example.org\tdata_collector in" in listed.output
    assert " digest" in listed.output

    off = run(cli_env, "user", "set-digest", "collector@example.org", "off")
    assert off.exit_code == 0, off.output
    assert _stored(factories, "collector@example.org") == (False, None)
    assert _digest(live_server, project, "collector@example.org") == 401

    on = run(cli_env, "user", "set-digest", "collector@example.org", "on")
    assert on.exit_code == 0
    assert "takes effect at their next password login" in on.output
    assert run(cli_env, "user", "set-digest", "collector@example.org", "maybe").exit_code == 2
