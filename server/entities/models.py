"""Entity lists, entities, their immutable versions, conflicts, and the inbox of entity blocks.

Every entity block a submission carries lands in the inbox first, whatever happens to it next
(applied, held until its predecessor arrives, awaiting approval, or refused with a reason), so
nothing a device sent is ever dropped. Every arrival that is applied becomes an entity version;
versions are never changed.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow


class EntityList(Base):
    __tablename__ = "entity_lists"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # Properties in the order forms declared them; the CSV's columns after name/label/__version.
    properties: Mapped[list[str]] = mapped_column(JSON, default=list)
    # When true, an update is applied only once its submission is approved by a data verifier.
    approval_required: Mapped[bool] = mapped_column(default=False)
    # Properties saved from personal fields of the forms (``pii_`` names, ``fieldsync:personal``
    # binds): shown only to callers who may read personal data (server.personal).
    personal_properties: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Entity(Base):
    __tablename__ = "entities"
    __table_args__ = (UniqueConstraint("list_id", "uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(
        ForeignKey("entity_lists.id", ondelete="CASCADE"), index=True
    )
    uuid: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(Text, default="")
    # The merged current state (derived from all applied updates); what devices download.
    values: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    # None, "soft" (visible, no review needed) or "hard" (waiting for review).
    conflict: Mapped[str | None] = mapped_column(String(8), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the entity was deleted through Central's API: it leaves the list devices
    # download, the listings and OData; its versions and conflicts are kept.
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class EntityVersion(Base):
    __tablename__ = "entity_versions"
    __table_args__ = (
        UniqueConstraint("entity_id", "version"),
        # One update (a submission version's entity block, an API change) yields one version,
        # however often it is processed.
        UniqueConstraint("entity_id", "update_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(
        ForeignKey("entities.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    base_version: Mapped[int | None] = mapped_column(Integer, default=None)
    update_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # create | update | reopen | resolution
    # The update as the merge core sees it: base_ids, values, date_of_information, source...
    update: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The merged result after this version: {"label": ..., "values": {...}}.
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    conflicts_opened: Mapped[list[str]] = mapped_column(JSON, default=list)
    conflicts_closed: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_submission_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("submission_versions.id", ondelete="SET NULL"), default=None
    )
    source_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    forced: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConflictStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    # Closed without a resolution: a later update that had seen the conflicting values
    # superseded them.
    SUPERSEDED = "superseded"


class EntityConflict(Base):
    __tablename__ = "entity_conflicts"
    __table_args__ = (UniqueConstraint("entity_id", "conflict_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[int] = mapped_column(
        ForeignKey("entities.id", ondelete="CASCADE"), index=True
    )
    # The merge core's deterministic id: the same disagreement gets the same key whatever
    # the order its updates arrived in.
    conflict_key: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(24))
    property_name: Mapped[str | None] = mapped_column(String(200), default=None)
    requires_review: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(16), default=ConflictStatus.OPEN.value, index=True)
    # Base, provisional value, and every competing value with who sent it and when.
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_in_version: Mapped[int] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_in_version: Mapped[int | None] = mapped_column(Integer, default=None)
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class InboxStatus(enum.StrEnum):
    APPLIED = "applied"
    HELD = "held"  # waiting for its predecessor (offline chain) or its entity
    AWAITING_APPROVAL = "awaiting_approval"
    REJECTED = "rejected"  # refused with a reason; kept for a person to read


class EntityInbox(Base):
    """Every entity block received, with what became of it."""

    __tablename__ = "entity_inbox"
    __table_args__ = (UniqueConstraint("submission_version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    list_name: Mapped[str] = mapped_column(String(200))
    entity_uuid: Mapped[str] = mapped_column(String(64), index=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    submission_version_id: Mapped[int] = mapped_column(
        ForeignKey("submission_versions.id", ondelete="CASCADE")
    )
    update_id: Mapped[str] = mapped_column(String(200))
    # action, label, values, base_version, trunk_version, branch_id, date_of_information...
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(24), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    entity_version: Mapped[int | None] = mapped_column(Integer, default=None)
