"""Backoff with full jitter, Retry-After and the per-command retry budget, on a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync_client.backoff import RetryableFailure, RetryPolicy, parse_retry_after
from sync_client.errors import OfflineError, ServerError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def flaky(failures: list[RetryableFailure], result: str = "done"):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def step() -> str:
        calls["n"] += 1
        if failures:
            raise failures.pop(0)
        return result

    return step, calls


def test_waits_grow_exponentially_up_to_the_cap_when_jitter_is_maximal() -> None:
    clock = FakeClock()
    policy = RetryPolicy(
        max_retries=10, base_seconds=1.0, max_wait_seconds=8.0, sleep=clock.sleep, rand=lambda: 1.0
    )
    failures = [RetryableFailure(OfflineError("down")) for _ in range(6)]
    step, calls = flaky(failures)
    assert policy.run(step) == "done"
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert calls["n"] == 7


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    draws = iter([0.0, 0.5, 0.25])
    clock = FakeClock()
    policy = RetryPolicy(
        max_retries=5,
        base_seconds=2.0,
        max_wait_seconds=60,
        sleep=clock.sleep,
        rand=lambda: next(draws),
    )
    step, _ = flaky([RetryableFailure(OfflineError("x")) for _ in range(3)])
    policy.run(step)
    # ceilings 2, 4, 8 scaled by the random draws
    assert clock.sleeps == [0.0, 2.0, 2.0]


def test_retry_after_from_the_server_wins_over_the_backoff() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_retries=3, sleep=clock.sleep, rand=lambda: 0.0)
    step, _ = flaky([RetryableFailure(ServerError("busy"), retry_after=7.0)])
    assert policy.run(step) == "done"
    assert clock.sleeps == [7.0]


def test_a_retry_after_longer_than_the_longest_wait_gives_up_at_once() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_retries=3, max_wait_seconds=30, sleep=clock.sleep)
    step, calls = flaky([RetryableFailure(ServerError("maintenance"), retry_after=3600)])
    with pytest.raises(ServerError, match="maintenance"):
        policy.run(step)
    assert clock.sleeps == []
    assert calls["n"] == 1


def test_the_budget_is_shared_by_every_step_of_a_command() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_retries=3, sleep=clock.sleep, rand=lambda: 0.5)
    first, _ = flaky([RetryableFailure(OfflineError("a")) for _ in range(2)])
    assert policy.run(first) == "done"
    second, calls = flaky([RetryableFailure(OfflineError(f"b{i}")) for i in range(5)])
    with pytest.raises(OfflineError, match="b1"):
        policy.run(second)
    # one retry was left for the second step: two attempts, then its last error surfaces
    assert calls["n"] == 2
    assert policy.used == 3
    assert len(clock.sleeps) == 3


def test_other_errors_are_not_retried() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_retries=5, sleep=clock.sleep)

    def step() -> str:
        raise ServerError("bad request")

    with pytest.raises(ServerError):
        policy.run(step)
    assert clock.sleeps == []


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Sun, 29 Nov 2026 10:00:30 GMT", now) == 30.0
    assert parse_retry_after("Sun, 29 Nov 2026 09:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
