"""Progress bars for long transfers: items and bytes, on standard error, only on a terminal.

When output goes to a file or a pipe (scripts, tests) the bars are off and nothing is drawn.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


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
        yield Tracker(progress, task, total_items)
