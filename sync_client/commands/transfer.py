"""``fieldsync push``, ``pull`` and ``sync``: exchange with the server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from sync_client import hub, keys, outbox, outbox_review
from sync_client.commands.common import (
    NetOptions,
    human_bytes,
    make_api,
    network_options,
    opened_store,
    plural,
)
from sync_client.errors import ConflictError, FieldsyncError
from sync_client.home import Config, fieldsync_home, load_config
from sync_client.outbox import Refusal
from sync_client.progress import transfer
from sync_client.pull import PullReport, pull
from sync_client.push import PushOptions, PushReport, push
from sync_client.store import Store, utcnow

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def _failure_kept_for_the_hub(store: Store, home: Path) -> Iterator[None]:
    """On a field hub, keep why an exchange with the centre failed, for the hub's web page
    (one line, as the command prints it); the error goes on to the caller unchanged."""
    try:
        yield
    except FieldsyncError as exc:
        if hub.hub_exists(home):
            hub.record_failure(store, str(exc))
        raise


def _transfer_options(func: F) -> F:
    func = click.option(
        "--batch-size",
        type=click.IntRange(1, 5000),
        default=200,
        show_default=True,
        help="Submissions per request (smaller loses less on a link that drops often).",
    )(func)
    func = click.option(
        "--chunk-size",
        type=click.IntRange(1024),
        default=256 * 1024,
        show_default=True,
        help="Bytes per attachment upload chunk.",
    )(func)
    func = click.option(
        "--parallel",
        type=click.IntRange(1, 16),
        default=2,
        show_default=True,
        help="Batches in flight at once.",
    )(func)
    func = click.option(
        "--retry-refused",
        is_flag=True,
        help="Queue again the items the server refused before (after fixing the cause).",
    )(func)
    return func


def _do_push(
    store: Store, config: Config, net: NetOptions, options: PushOptions, retry_refused: bool
) -> PushReport:
    if retry_refused:
        n = outbox.retry_refused(store)
        click.echo(f"queued again {plural(n, 'refused item')}")
    collected = hub.before_push(store, fieldsync_home(), config.project_id, config.hub_id)
    if collected.queued:
        click.echo(f"hub: queued {plural(collected.queued, 'form')} received from tablets")
    pending = outbox_review.summary(store)
    total_items = pending.by_state.get("pending", 0)
    api = make_api(config, net)
    assert config.project_id is not None
    with transfer("push", pending.pending_bytes, total_items) as tracker:
        report = push(store, api, config.project_id, options, tracker)
    with store.transaction() as conn:
        store.set_meta(conn, f"last_push:{config.project_id}", utcnow())
    click.echo(
        f"pushed {plural(report.sent, 'submission')} "
        f"({report.counts['stored']} new, {report.counts['duplicate']} already on the server, "
        f"{plural(report.counts['edit'], 'edit')}); "
        f"{plural(report.blobs_uploaded, 'attachment')} uploaded "
        f"({human_bytes(report.blob_bytes)})"
        + (
            f"; {plural(report.resolutions_sent, 'resolution')} sent"
            if report.resolutions_sent
            else ""
        )
    )
    for warning in report.warnings:
        click.echo(f"  warning: {warning}")
    _print_refused(store, report.refused)
    return report


def _print_refused(store: Store, refused: list[Refusal]) -> None:
    """One line per refused item, with the outbox id and the folder it was imported from."""
    for item in refused:
        row = store.conn.execute(
            "SELECT id, source FROM outbox WHERE instance_id = ? OR conflict_id = ?",
            (item.key, item.key),
        ).fetchone()
        where = f" ({row[1]})" if row is not None and row[1] else ""
        ref = f"{row[0]}  " if row is not None else ""
        click.echo(f"  {ref}{item.status}: {item.key}{where}: {item.code}: {item.detail}")


def _do_pull(store: Store, config: Config, net: NetOptions) -> PullReport:
    api = make_api(config, net)
    assert config.project_id is not None
    with transfer("pull", 0, 0) as tracker:
        report = pull(store, api, config.project_id, tracker)
    with store.transaction() as conn:
        store.set_meta(conn, f"last_pull:{config.project_id}", utcnow())
    if report.resynced:
        click.echo("the server could not continue from the last pull; pulled again from scratch")
    if report.unchanged:
        click.echo("pull: nothing new")
    else:
        changes = sum(n for k, n in report.changes.items() if k != "unknown")
        click.echo(
            f"pulled {plural(changes, 'change')} in {plural(report.pages, 'page')}; "
            f"{plural(report.forms_fetched, 'form')} and "
            f"{plural(report.media_fetched, 'media file')} downloaded "
            f"({human_bytes(report.media_bytes)})"
        )
    for warning in report.warnings:
        click.echo(f"  warning: {warning}")
    # Keys: this laptop's registered (a first sync after `keys init`), the centre's checked,
    # the project's other laptops and revocations refreshed for peer bundles.
    try:
        keys_line = keys.sync_with_centre(api, fieldsync_home(), config.project_id, config.hub_id)
    except FieldsyncError as exc:
        keys_line = f"  warning: bundle keys not refreshed ({exc})"
    if "(new)" in keys_line or "warning" in keys_line:
        click.echo(keys_line)
    mirrored = hub.after_pull(store, fieldsync_home(), config.project_id, config.project_name)
    if mirrored.forms or mirrored.media or mirrored.entities_adopted:
        click.echo(
            f"hub: serving {plural(mirrored.forms, 'new form')}, "
            f"{plural(mirrored.media, 'media file')}, "
            f"{plural(mirrored.entities_adopted, 'updated record')}"
        )
    return report


def _refused_error(report: PushReport) -> ConflictError:
    return ConflictError(
        f"the server refused {plural(len(report.refused), 'item')} (conflict or rejected); "
        "they are kept locally: `fieldsync outbox list` shows why, `fieldsync outbox discard "
        "ID` drops one"
    )


@click.command(
    "push",
    help=(
        "Send queued forms, attachments and conflict resolutions. While the server cannot be "
        "reached, says so on each retry; Ctrl-C stops without losing anything."
    ),
)
@_transfer_options
@network_options
def push_command(
    batch_size: int, chunk_size: int, parallel: int, retry_refused: bool, net: NetOptions
) -> None:
    home = fieldsync_home()
    config = load_config(home).require_login()
    options = PushOptions(batch_items=batch_size, chunk_bytes=chunk_size, parallel=parallel)
    with opened_store(home) as store, _failure_kept_for_the_hub(store, home):
        report = _do_push(store, config, net, options, retry_refused)
    if report.refused:
        raise _refused_error(report)


@click.command("pull", help="Fetch forms, media, entity lists and conflicts from the server.")
@network_options
def pull_command(net: NetOptions) -> None:
    home = fieldsync_home()
    config = load_config(home).require_login()
    with opened_store(home) as store, _failure_kept_for_the_hub(store, home):
        _do_pull(store, config, net)


@click.command("sync", help="Push, then pull.")
@_transfer_options
@network_options
def sync_command(
    batch_size: int, chunk_size: int, parallel: int, retry_refused: bool, net: NetOptions
) -> None:
    home = fieldsync_home()
    config = load_config(home).require_login()
    options = PushOptions(batch_items=batch_size, chunk_bytes=chunk_size, parallel=parallel)
    with opened_store(home) as store, _failure_kept_for_the_hub(store, home):
        report = _do_push(store, config, net, options, retry_refused)
        _do_pull(store, config, net)
        with store.transaction() as conn:
            store.set_meta(conn, f"last_sync:{config.project_id}", utcnow())
    if report.refused:
        raise _refused_error(report)
