"""Login throttling: password attempts counted per account and per address in a database table,
so every server process (and every route that takes a password) shares one count.

An attempt is counted *before* the password is checked, in one atomic statement, so parallel
guesses cannot slip past the limit; a successful login gives its attempt back.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.accounts.models import LoginAttempts

ACCOUNT = "account"
ADDRESS = "address"


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many password attempts one account and one client address get per window."""

    per_account: int = 10
    per_address: int = 50
    window_seconds: int = 15 * 60

    def guesses_per_hour(self, scope: str) -> float:
        limit = self.per_account if scope == ACCOUNT else self.per_address
        return limit * 3600 / self.window_seconds


DEFAULT_POLICY = ThrottlePolicy()


@dataclass(frozen=True)
class Verdict:
    """The outcome of counting one attempt: ``retry_after`` seconds when it is over a limit."""

    keys: tuple[str, ...]
    retry_after: int | None
    newly_locked: bool  # this attempt is the first one over the account's limit

    @property
    def blocked(self) -> bool:
        return self.retry_after is not None


def attempt_key(scope: str, value: str) -> str:
    return hashlib.sha256(f"{scope}:{value.strip().lower()}".encode()).hexdigest()


def count_attempt(
    session: Session,
    email: str,
    address: str,
    now: datetime,
    policy: ThrottlePolicy = DEFAULT_POLICY,
) -> Verdict:
    """Count one password attempt against the account and the address, in ``session``.

    The caller commits this on its own, before checking the password, so it holds even when the
    request fails.
    """
    retry_after: int | None = None
    newly_locked = False
    keys = []
    for scope, value, limit in (
        (ACCOUNT, email, policy.per_account),
        (ADDRESS, address, policy.per_address),
    ):
        key = attempt_key(scope, value)
        keys.append(key)
        attempts, ends = _increment(session, key, scope, now, policy.window_seconds)
        if attempts > limit:
            wait = max(1, math.ceil((ends - now).total_seconds()))
            retry_after = max(retry_after or 0, wait)
            newly_locked = newly_locked or (scope == ACCOUNT and attempts == limit + 1)
    return Verdict(keys=tuple(keys), retry_after=retry_after, newly_locked=newly_locked)


def attempt_succeeded(session: Session, verdict: Verdict) -> None:
    """The password was right: the account starts afresh, the address gets its attempt back
    (but is not cleared, or one valid account would reset an attacker's address)."""
    account_key, address_key = verdict.keys
    session.execute(delete(LoginAttempts).where(LoginAttempts.key == account_key))
    give_back(session, (address_key,))


def give_back(session: Session, keys: tuple[str, ...]) -> None:
    """Uncount an attempt that was not a guess (a right password with a stale Digest nonce)."""
    session.execute(
        update(LoginAttempts)
        .where(LoginAttempts.key.in_(keys), LoginAttempts.attempts > 0)
        .values(attempts=LoginAttempts.attempts - 1)
    )


def sweep(session: Session, now: datetime) -> int:
    """Delete counts whose window has ended; returns how many. Runs whenever a key is counted
    for the first time."""
    result = session.execute(delete(LoginAttempts).where(LoginAttempts.window_ends_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


def _increment(
    session: Session, key: str, scope: str, now: datetime, window_seconds: int
) -> tuple[int, datetime]:
    """Add one attempt to ``key``'s current window (opening a new one if it ended): the count
    and the window's end. Each branch is one statement, so two processes never lose a count."""
    for _ in range(3):
        row = session.execute(
            update(LoginAttempts)
            .where(LoginAttempts.key == key, LoginAttempts.window_ends_at > now)
            .values(attempts=LoginAttempts.attempts + 1)
            .returning(LoginAttempts.attempts, LoginAttempts.window_ends_at)
        ).first()
        if row is not None:
            return int(row[0]), row[1]
        ends = now + timedelta(seconds=window_seconds)
        row = session.execute(
            update(LoginAttempts)
            .where(LoginAttempts.key == key, LoginAttempts.window_ends_at <= now)
            .values(attempts=1, window_ends_at=ends)
            .returning(LoginAttempts.attempts, LoginAttempts.window_ends_at)
        ).first()
        if row is not None:
            return 1, ends
        try:
            with session.begin_nested():
                session.add(LoginAttempts(key=key, scope=scope, attempts=1, window_ends_at=ends))
                session.flush()
            # A new key: drop the ended windows, so sprayed emails do not pile up.
            sweep(session, now)
            return 1, ends
        except IntegrityError:
            continue  # another process opened the window first: count in it
    raise RuntimeError("could not count a login attempt")
