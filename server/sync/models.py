"""Sync tables: resumable blob uploads and idempotency keys for pushes (the change feed's table
is in :mod:`server.feed.models`)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow


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
