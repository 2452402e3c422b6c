"""Tombstones of withdrawn consent: which survivor record may no longer be shared, since when,
and how it was withdrawn. Nothing personal is kept here, only the record's id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow


class ConsentWithdrawal(Base):
    __tablename__ = "consent_withdrawals"
    __table_args__ = (UniqueConstraint("project_id", "list_name", "entity_uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    list_name: Mapped[str] = mapped_column(String(200))
    entity_uuid: Mapped[str] = mapped_column(String(64))
    # "followup" (a follow-up answered no) or "api" (a caseworker recorded it).
    source: Mapped[str] = mapped_column(String(16))
    # The follow-up submission that withdrew it, when it came from a form.
    instance_id: Mapped[str | None] = mapped_column(String(200), default=None)
    actor_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    withdrawn_at: Mapped[datetime] = mapped_column(default=utcnow)
