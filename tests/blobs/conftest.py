"""The database blob store on the test database (SQLite or PostgreSQL), and a second server
host: its own data directory (so its own blob cache), the same database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask

from server import create_app
from server.settings import Settings
from tests.conftest import LiveServer


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "host-a",
        database_url=database_url,
        secret_key="test-secret-key",
        environment="test",
        log_level="WARNING",
        max_upload_bytes=20 * 1024 * 1024,
        blob_store="database",
    )


@pytest.fixture
def host_b(app: Flask, settings: Settings, tmp_path: Path) -> Iterator[Flask]:
    """Another server on the same database with a data directory of its own."""
    other = create_app(replace(settings, data_dir=tmp_path / "host-b"))
    other.config["TESTING"] = True
    yield other
    other.extensions["fieldsync"].engine.dispose()


@pytest.fixture
def live_b(host_b: Flask) -> Iterator[LiveServer]:
    server = LiveServer(host_b).start()
    yield server
    server.stop()
