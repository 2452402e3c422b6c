"""``fieldsync peer sync URL``: two coordinators' laptops exchange what each lacks."""

from __future__ import annotations

import click

from sync_client import peer
from sync_client.commands.bundle import summary_line
from sync_client.commands.common import plural
from sync_client.home import fieldsync_home
from sync_client.progress import transfer


@click.group("peer", help="Laptop to laptop, with no link to the centre.")
def peer_group() -> None:
    pass


@peer_group.command(
    "sync",
    help=(
        "Exchange forms with the field hub at URL (another coordinator's laptop running "
        "`fieldsync hub` on the same network): each sends the other what it holds, signed and "
        "encrypted, and both merge the result. Both laptops must know each other's key (from "
        "the centre's list, fetched by `fieldsync pull`, or `fieldsync keys trust`)."
    ),
)
@click.argument("url")
def sync_command(url: str) -> None:
    with transfer("peer sync", 1, 1) as bar:
        report = peer.peer_sync(fieldsync_home(), url)
        bar.advance(nbytes=1, items=1)
    click.echo(
        f"peer sync with {report.peer_hub or url} (key {report.peer_key}): sent "
        f"{plural(report.sent.submissions, 'submission')} ({report.they_queued} new to them); "
        + summary_line(report.received)
    )
