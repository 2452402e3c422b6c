"""Fixtures for the sync client's tests: a private FIELDSYNC_HOME, an open store, and running
the real ``fieldsync`` command in a subprocess.

Tests marked ``slow`` run only when asked for with ``-m slow``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync_client.store import Store, open_store

PROJECT_ROOT = Path(__file__).resolve().parents[2]


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Only this directory's slow tests: pytest hands every conftest the whole session's items.
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if "slow" in item.keywords and HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "fieldsync-home"


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    opened = open_store(home)
    yield opened
    opened.close()


class Fieldsync:
    """Runs ``python -m sync_client.cli`` with a private FIELDSYNC_HOME."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.env = {
            **os.environ,
            "FIELDSYNC_HOME": str(home),
            "FIELDSYNC_RETRY_BASE": "0.05",
            "FIELDSYNC_MAX_WAIT": "2",
            "PYTHONPATH": str(PROJECT_ROOT),
            **(env or {}),
        }

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "sync_client.cli", *args]

    def __call__(
        self, *args: str, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            input=input,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            cwd=PROJECT_ROOT,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=PROJECT_ROOT,
        )


@pytest.fixture
def fieldsync(home: Path) -> Fieldsync:
    return Fieldsync(home)
