"""Test fixtures: a real database (SQLite by default, PostgreSQL when
``FIELDSYNC_TEST_DATABASE_URL`` names one), built by running the migrations, emptied between tests.

On PostgreSQL a fresh database is created for the run and dropped afterwards, so the suite never
touches data it did not make.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.routing import Rule

from server import create_app
from server.db import Base, make_engine
from server.migrate import upgrade
from server.settings import BUNDLED_FORMS_DIR, Settings
from tests.factories import Factories
from tests.scratch_database import create_scratch_database, drop_scratch_database

# One browser for the whole run, defined here only: a session fixture imported into two test
# modules would be two, and Playwright's sync API cannot run two at once.
from tests.ui.browser import chromium as chromium


def _one_url_builder_per_rule() -> None:
    """Every test builds its own app, and werkzeug compiles two URL builders for each of the
    app's ~190 rules with ``ast`` and ``compile`` each time: about 0.17 s an app, a third of a
    typical test's set-up. A builder depends only on the rule's text, its parts and defaults
    (it takes the rule as its first argument), so the run compiles each one once. Production
    builds one app per process and is not touched."""
    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None:  # another werkzeug: compile as it does
        return
    built: dict[tuple[Any, ...], Any] = {}

    def once(self: Rule, append_unknown: bool = True) -> Any:
        key = (
            self.rule,
            tuple(self._trace),
            repr(sorted((self.defaults or {}).items())),
            append_unknown,
        )
        if key not in built:
            built[key] = compile_builder(self, append_unknown)
        return built[key]

    Rule._compile_builder = once  # type: ignore[method-assign]


_one_url_builder_per_rule()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``FIELDSYNC_TEST_DATABASE_ONLY=1``, run only the tests that use the test database
    (the ``database_url`` fixture, or the ``database`` mark): CI's run on PostgreSQL, after the
    run on SQLite has run every test once. Without it every test runs, on either database."""
    if os.environ.get("FIELDSYNC_TEST_DATABASE_ONLY", "").strip() != "1":
        return
    kept, deselected = [], []
    for item in items:
        uses = "database_url" in getattr(item, "fixturenames", ()) or item.get_closest_marker(
            "database"
        )
        (kept if uses else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for the whole run."""
    configured = os.environ.get("FIELDSYNC_TEST_DATABASE_URL", "").strip()
    if configured and not configured.startswith("sqlite"):
        url, name = create_scratch_database(configured, "fieldsync_test")
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        drop_scratch_database(url, name)
        return
    path = tmp_path_factory.mktemp("db") / "fieldsync-test.sqlite3"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url


def empty_database(app: Flask) -> None:
    """Delete every row, children before parents, and start the sequences again.

    On PostgreSQL this is one round trip of ``DELETE`` statements: ``TRUNCATE`` of every table
    took about 0.2 s however little a test wrote, twice per test, and a test writes a few rows.
    """
    engine = app.extensions["fieldsync"].engine
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            statements = [f'DELETE FROM "{t}"' for t in tables]  # noqa: S608 (table names are ours)
            statements.append(
                "SELECT setval(c.oid, s.seqstart, false) FROM pg_class c "
                "JOIN pg_sequence s ON s.seqrelid = c.oid "
                "WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace"
            )
            conn.exec_driver_sql("; ".join(statements))
        else:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))  # noqa: S608 (table names are ours)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key",
        environment="test",
        log_level="WARNING",
        max_upload_bytes=20 * 1024 * 1024,
        # FIELDSYNC_TEST_BLOB_STORE=database runs the suite on the database blob store.
        blob_store=os.environ.get("FIELDSYNC_TEST_BLOB_STORE", "file"),
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings)
    application.config["TESTING"] = True
    empty_database(application)
    yield application
    empty_database(application)
    application.extensions["fieldsync"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """A session on the test database; commit to make rows visible to the app."""
    session = app.extensions["fieldsync"].session_factory()
    yield session
    session.close()


@pytest.fixture
def factories(app: Flask) -> Factories:
    return Factories(app)


@pytest.fixture(scope="session")
def bundled_forms_dir() -> Path:
    return BUNDLED_FORMS_DIR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The app served by waitress on a loopback port, in a thread of the test process."""

    def __init__(self, app: Flask) -> None:
        from waitress.server import create_server

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = create_server(
            app, host="127.0.0.1", port=self.port, threads=8, asyncore_loop_timeout=0.1
        )
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:
            # Closing the listening socket under the poll loop ends it this way.
            if not self._stopping.is_set():
                raise

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopping.is_set():
            return  # stopped already (a test took the server away on purpose)
        self._stopping.set()
        self._server.close()
        # Keep-alive connections keep waitress's loop running; close them too.
        for channel in list(self._server._map.values()):
            channel.close()
        self._server.task_dispatcher.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    yield server
    server.stop()
