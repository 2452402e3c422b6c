"""The change feed's table.

``xid`` is the writing transaction's id on PostgreSQL (a database default, set by the
migration) and NULL on SQLite, where writers are serialised and row ids are already in commit
order.
"""

from __future__ import annotations

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
