"""Submissions and their versions.

A *submission* is one filled form as a person thinks of it; each edit made on a device adds a
*version* (new instanceID, ``deprecatedID`` naming the one it replaces). Versions are never
changed once stored. Uniqueness is enforced here, in the database, so two concurrent uploads of
the same instance cannot both be stored.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow


class ReviewState(enum.StrEnum):
    RECEIVED = "received"
    HAS_ISSUES = "has_issues"
    EDITED = "edited"
    APPROVED = "approved"
    REJECTED = "rejected"


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("form_id", "root_instance_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    # The first version's instanceID; the submission's stable name across edits.
    root_instance_id: Mapped[str] = mapped_column(String(200))
    current_instance_id: Mapped[str] = mapped_column(String(200))
    review_state: Mapped[str] = mapped_column(String(16), default=ReviewState.RECEIVED.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubmissionVersion(Base):
    __tablename__ = "submission_versions"
    __table_args__ = (
        UniqueConstraint("form_id", "instance_id"),
        # Only one edit can replace a given version: two devices editing the same copy race
        # here, and the loser is told its copy is out of date.
        UniqueConstraint("submission_id", "deprecated_id"),
        # The web UI's table sorted by device or submitter walks these in the page's order
        # (server.exports.table, migration 0016).
        Index("ix_submission_versions_form_device", "form_id", "device_id", "submission_id"),
        Index(
            "ix_submission_versions_form_app_user",
            "form_id",
            "submitter_app_user_id",
            "submission_id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"))
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"), index=True)
    instance_id: Mapped[str] = mapped_column(String(200))
    deprecated_id: Mapped[str | None] = mapped_column(String(200), default=None)
    instance_name: Mapped[str] = mapped_column(String(500), default="")
    xml: Mapped[str] = mapped_column(Text)
    xml_sha256: Mapped[str] = mapped_column(String(64))
    xml_size: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[str] = mapped_column(String(200), default="")
    submitter_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    submitter_app_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_users.id", ondelete="SET NULL"), default=None
    )
    # Where it came from: [{"hop": "device"|"hub"|"server", "id": ..., "received_at": ...}].
    provenance: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    is_current: Mapped[bool] = mapped_column(default=True)
    # ODK managed encryption (ADR 0016): ``xml`` is the manifest and the instance is the
    # ``.enc`` attachments. Its entity block waits, unread, until someone with the passphrase
    # decrypts the batch (``entities_pending``).
    encrypted: Mapped[bool] = mapped_column(default=False, server_default=false())
    entities_pending: Mapped[bool] = mapped_column(default=False, server_default=false())


class SubmissionAttachment(Base):
    """A file a version references; ``blob_sha256`` stays empty until the file arrives."""

    __tablename__ = "submission_attachments"
    __table_args__ = (UniqueConstraint("submission_version_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_version_id: Mapped[int] = mapped_column(
        ForeignKey("submission_versions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(300))
    blob_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), default=None)
    received_at: Mapped[datetime | None] = mapped_column(default=None)


class SubmissionComment(Base):
    """A reviewer's note on a submission (Central's submission comments); never changed."""

    __tablename__ = "submission_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    author_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
