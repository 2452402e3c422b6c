"""``fieldsync outbox list|show|discard``: look into what waits to be sent or was refused, and
take an item out on purpose (kept whole in the local store, with who, when and why)."""

from __future__ import annotations

import click

from sync_client import outbox_review
from sync_client.commands.common import human_bytes, opened_store, plural
from sync_client.home import fieldsync_home, load_config


@click.group(
    "outbox",
    help=(
        "What waits to be sent and what the server refused: `outbox list`, `outbox show ID`, "
        "`outbox discard ID --reason TEXT`."
    ),
)
def outbox_group() -> None:
    pass


@outbox_group.command(
    "list",
    help="Items waiting or refused, oldest first: id, state, kind, form, folder, and why.",
)
@click.option("--all", "include_sent", is_flag=True, help="Also list the items already sent.")
@click.option(
    "--state",
    type=click.Choice(["pending", "conflict", "rejected", "sent"]),
    default=None,
    help="Only the items in this state.",
)
@click.option(
    "--discarded", is_flag=True, help="List the items discarded so far instead (the audit)."
)
def list_command(include_sent: bool, state: str | None, discarded: bool) -> None:
    with opened_store(fieldsync_home()) as store:
        if discarded:
            gone = outbox_review.discarded(store)
            if not gone:
                click.echo("nothing was discarded")
            for outbox_id, kind, key, at, by, reason, state in gone:
                click.echo(f"{outbox_id}  {kind} {key} ({state}) discarded {at} by {by}: {reason}")
            return
        rows = outbox_review.items(store, include_sent=include_sent, state=state)
    if not rows:
        if state is not None:
            click.echo(f"no item is {state}")
        else:
            click.echo("the outbox is empty" + ("" if include_sent else " (nothing waits)"))
        return
    for item in rows:
        what = f"form {item.form_id}" if item.kind == "submission" else "resolution"
        where = f"  {item.source}" if item.source else ""
        why = f"  {item.why}" if item.why else ""
        click.echo(f"{item.id}  {item.state}  {what}  {item.key}{where}{why}")
    by_state: dict[str, int] = {}
    for item in rows:
        by_state[item.state] = by_state.get(item.state, 0) + 1
    click.echo(
        plural(len(rows), "item")
        + ": "
        + ", ".join(f"{n} {s}" for s, n in sorted(by_state.items()))
    )


@outbox_group.command("show", help="Everything known about one outbox item (not the answers).")
@click.argument("item_id", type=int)
def show(item_id: int) -> None:
    with opened_store(fieldsync_home()) as store:
        item = outbox_review.get(store, item_id)
    click.echo(f"item:        {item.id} ({item.kind})")
    click.echo(f"state:       {item.state}" + (" (in a batch being sent)" if item.in_batch else ""))
    if item.kind == "submission":
        click.echo(f"instance:    {item.key}")
        click.echo(f"form:        {item.form_id} version {item.form_version or '?'}")
        click.echo(f"imported:    {item.created_at} from {item.source or '?'}")
        click.echo(f"size:        {human_bytes(item.size)} of XML")
        for name, sha, size in item.attachments:
            held = human_bytes(size) if size is not None else "missing from the store"
            click.echo(f"attachment:  {name} ({held}, sha256 {sha[:12]})")
        for hop in item.via:
            click.echo(
                f"via:         {hop.get('hop')} {hop.get('id')} {hop.get('received_at', '')}"
            )
    else:
        click.echo(f"conflict:    {item.key}")
        resolution = item.resolution or {}
        values = resolution.get("values") or {}
        shown = ", ".join(f"{k}={v!r}" for k, v in values.items()) or "the value shown"
        click.echo(f"values:      {shown}")
        click.echo(f"reason:      {resolution.get('reason', '')}")
        click.echo(f"queued:      {item.created_at}")
    click.echo(f"attempts:    {item.attempts}" + (f"; sent {item.sent_at}" if item.sent_at else ""))
    if item.result_status:
        click.echo(f"answer:      {item.result_status} {item.result_code or ''}".rstrip())
    if item.result_detail:
        click.echo(f"detail:      {item.result_detail}")
    if item.last_error and item.state == "pending":
        click.echo(f"last error:  {item.last_error}")
    if item.state in ("conflict", "rejected"):
        click.echo(
            "next:        fix the cause and `fieldsync push --retry-refused`, or "
            f"`fieldsync outbox discard {item.id} --reason ...`"
        )


@outbox_group.command(
    "discard",
    help=(
        "Take an item out of the outbox for good (a refused one, or one waiting that should not "
        "be sent). The item is kept in the local store's discard log with who, when and why; "
        "a later import does not queue it again."
    ),
)
@click.argument("item_id", type=int)
@click.option("--reason", required=True, help="Why this item must not be sent.")
def discard(item_id: int, reason: str) -> None:
    home = fieldsync_home()
    config = load_config(home)
    by = outbox_review.who() + (f" ({config.email})" if config.email else "")
    with opened_store(home) as store:
        item = outbox_review.discard(store, item_id, reason, by)
    click.echo(
        f"discarded outbox item {item.id} ({item.kind} {item.key}, was {item.state}); "
        "kept in the discard log (`fieldsync outbox list --discarded`)"
    )
