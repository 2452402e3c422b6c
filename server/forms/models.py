"""Forms, their immutable published versions, and the media each version expects."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow


class FormState(enum.StrEnum):
    OPEN = "open"
    CLOSING = "closing"  # no new downloads; submissions still accepted
    CLOSED = "closed"  # neither


class Form(Base):
    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("project_id", "xml_form_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    xml_form_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default=FormState.OPEN.value)
    # The version string devices get now; older versions stay readable.
    current_version: Mapped[str] = mapped_column(String(200))
    # Personal fields of submissions older than this many days are removed by
    # ``fieldsync-server personal-data purge`` (None: kept until someone asks).
    personal_retention_days: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormVersion(Base):
    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    xml: Mapped[str] = mapped_column(Text)
    xml_md5: Mapped[str] = mapped_column(String(32))
    xml_sha256: Mapped[str] = mapped_column(String(64))
    source_filename: Mapped[str] = mapped_column(String(300), default="")
    source_blob_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), default=None)
    # What the form does to entity lists: {"dataset": "hazard_areas", "create": bool,
    # "update": bool, "properties": [...], "entities_version": "2024.1.0"} or {}.
    entity_spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The project key the version was published with (ODK managed encryption), or None.
    key_id: Mapped[int | None] = mapped_column(
        ForeignKey("project_keys.id", ondelete="SET NULL"), default=None
    )
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class FormAttachment(Base):
    """A media file a form version expects: an image, a CSV, or an entity list."""

    __tablename__ = "form_attachments"
    __table_args__ = (UniqueConstraint("form_version_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    form_version_id: Mapped[int] = mapped_column(
        ForeignKey("form_versions.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(32))  # image | audio | video | file | entity_list
    # The entity list served under this name (kind == entity_list); content is generated.
    entity_list: Mapped[str | None] = mapped_column(String(200), default=None)
    # Uploaded content; None until someone uploads it.
    blob_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), default=None)
