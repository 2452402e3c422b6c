"""``fieldsync-server`` commands, run the way an operator runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient

from server.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def cli_env(app: Flask, database_url: str, tmp_path: Path) -> dict[str, str]:
    # Depends on ``app`` so the database is emptied before and after.
    return {
        "DATABASE_URL": database_url,
        "FIELDSYNC_DATA_DIR": str(tmp_path / "cli-data"),
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=stdin, catch_exceptions=False)


def test_init_creates_project_and_admin_once(cli_env: dict[str, str], client: FlaskClient) -> None:
    first = run(cli_env, "init", "--no-forms", "--admin-email", "im.officer@example.org")
    assert first.exit_code == 0, first.output
    assert "created project 1" in first.output
    password_line = [line for line in first.output.splitlines() if line.startswith("password")]
    assert len(password_line) == 1
    password = password_line[0].rsplit(" ", 1)[1]

    login = client.post(
        "/api/v1/sessions", json={"email": "im.officer@example.org", "password": password}
    )
    assert login.status_code == 201

    second = run(cli_env, "init", "--no-forms")
    assert second.exit_code == 0
    assert "password" not in second.output
    assert "created project" not in second.output


def test_user_create_reads_password_from_stdin(
    cli_env: dict[str, str], client: FlaskClient
) -> None:
    run(cli_env, "init", "--no-forms")
    result = run(
        cli_env,
        "user",
        "create",
        "deminer.lead@example.org",
        "--role",
        "coordinator",
        stdin="a long enough secret\n",
    )
    assert result.exit_code == 0, result.output
    assert "coordinator in project 1" in result.output
    login = client.post(
        "/api/v1/sessions",
        json={"email": "deminer.lead@example.org", "password": "a long enough secret"},
    )
    assert login.status_code == 201
    projects = client.get(
        "/api/v1/projects", headers={"Authorization": f"Bearer {login.json['token']}"}
    ).json
    assert projects[0]["role"] == "coordinator"

    duplicate = run(
        cli_env, "user", "create", "deminer.lead@example.org", stdin="a long enough secret\n"
    )
    assert duplicate.exit_code == 1
    assert "already registered" in duplicate.output

    short = run(cli_env, "user", "create", "x@example.org", stdin="short\n")
    assert short.exit_code == 1
    assert "at least 10 characters" in short.output


def test_app_user_create_prints_collect_url_last(cli_env: dict[str, str]) -> None:
    run(cli_env, "init", "--no-forms")
    result = run(
        cli_env, "app-user", "create", "Team 3 tablet", "--base-url", "http://10.0.0.5:5000"
    )
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("http://10.0.0.5:5000/v1/key/")
    assert last.endswith("/projects/1")

    listed = run(cli_env, "app-user", "list")
    assert "Team 3 tablet\tactive" in listed.output
    app_user_id = listed.output.split("\t", 1)[0]
    assert run(cli_env, "app-user", "revoke", app_user_id).exit_code == 0
    assert "Team 3 tablet\trevoked" in run(cli_env, "app-user", "list").output


def test_db_upgrade_and_forms_publish(cli_env: dict[str, str]) -> None:
    result = run(cli_env, "db", "upgrade")
    assert result.exit_code == 0
    assert "database at revision" in result.output
    run(cli_env, "init", "--no-forms")
    published = run(cli_env, "forms", "publish", str(FIXTURES / "simple_form.xml"))
    assert published.exit_code == 0, published.output
    assert "form simple version 1: published" in published.output
    again = run(cli_env, "forms", "publish", str(FIXTURES / "simple_form.xml"))
    assert "form simple version 1: unchanged" in again.output
    listed = run(cli_env, "forms", "list")
    assert "simple\t1\topen" in listed.output
    assert run(cli_env, "forms", "state", "simple", "closing").exit_code == 0
    assert "simple\t1\tclosing" in run(cli_env, "forms", "list").output


def test_commands_before_init_say_what_to_do(cli_env: dict[str, str]) -> None:
    result = run(cli_env, "app-user", "create", "x")
    assert result.exit_code == 1
    assert "run 'fieldsync-server init'" in result.output


@pytest.mark.parametrize(
    ("database_url", "exit_code", "message"),
    [
        ("mysql://root@localhost/x", 3, "fieldsync runs on PostgreSQL"),
        ("::::", 3, "DATABASE_URL is malformed"),
        ("postgresql://nobody@127.0.0.1:1/nothing", 4, "cannot reach the database"),
    ],
)
def test_bad_database_url_is_one_line_and_an_exit_code(
    tmp_path: Path, database_url: str, exit_code: int, message: str
) -> None:
    # A real process: what an operator sees in the terminal, stack traces included if any.
    env = {
        "DATABASE_URL": database_url,
        "FIELDSYNC_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "server.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == exit_code, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
