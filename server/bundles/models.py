"""Bundle tables: laptops' public keys, each project's own key pair, and the bundles imported
(with the receipt they were answered with, so importing one again answers the same)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow


class LaptopKey(Base):
    """A laptop's public keys, registered by its coordinator's login; revocable."""

    __tablename__ = "bundle_laptop_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    sign_public: Mapped[str] = mapped_column(String(64))
    enc_public: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str] = mapped_column(String(500), default="")


class ProjectKey(Base):
    """The centre's key pair for a project: laptops encrypt bundles for it, and it signs the
    receipts. The private keys are PEM encrypted with the server's ``SECRET_KEY``."""

    __tablename__ = "bundle_project_keys"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    sign_private: Mapped[str] = mapped_column(Text)
    enc_private: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportedBundle(Base):
    """A bundle the centre applied, and its receipt's results."""

    __tablename__ = "bundle_imports"
    __table_args__ = (UniqueConstraint("project_id", "bundle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    bundle_id: Mapped[str] = mapped_column(String(64))
    sender_key_id: Mapped[str] = mapped_column(String(32), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    file_sha256: Mapped[str] = mapped_column(String(64))
    results: Mapped[list[Any]] = mapped_column(JSON)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class BundleResolution(Base):
    """A conflict resolution received in a bundle, kept so an overlapping bundle that carries
    it again is answered with the first result instead of a refusal."""

    __tablename__ = "bundle_resolutions"
    __table_args__ = (UniqueConstraint("project_id", "conflict_id", "body_sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    conflict_id: Mapped[str] = mapped_column(String(64))
    body_sha256: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
