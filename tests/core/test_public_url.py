"""``app-user create`` prints a Collect URL a tablet can use, or says plainly that it cannot
know it. Run in real processes, as a coordinator runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from flask import Flask

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(app: Flask, database_url: str, tmp_path: Path) -> dict[str, str]:
    # Depends on ``app`` so the database is emptied before and after.
    values = {
        "DATABASE_URL": database_url,
        "FIELDSYNC_DATA_DIR": str(tmp_path / "data"),
        "FIELDSYNC_LOG_LEVEL": "WARNING",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    assert cli(values, "init", "--no-forms").returncode == 0
    return values


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def collect_url(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_the_url_has_the_port_the_server_runs_on(env: dict[str, str]) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "run", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(300):
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        created = cli(env, "app-user", "create", "Team 1 tablet")
        url = collect_url(created)
        assert url.startswith(f"http://127.0.0.1:{port}/v1/key/")
        # The URL works: Collect's first request gets the form list.
        form_list = requests.get(
            f"{url}/formList", headers={"X-OpenRosa-Version": "1.0"}, timeout=10
        )
        assert form_list.status_code == 200
        notes = created.stderr.strip().splitlines()
        assert len(notes) == 2, created.stderr
        assert "is a guess" in notes[0] and "FIELDSYNC_PUBLIC_URL" in notes[0]
        assert f"port {port}" in notes[0]
        assert "tablets cannot reach it" in notes[1]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert "Traceback" not in (server.stderr.read() if server.stderr else "")
    # A stopped server is forgotten: the next guess does not name its port.
    after = cli(env, "app-user", "create", "Team 2 tablet")
    assert collect_url(after).startswith("http://127.0.0.1:5000/v1/key/")


def test_without_a_server_or_a_setting_the_guess_is_said_to_be_one(env: dict[str, str]) -> None:
    created = cli(env, "app-user", "create", "Team 3 tablet")
    assert collect_url(created).startswith("http://127.0.0.1:5000/v1/key/")
    notes = created.stderr.strip().splitlines()
    assert notes[0].startswith("note: http://127.0.0.1:5000 is a guess")
    assert "--base-url" in notes[0]
    assert notes[1].startswith("warning: http://127.0.0.1:5000 is this computer only")
    assert "run --host 0.0.0.0" in notes[1]


def test_a_configured_url_is_used_as_it_is(env: dict[str, str]) -> None:
    configured = {**env, "FIELDSYNC_PUBLIC_URL": "http://192.168.8.10:8080/"}
    created = cli(configured, "app-user", "create", "Team 4 tablet")
    assert collect_url(created).startswith("http://192.168.8.10:8080/v1/key/")
    assert created.stderr == ""
    given = cli(env, "app-user", "create", "Team 5 tablet", "--base-url", "http://localhost:9000")
    assert collect_url(given).startswith("http://localhost:9000/v1/key/")
    # Said, not guessed; but still a loopback address.
    assert "is a guess" not in given.stderr
    assert "tablets cannot reach it" in given.stderr
