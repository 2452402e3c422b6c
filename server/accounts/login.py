"""Logging in with a password or a Digest response, throttled and audited.

Each login runs in transactions of its own (not the request's): the attempt is counted and
committed before the password is checked, so a refused request cannot roll its count back, and
the slow password hash runs outside any database lock (SQLite has one for the whole file).
An unknown email costs the same work as a known one: a dummy hash is checked.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server import errors
from server.accounts import nonces, throttle
from server.accounts.models import User
from server.accounts.security import digest_ha1, hash_password, verify_password
from server.accounts.service import normalise_email
from server.accounts.throttle import DEFAULT_POLICY, ThrottlePolicy, Verdict
from server.audit import service as audit
from server.db import transaction, utcnow


@dataclass(frozen=True)
class _Stored:
    user_id: int
    password_hash: str
    digest_ha1: str | None
    digest_enabled: bool
    active: bool


@functools.cache
def _dummy_hash() -> str:
    # Checked for unknown emails, so that they take as long as known ones.
    return hash_password(secrets.token_urlsafe(16))


_DUMMY_HA1 = "0" * 32


def password_login(
    factory: sessionmaker[Session],
    email: str,
    password: str,
    address: str,
    *,
    scheme: str,
    now: datetime | None = None,
    policy: ThrottlePolicy = DEFAULT_POLICY,
) -> int:
    """Check an email and password (``POST /api/v1/sessions``, HTTP Basic); the user's id.

    Raises:
        Problem: 429 ``auth.too_many_attempts`` (with ``Retry-After``) when the account or the
            address is over its limit, before the password is looked at; 401
            ``auth.bad_credentials`` for an unknown email, a wrong password or a disabled user
            (one answer for all three).
    """
    now = now or utcnow()
    verdict, stored = _count(factory, email, address, scheme, now, policy)
    ok = verify_password(stored.password_hash if stored else _dummy_hash(), password)
    ok = ok and stored is not None and stored.active
    with transaction(factory) as session:
        if ok and stored is not None:
            throttle.attempt_succeeded(session, verdict)
            if stored.digest_enabled and not stored.digest_ha1:
                # Digest was turned on without the password at hand: keep HA1 now.
                user = session.get(User, stored.user_id)
                if user is not None:
                    user.digest_ha1 = digest_ha1(user.email, password)
        else:
            _audit_failure(session, stored, scheme, address)
    if not ok or stored is None:
        raise errors.bad_credentials()
    return stored.user_id


@dataclass(frozen=True)
class DigestAttempt:
    """One Digest ``Authorization`` header, checked against the server's nonce."""

    username: str
    address: str
    nonce: str
    nc: int
    write: bool  # the request writes (POST): the nonce is spent by it
    nonce_expires_at: datetime
    nonce_expired: bool
    response_matches: Callable[[str], bool]  # given HA1, whether the client's response is right


def digest_login(
    factory: sessionmaker[Session],
    attempt: DigestAttempt,
    *,
    now: datetime | None = None,
    policy: ThrottlePolicy = DEFAULT_POLICY,
) -> int:
    """Check a Digest response; the user's id. Only users with Digest turned on can pass.

    Raises:
        Problem: 429 ``auth.too_many_attempts`` as :func:`password_login`.
        ChallengeRequired: 401 for a wrong response (counted as a guess), and 401 with
            ``stale=true`` for a right one on an expired, replayed or spent nonce (not counted).
    """
    now = now or utcnow()
    verdict, stored = _count(factory, attempt.username, attempt.address, "digest", now, policy)
    usable = stored is not None and stored.active and stored.digest_enabled and stored.digest_ha1
    ha1 = stored.digest_ha1 if usable and stored is not None else None
    right = attempt.response_matches(ha1 or _DUMMY_HA1) and ha1 is not None
    fresh = False
    with transaction(factory) as session:
        if not right:
            _audit_failure(session, stored, "digest", attempt.address)
        elif attempt.nonce_expired:
            throttle.give_back(session, verdict.keys)
        else:
            fresh = nonces.use_nonce(
                session,
                attempt.nonce,
                attempt.nc,
                write=attempt.write,
                expires_at=attempt.nonce_expires_at,
                now=now,
            )
            if fresh:
                throttle.attempt_succeeded(session, verdict)
            else:
                throttle.give_back(session, verdict.keys)
    if not right or stored is None:
        raise errors.ChallengeRequired("wrong email or password")
    if not fresh:
        # Right password, old or used nonce: Collect retries with a fresh one by itself; a
        # replayed header cannot answer the new challenge.
        raise errors.ChallengeRequired("the login expired; retrying", stale=True)
    return stored.user_id


def _count(
    factory: sessionmaker[Session],
    email: str,
    address: str,
    scheme: str,
    now: datetime,
    policy: ThrottlePolicy,
) -> tuple[Verdict, _Stored | None]:
    with transaction(factory) as session:
        verdict = throttle.count_attempt(session, email, address, now, policy)
        stored = _stored(session, email)
        if verdict.blocked and verdict.newly_locked:
            audit.record(
                session,
                "auth.locked",
                target_type="user" if stored else "",
                target_id=stored.user_id if stored else "",
                scheme=scheme,
                address=address,
            )
    if verdict.blocked:
        raise errors.too_many_attempts(verdict.retry_after or 1)
    return verdict, stored


def _stored(session: Session, email: str) -> _Stored | None:
    row = session.execute(
        select(
            User.id, User.password_hash, User.digest_ha1, User.digest_enabled, User.is_active
        ).where(User.email == normalise_email(email))
    ).first()
    if row is None:
        return None
    return _Stored(int(row[0]), row[1], row[2], bool(row[3]), bool(row[4]))


def _audit_failure(session: Session, stored: _Stored | None, scheme: str, address: str) -> None:
    # Neither the password nor an unknown email is written: a typed email may be a password.
    if stored is None:
        reason = "unknown_account"
    elif not stored.active:
        reason = "disabled"
    else:
        reason = "wrong_password"
    audit.record(
        session,
        "auth.failed",
        target_type="user" if stored else "",
        target_id=stored.user_id if stored else "",
        scheme=scheme,
        address=address,
        reason=reason,
    )
