"""``fieldsync status``: what waits, when the last sync succeeded, open conflicts, refusals."""

from __future__ import annotations

import click

from sync_client import bundles, outbox_review
from sync_client import conflicts as conflicts_mod
from sync_client.commands.common import human_bytes, opened_store, plural
from sync_client.errors import StoreError
from sync_client.home import fieldsync_home, load_config
from sync_client.store import check_integrity


@click.command(help="What waits to be sent, when the last sync succeeded, open conflicts.")
def status() -> None:
    home = fieldsync_home()
    config = load_config(home)
    with opened_store(home) as store:
        health = check_integrity(store)
        if health != "ok":
            raise StoreError(f"the local store {store.path} is damaged: {health}")
        summary = outbox_review.summary(store)
        pid = config.project_id
        last = {
            what: store.get_meta(f"{what}:{pid}")
            for what in ("last_sync", "last_push", "last_pull")
        }
        open_kinds = conflicts_mod.local_open_kinds(store, pid)
        refused = [i for i in outbox_review.items(store) if i.state in ("conflict", "rejected")]
        waiting_receipts = bundles.unacknowledged(store)
    if config.logged_in:
        click.echo(
            f"server:      {config.server_url} as {config.email}, project {pid} "
            f"({config.project_name})"
        )
    else:
        click.echo("server:      not logged in (run `fieldsync login URL`)")
    by_state = summary.by_state
    click.echo(
        f"pending:     {plural(by_state.get('pending', 0), 'submission')}, "
        f"{human_bytes(summary.pending_bytes)} to send"
        + (
            f", {plural(summary.pending_resolutions, 'conflict resolution')}"
            if summary.pending_resolutions
            else ""
        )
    )
    click.echo(f"sent:        {plural(by_state.get('sent', 0), 'submission')}")
    click.echo(f"last sync:   {last['last_sync'] or 'never'}")
    click.echo(
        f"last push:   {last['last_push'] or 'never'}; last pull: {last['last_pull'] or 'never'}"
    )
    soft = open_kinds.get("soft", 0)
    review = sum(open_kinds.values()) - soft
    click.echo(
        f"conflicts:   {review} open needing review"
        + (f", {soft} soft (informational)" if soft else "")
        + " (as of the last pull; `fieldsync conflicts` asks the server)"
    )
    click.echo(
        f"bundles:     {plural(len(waiting_receipts), 'bundle')} exported for the centre "
        "and not yet acknowledged"
        + (f" ({sum(b[2] for b in waiting_receipts)} items)" if waiting_receipts else "")
    )
    for bundle_id, path, items, when in waiting_receipts:
        click.echo(f"  {bundle_id}  {when}  {plural(items, 'item')}  {path}")
    in_conflict = sum(1 for i in refused if i.state == "conflict")
    click.echo(f"refused:     {in_conflict} in conflict, {len(refused) - in_conflict} rejected")
    for item in refused:
        click.echo(f"  {item.id}  {item.state}: {item.kind} {item.key}: {item.why}")
    if refused:
        click.echo(
            "  `fieldsync outbox show ID` tells more; `fieldsync outbox discard ID --reason ...` "
            "takes one out; `fieldsync push --retry-refused` sends them again"
        )
