"""Project rows."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived: Mapped[bool] = mapped_column(default=False)


class KeyScope(enum.StrEnum):
    """Which of the project's forms are published encrypted with its key."""

    SURVIVOR_FORMS = "survivor_forms"  # forms that create or update the survivors list
    ALL_FORMS = "all_forms"  # every form, as ODK Central's project managed encryption


class ProjectKey(Base):
    """The project's RSA key pair for ODK managed encryption (ADR 0016). The private key is
    stored only sealed under the passphrase, which is never stored."""

    __tablename__ = "project_keys"

    id: Mapped[int] = mapped_column(primary_key=True)  # Central's keyId
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), unique=True
    )
    public_key: Mapped[str] = mapped_column(Text)  # base64 SubjectPublicKeyInfo
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    hint: Mapped[str] = mapped_column(String(500), default="")
    scope: Mapped[str] = mapped_column(String(32), default=KeyScope.ALL_FORMS.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
