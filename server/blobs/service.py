"""Registering stored content as a Blob row, and which project holds which blob, inside the
caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from server.blobs.models import Blob, ProjectBlob
from server.blobs.store import StoredBlob


def register(
    session: Session, stored: StoredBlob, content_type: str = "", *, project_id: int | None = None
) -> Blob:
    """Insert the blob row if it is new; concurrent inserts of the same content are harmless.
    With ``project_id``, the project holds the blob from now on (:func:`grant`)."""
    record(session, stored, content_type, project_id=project_id)
    return session.scalars(select(Blob).where(Blob.sha256 == stored.sha256)).one()


def record(
    session: Session, stored: StoredBlob, content_type: str = "", *, project_id: int | None = None
) -> None:
    """:func:`register` without reading the row back: two inserts, for the ingest path.

    The session's blob store (``session.info["blob_store"]``, set by the runtime) makes the
    content durable in the same transaction: nothing to do for the file store, the chunks in
    ``blob_contents`` for the database store."""
    values = {
        "sha256": stored.sha256,
        "md5": stored.md5,
        "size": stored.size,
        "content_type": content_type or "application/octet-stream",
    }
    session.execute(insert_for(session)(Blob).values(**values).on_conflict_do_nothing())
    store = session.info.get("blob_store")
    if store is not None:
        store.persist(session, stored.sha256)
    if project_id is not None:
        grant(session, project_id, stored.sha256)


def grant(session: Session, project_id: int, sha256: str) -> None:
    """Record that ``project_id`` holds the (registered) blob; harmless when it already does."""
    session.execute(
        insert_for(session)(ProjectBlob)
        .values(project_id=project_id, sha256=sha256)
        .on_conflict_do_nothing()
    )


def held_by(session: Session, project_id: int, hashes: Iterable[str]) -> dict[str, Blob]:
    """The registered blobs among ``hashes`` that ``project_id`` holds."""
    wanted = sorted(set(hashes))
    rows: dict[str, Blob] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        query = (
            select(Blob)
            .join(ProjectBlob, ProjectBlob.sha256 == Blob.sha256)
            .where(ProjectBlob.project_id == project_id, Blob.sha256.in_(part))
        )
        for blob in session.scalars(query):
            rows[blob.sha256] = blob
    return rows


def insert_for(session: Session):  # type: ignore[no-untyped-def]
    """The dialect's ``insert`` (with ``on_conflict_do_nothing``) for the session's database."""
    dialect = session.get_bind().dialect.name
    return pg_insert if dialect == "postgresql" else sqlite_insert
