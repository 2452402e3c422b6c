"""Sync tables: the change feed, resumable blob uploads, and idempotency keys for pushes.

The change feed's ``xid`` is the writing transaction's id on PostgreSQL (a database default,
set by the migration) and NULL on SQLite, where writers are serialised and row ids are already
in commit order.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow

# pg_current_xact_id() is xid8 (epoch-extended, 64 bits, never wraps); as bigint it compares
# and indexes like any integer, and the same column type works on SQLite.
XID_DEFAULT_SQL = "(pg_current_xact_id()::text::bigint)"


class SyncChange(Base):
    """One entry of a project's change feed, written in the same transaction as the change."""

    __tablename__ = "sync_changes"
    __table_args__ = (
        Index("ix_sync_changes_project_id_xid_id", "project_id", "xid", "id"),
        # Ids are never reused, even after the newest rows are deleted, so a cursor can never
        # point past a row written later.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Filled by the database on PostgreSQL; the ORM must not send NULL for it.
    xid: Mapped[int | None] = mapped_column(BigInteger, server_default=FetchedValue())


event.listen(
    SyncChange.__table__,
    "after_create",
    DDL(f"ALTER TABLE sync_changes ALTER COLUMN xid SET DEFAULT {XID_DEFAULT_SQL}").execute_if(
        dialect="postgresql"
    ),
)


class BlobUpload(Base):
    """A blob upload in progress; the bytes so far live in ``<data dir>/uploads/<sha256>.part``.

    ``upload_offset`` is the authority: the file may hold unconfirmed bytes past it after a
    crash, which the next chunk overwrites.
    """

    __tablename__ = "sync_blob_uploads"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    upload_length: Mapped[int] = mapped_column(BigInteger)
    upload_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class IdempotencyStatus(enum.StrEnum):
    IN_FLIGHT = "in_flight"
    DONE = "done"


class IdempotencyKey(Base):
    """A push request's key, claimed by inserting this row before any work is done."""

    __tablename__ = "sync_idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=IdempotencyStatus.IN_FLIGHT.value)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # When the current holder claimed the key; a claim older than the lease may be taken over
    # (the holder died mid-request).
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
