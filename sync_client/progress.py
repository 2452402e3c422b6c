"""What a command shows while it works, on standard error: progress bars for long transfers
(only on a terminal) and what it is doing while the server cannot be reached.

On a terminal the retry message is one line that updates in place (inside the bar when one is
drawn); in a file or a pipe (scripts, logs) each attempt gets a line of its own, so a log shows
waiting, not hanging.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from sync_client.backoff import RetryNotice
from sync_client.errors import OfflineError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

# The bar being drawn, if any: the retry line goes into it instead of fighting it for the line.
_active: list[tuple[Progress, TaskID, str]] = []


class Tracker:
    """One bar: advance it by items and bytes as they are confirmed."""

    def __init__(self, progress: Progress | None, task: TaskID | None, items_total: int) -> None:
        self._progress = progress
        self._task = task
        self.items_total = items_total
        self.items = 0

    def advance(self, nbytes: int = 0, items: int = 0) -> None:
        self.items += items
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task, advance=nbytes, items=f"{self.items}/{self.items_total}"
            )


def progress_enabled() -> bool:
    return sys.stderr.isatty()


@contextmanager
def transfer(label: str, total_bytes: int, total_items: int) -> Iterator[Tracker]:
    """A bar labelled ``label`` for ``total_items`` items holding ``total_bytes`` bytes."""
    if not progress_enabled() or total_items == 0:
        yield Tracker(None, None, total_items)
        return
    # rich is imported only when a bar is drawn: it is most of a command's start-up time.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[items]} items"),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with progress:
        task = progress.add_task(label, total=max(total_bytes, 1), items=f"0/{total_items}")
        _active.append((progress, task, label))
        try:
            yield Tracker(progress, task, total_items)
        finally:
            _active.remove((progress, task, label))


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 attachment``, ``2 attachments``: the count and the word agreeing with it."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def retry_message(notice: RetryNotice) -> str:
    """``server unreachable, retrying in 8 s (attempt 3 of 10); Ctrl-C stops, nothing is lost``"""
    why = "server unreachable" if isinstance(notice.error, OfflineError) else str(notice.error)
    seconds = max(1, math.ceil(notice.wait)) if notice.wait > 0 else 0
    return (
        f"{why}, retrying in {seconds} s (attempt {notice.retry} of {notice.max_retries}); "
        "Ctrl-C stops, nothing is lost"
    )


class RetryReporter:
    """Tells the person at the laptop what a command does while it retries."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._open_line = False
        self._lock = threading.Lock()

    def retrying(self, notice: RetryNotice) -> None:
        message = retry_message(notice)
        with self._lock:
            if self.tty and _active:
                progress, task, label = _active[-1]
                progress.update(task, description=f"{label}: {message}")
                return
            if self.tty:
                self.stream.write(f"\r\x1b[K{message}")
                self._open_line = True
            else:
                self.stream.write(f"fieldsync: {message}\n")
            self.stream.flush()

    def recovered(self, retries: int) -> None:
        with self._lock:
            if self.tty and _active:
                progress, task, label = _active[-1]
                progress.update(task, description=label)
                return
            self._end_line()
            if not self.tty:
                again = plural(retries, "retry", "retries")
                self.stream.write(f"fieldsync: server reachable again after {again}\n")
                self.stream.flush()

    def gave_up(self) -> None:
        with self._lock:
            self._end_line()

    def _end_line(self) -> None:
        if self._open_line:
            # The next line (the result, or the error) starts on a clean line.
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._open_line = False
