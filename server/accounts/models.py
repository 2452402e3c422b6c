"""Users, project roles, API session tokens and app users.

Secrets are never stored in the clear: session and device tokens are kept as SHA-256 hashes, so
a copy of the database does not hand out working tokens.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow


class Role(enum.StrEnum):
    """What a user may do in one project, from most to least powerful."""

    ADMINISTRATOR = "administrator"
    COORDINATOR = "coordinator"  # coordinator / data verifier: reviews, resolves conflicts
    DATA_COLLECTOR = "data_collector"
    VIEWER = "viewer"


ROLE_RANK = {
    Role.VIEWER: 0,
    Role.DATA_COLLECTOR: 1,
    Role.COORDINATOR: 2,
    Role.ADMINISTRATOR: 3,
}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    # HA1 = MD5(email:realm:password) for HTTP Digest, which ODK Collect offers even over plain
    # HTTP on a field hub's Wi-Fi. A password equivalent, so it is kept only for users whose
    # ``digest_enabled`` flag is on (off by default). See docs/adr/0002-digest-auth.md.
    digest_ha1: Mapped[str | None] = mapped_column(String(64), default=None)
    digest_enabled: Mapped[bool] = mapped_column(default=False)
    is_site_admin: Mapped[bool] = mapped_column(default=False)
    # False once the user is disabled (offboarded): every way of logging in refuses them.
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectRole(Base):
    __tablename__ = "project_roles"
    __table_args__ = (UniqueConstraint("user_id", "project_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(32))
    # Survivor caseworker: may read personal data (names, phones, home locations, health) in
    # this project; every read is audited (docs/adr/0015-personal-data-access.md).
    personal_data: Mapped[bool] = mapped_column(default=False)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    """A bearer token handed out by ``POST /api/v1/sessions``."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AppUser(Base):
    """A device (tablet) identity: a token that travels in the server URL Collect is given."""

    __tablename__ = "app_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    display_name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # After this moment the device's token is refused like a revoked one (None: no expiry).
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


class AppUserForm(Base):
    """A form assigned to an app user (Central's form assignment). A form assigned to nobody
    is given to every device of its project; an assigned form, and a form whose entity list is
    kept for assigned devices, only to the devices assigned to it."""

    __tablename__ = "app_user_forms"
    __table_args__ = (UniqueConstraint("app_user_id", "form_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    app_user_id: Mapped[int] = mapped_column(
        ForeignKey("app_users.id", ondelete="CASCADE"), index=True
    )
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class DigestNonce(Base):
    """Use of one Digest nonce, shared by every server process: the highest ``nc`` seen, and
    whether it has authorised a write (then it is spent). Rows outlive the nonce's validity
    only until the next sweep."""

    __tablename__ = "digest_nonces"

    nonce: Mapped[str] = mapped_column(String(80), primary_key=True)
    highest_nc: Mapped[int]
    spent: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginAttempts(Base):
    """Password attempts counted in a fixed window, per account or per address, shared by every
    server process. ``key`` is a SHA-256 of ``scope:value`` so typed emails are not kept."""

    __tablename__ = "login_attempts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int]
    window_ends_at: Mapped[datetime] = mapped_column(index=True)
