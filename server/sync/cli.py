"""``fieldsync-server blobs ...``: sweeping what resumable uploads leave behind."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import click

from server.console import CliState, handle_errors, pass_state
from server.db import transaction
from server.sync import uploads

log = logging.getLogger("fieldsync.blobs")

# How often ``fieldsync-server run`` sweeps on its own; the sweep is one query and a directory
# listing, and removing the same file twice is harmless, so every server process may do it.
SWEEP_INTERVAL = timedelta(hours=6)


def sweep_once(runtime: Any) -> uploads.SweepReport:
    """Sweep expired and orphaned partial uploads and stale temporary files, in one
    transaction."""
    with transaction(runtime.session_factory) as session:
        return uploads.sweep(session, runtime.settings.data_dir / "uploads", runtime.blobs)


def start_sweeper(runtime: Any, interval: timedelta = SWEEP_INTERVAL) -> threading.Event:
    """Sweep every ``interval`` in a daemon thread until the returned event is set."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval.total_seconds()):
            try:
                report = sweep_once(runtime)
            except Exception:  # the next round tries again; serving goes on
                log.exception("blob sweep failed")
                continue
            log.info("blob sweep", extra={**report.__dict__})

    threading.Thread(target=loop, name="fieldsync-blob-sweep", daemon=True).start()
    return stop


@click.group(
    help="Attachment storage: sweeping abandoned uploads, moving contents into the database."
)
def blobs() -> None:
    pass


@blobs.command(
    "sweep",
    help=(
        "Remove resumable uploads untouched for 7 days (with their bytes), partial files no "
        "upload names, temporary files older than 6 hours and, with the database blob store, "
        "this host's cached files of blobs the database no longer has (purged on any "
        "host). 'fieldsync-server run' does this every 6 hours; run it from cron when "
        "the server runs another way."
    ),
)
@pass_state
@handle_errors
def sweep(state: CliState) -> None:
    report = sweep_once(state.runtime)
    click.echo(
        f"removed {report.expired} expired uploads, {report.orphaned} orphaned partial files, "
        f"{report.temporary} temporary files"
    )
    if state.runtime.blobs.kind == "database":
        click.echo(f"removed {report.uncached} cached files of blobs no longer in the database")
