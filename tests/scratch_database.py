"""Creating and dropping a throw-away PostgreSQL database, for the test suite and the
benchmarks, on the server a URL names."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from server.settings import normalise_database_url


def create_scratch_database(server_url: str, prefix: str = "fieldsync_scratch") -> tuple[str, str]:
    """Create an empty database on the server of ``server_url``; returns (its URL, its name)."""
    base = make_url(normalise_database_url(server_url))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False), name


def drop_scratch_database(server_url: str, name: str) -> None:
    """Drop ``name`` on the server of ``server_url`` (any database URL on that server)."""
    base = make_url(normalise_database_url(server_url))
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
