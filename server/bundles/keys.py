"""Laptop keys and project keys: registering a laptop's public keys at login, revoking them, and
the centre's own key pair per project (made on first use).

Raises :class:`server.errors.Problem` for what a caller sent wrong; never logs key material.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import errors
from server.accounts.models import ROLE_RANK, ProjectRole, Role, User
from server.accounts.service import role_in
from server.audit.service import record
from server.bundles.crypto import KeyPair, PublicKeys, b64, unb64
from server.bundles.models import LaptopKey, ProjectKey
from server.db import utcnow
from server.projects.service import get_project


@dataclass(frozen=True)
class KeyView:
    key_id: str
    email: str
    label: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_reason: str

    def to_json(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "email": self.email,
            "label": self.label,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoked_reason": self.revoked_reason or None,
        }


def _view(row: LaptopKey, email: str) -> KeyView:
    return KeyView(row.key_id, email, row.label, row.created_at, row.revoked_at, row.revoked_reason)


def register(session: Session, user: User, public: PublicKeys, label: str) -> tuple[KeyView, bool]:
    """Register ``public`` for ``user`` (idempotent); True when it was new.

    Raises:
        Problem: 409 ``key.taken`` when another user registered it.
    """
    row = session.scalars(select(LaptopKey).where(LaptopKey.key_id == public.key_id)).first()
    if row is not None:
        if row.user_id != user.id:
            raise errors.key_taken(public.key_id)
        if label and row.label != label:
            row.label = label
        return _view(row, user.email), False
    row = LaptopKey(
        key_id=public.key_id,
        user_id=user.id,
        label=label[:200],
        sign_public=b64(public.sign),
        enc_public=b64(public.enc),
        created_at=utcnow(),
        revoked_reason="",
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise errors.key_taken(public.key_id) from None
    record(
        session,
        "bundle_key.registered",
        user_id=user.id,
        target_type="bundle_key",
        target_id=public.key_id,
    )
    return _view(row, user.email), True


def parse_public(data: object) -> PublicKeys:
    """Raises: Problem 400 ``key.invalid``."""
    if not isinstance(data, dict):
        raise errors.key_invalid("send {key_id, sign_public, enc_public}")
    try:
        return PublicKeys.from_json(data)
    except ValueError as exc:
        raise errors.key_invalid(str(exc)) from None


def list_keys(session: Session, user: User | None = None) -> list[KeyView]:
    """Every key (``user`` None: a site administrator's view) or the user's own."""
    query = select(LaptopKey, User.email).join(User, User.id == LaptopKey.user_id)
    if user is not None:
        query = query.where(LaptopKey.user_id == user.id)
    return [_view(row, email) for row, email in session.execute(query.order_by(LaptopKey.id))]


def revoke(session: Session, key_id: str, by: User | None, reason: str) -> KeyView:
    """Revoke a key (a site administrator, the owner, or the server's command line: ``by``
    None). Bundles it signed are refused from now on.

    Raises:
        Problem: 404 ``key.not_found`` (also for a key the caller may not see).
    """
    row = session.scalars(select(LaptopKey).where(LaptopKey.key_id == key_id)).first()
    if row is None or (by is not None and not by.is_site_admin and row.user_id != by.id):
        raise errors.key_not_found(key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.revoked_reason = reason[:500]
        record(
            session,
            "bundle_key.revoked",
            user_id=by.id if by else None,
            target_type="bundle_key",
            target_id=key_id,
            reason=reason[:500],
        )
    owner = session.get(User, row.user_id)
    return _view(row, owner.email if owner else "")


def member_keys(session: Session, project_id: int) -> list[dict[str, object]]:
    """The laptop keys of the project's members (revoked ones flagged), for laptops that meet
    in the field and need to know whom to trust."""
    rows = session.scalars(
        select(LaptopKey)
        .join(ProjectRole, ProjectRole.user_id == LaptopKey.user_id)
        .where(ProjectRole.project_id == project_id)
        .order_by(LaptopKey.id)
    )
    return [
        {
            **PublicKeys(unb64(row.sign_public), unb64(row.enc_public)).to_json(),
            "label": row.label,
            "revoked": row.revoked_at is not None,
        }
        for row in rows
    ]


@dataclass(frozen=True)
class Sender:
    public: PublicKeys
    user: User
    label: str


def sender(session: Session, key_id: str) -> Sender:
    """The registered, unrevoked key ``key_id`` and its owner.

    Raises:
        Problem: 403 ``bundle.unknown_key``, 403 ``bundle.key_revoked``.
    """
    row = session.scalars(select(LaptopKey).where(LaptopKey.key_id == key_id)).first()
    if row is None:
        raise errors.bundle_unknown_key(key_id)
    if row.revoked_at is not None:
        raise errors.bundle_key_revoked(key_id, row.revoked_at.date().isoformat())
    user = session.get(User, row.user_id)
    if user is None:
        raise errors.bundle_unknown_key(key_id)
    return Sender(PublicKeys(unb64(row.sign_public), unb64(row.enc_public)), user, row.label)


def check_right(session: Session, user: User, project_id: int, minimum: Role) -> None:
    """Raises: Problem 403 ``bundle.sender_not_allowed``."""
    role = role_in(session, user, project_id) if user.is_active else None
    if role is None or ROLE_RANK[role] < ROLE_RANK[minimum]:
        raise errors.bundle_sender_not_allowed(user.email, project_id)


def project_keys(session: Session, project_id: int, secret: str) -> KeyPair:
    """The centre's key pair for a project, made (and committed with the caller) on first use.

    Raises:
        Problem: 404 when the project does not exist.
    """
    get_project(session, project_id)
    passphrase = secret.encode("utf-8")
    row = session.get(ProjectKey, project_id)
    if row is None:
        made = KeyPair.generate()
        sign_pem, enc_pem = made.to_pem(passphrase)
        try:
            with session.begin_nested():
                session.add(
                    ProjectKey(
                        project_id=project_id,
                        key_id=made.public.key_id,
                        sign_private=sign_pem.decode("ascii"),
                        enc_private=enc_pem.decode("ascii"),
                        created_at=utcnow(),
                    )
                )
                session.flush()
            return made
        except IntegrityError:
            # Another request made it first: use theirs.
            row = session.get(ProjectKey, project_id)
            assert row is not None
    return KeyPair.from_pem(
        row.sign_private.encode("ascii"), row.enc_private.encode("ascii"), passphrase
    )
