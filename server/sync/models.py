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
    """A blob upload in progress, one per project, uploader and content: nobody else can see,
    resume or reset it. The bytes so far live in the file :func:`partial_name` names.

    ``upload_offset`` is the authority: the file may hold unconfirmed bytes past it after a
    crash, which the next chunk overwrites.
    """

    __tablename__ = "sync_blob_uploads"
    __table_args__ = (UniqueConstraint("project_id", "user_id", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    upload_length: Mapped[int] = mapped_column(BigInteger)
    upload_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    @property
    def partial_name(self) -> str:
        return partial_name(self.project_id, self.user_id, self.sha256)


def partial_name(project_id: int, user_id: int, sha256: str) -> str:
    """The file name of an upload's bytes so far, in ``<data dir>/uploads/``."""
    return f"{project_id}-{user_id}-{sha256}.part"


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
