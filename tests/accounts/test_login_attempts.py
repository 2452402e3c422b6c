"""The login throttle and nonce tracking under parallel use: counts are taken atomically, so
parallel guesses never get more checks than the limit, and one nonce count wins once."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import Flask

from server import errors
from server.accounts import login, nonces
from server.accounts.throttle import ThrottlePolicy
from server.db import transaction, utcnow
from tests.factories import Factories


def test_parallel_guesses_get_no_more_checks_than_the_limit(
    app: Flask, factories: Factories
) -> None:
    user = factories.user()
    factory = factories.runtime.session_factory
    policy = ThrottlePolicy(per_account=5, per_address=1000, window_seconds=600)

    def guess(index: int) -> str:
        try:
            login.password_login(
                factory, user.email, f"guess {index}", "192.0.2.1", scheme="test", policy=policy
            )
        except errors.Problem as exc:
            return exc.code
        return "accepted"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(guess, range(24)))
    assert outcomes.count(errors.BAD_CREDENTIALS) == 5
    assert outcomes.count(errors.TOO_MANY_ATTEMPTS) == 19


def test_one_nonce_count_is_won_once_by_parallel_requests(app: Flask, factories: Factories) -> None:
    factory = factories.runtime.session_factory
    now = utcnow()

    def use(_index: int) -> bool:
        with transaction(factory) as session:
            return nonces.use_nonce(
                session, "n1", 7, write=True, expires_at=now + timedelta(minutes=5), now=now
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(use, range(16)))
    assert results.count(True) == 1


def test_ended_windows_are_swept_when_a_new_key_is_counted(
    app: Flask, factories: Factories
) -> None:
    from sqlalchemy import func, select, update

    from server.accounts.models import LoginAttempts

    factory = factories.runtime.session_factory

    def fail(email: str) -> None:
        with contextlib.suppress(errors.Problem):
            login.password_login(factory, email, "wrong password", "192.0.2.7", scheme="test")

    for index in range(3):
        fail(f"sprayed{index}@example.org")
    with transaction(factory) as session:
        assert session.scalar(select(func.count()).select_from(LoginAttempts)) == 4
        session.execute(
            update(LoginAttempts).values(window_ends_at=utcnow() - timedelta(seconds=1))
        )
    fail("another@example.org")
    with transaction(factory) as session:
        # The new account's window and the address's, reopened; the ended ones are gone.
        assert session.scalar(select(func.count()).select_from(LoginAttempts)) == 2
