"""Retrying idempotent steps: exponential backoff with full jitter, honouring ``Retry-After``,
within one retry budget shared by a whole command.

Pure logic: the clock, the sleep and the random source are injected, so tests drive it with a
fake clock instead of waiting.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol, TypeVar

from sync_client.errors import FieldsyncError

T = TypeVar("T")

DEFAULT_MAX_RETRIES = 10
DEFAULT_BASE_SECONDS = 1.0
DEFAULT_MAX_WAIT_SECONDS = 30.0


class RetryableFailure(Exception):
    """A step failed in a way worth retrying; ``error`` is raised if the budget runs out."""

    def __init__(self, error: FieldsyncError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryNotice:
    """What a command tells the person waiting: why it waits, how long, which retry of how many."""

    error: FieldsyncError
    wait: float
    retry: int
    max_retries: int


class RetryListener(Protocol):
    """Hears of every wait, of the first success after one, and of giving up."""

    def retrying(self, notice: RetryNotice) -> None: ...

    def recovered(self, retries: int) -> None: ...

    def gave_up(self) -> None: ...


@dataclass
class RetryPolicy:
    """How long to wait between attempts, and how many retries a command may spend in total."""

    max_retries: int = DEFAULT_MAX_RETRIES
    base_seconds: float = DEFAULT_BASE_SECONDS
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    used: int = 0
    waits: list[float] = field(default_factory=list)
    listener: RetryListener | None = None
    # Several threads of one command (parallel batches) spend the same budget.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def remaining(self) -> int:
        return max(0, self.max_retries - self.used)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait before retry number ``attempt`` (0-based) of one step.

        Full jitter: uniform between zero and the capped exponential, so many clients that lost
        the same link do not come back in lockstep. A server's ``Retry-After`` wins.
        """
        if retry_after is not None:
            return max(0.0, retry_after)
        ceiling = min(self.max_wait_seconds, self.base_seconds * (2 ** min(attempt, 30)))
        return self.rand() * ceiling

    def run(self, step: Callable[[], T]) -> T:
        """Call ``step`` until it succeeds, sleeping between attempts.

        Raises:
            FieldsyncError: the step's last error, once the command's retry budget is spent or
                the server asks for a wait longer than ``max_wait_seconds``; any error ``step``
                raises that is not a :class:`RetryableFailure`.
        """
        attempt = 0
        while True:
            try:
                result = step()
            except RetryableFailure as failure:
                wait = self.delay(attempt, failure.retry_after)
                if wait > self.max_wait_seconds and failure.retry_after is not None:
                    self._gave_up()
                    raise failure.error from None
                with self._lock:
                    if self.used >= self.max_retries:
                        self._gave_up()
                        raise failure.error from None
                    self.used += 1
                    self.waits.append(wait)
                    retry = self.used
                if self.listener is not None:
                    self.listener.retrying(
                        RetryNotice(failure.error, wait, retry, self.max_retries)
                    )
                self.sleep(wait)
                attempt += 1
                continue
            if attempt and self.listener is not None:
                self.listener.recovered(attempt)
            return result

    def _gave_up(self) -> None:
        if self.listener is not None:
            self.listener.gave_up()


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())
