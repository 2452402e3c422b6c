"""Registering stored content as a Blob row, inside the caller's transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from server.blobs.models import Blob
from server.blobs.store import StoredBlob


def register(session: Session, stored: StoredBlob, content_type: str = "") -> Blob:
    """Insert the blob row if it is new; concurrent inserts of the same content are harmless."""
    values = {
        "sha256": stored.sha256,
        "md5": stored.md5,
        "size": stored.size,
        "content_type": content_type or "application/octet-stream",
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(Blob).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))
    blob = session.scalars(select(Blob).where(Blob.sha256 == stored.sha256)).one()
    return blob
