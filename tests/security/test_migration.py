"""Migration 0005_security on a database with users from before: Digest off for everyone and
every stored HA1 deleted; devices keep working with no expiry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from server.db import make_engine
from server.migrate import upgrade
from tests.scratch_database import create_scratch_database, drop_scratch_database

pytestmark = pytest.mark.database


@pytest.fixture
def old_database(tmp_path: Path) -> Iterator[Engine]:
    configured = os.environ.get("FIELDSYNC_TEST_DATABASE_URL", "").strip()
    if configured and not configured.startswith("sqlite"):
        url, name = create_scratch_database(configured, "fieldsync_migration")
        engine = make_engine(url)
        yield engine
        engine.dispose()
        drop_scratch_database(url, name)
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    yield engine
    engine.dispose()


def test_existing_users_lose_digest_and_their_ha1(old_database: Engine) -> None:
    upgrade(old_database, "0003_entities")
    with old_database.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (email, display_name, password_hash, digest_ha1, "
                "is_site_admin, is_active, created_at) VALUES ('old@example.org', 'old', "
                "'scrypt:x', '0123456789abcdef0123456789abcdef', false, true, "
                "CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO projects (name, description, created_at, archived) "
                "VALUES ('P', '', CURRENT_TIMESTAMP, false)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO app_users (project_id, display_name, token_hash, created_at) "
                "SELECT id, 'tablet', 'hash', CURRENT_TIMESTAMP FROM projects"
            )
        )
    upgrade(old_database)
    with old_database.connect() as conn:
        user = conn.execute(text("SELECT digest_enabled, digest_ha1 FROM users")).one()
        expiry = conn.execute(text("SELECT expires_at FROM app_users")).scalar_one()
    assert (bool(user[0]), user[1]) == (False, None)
    assert expiry is None
