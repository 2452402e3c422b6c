"""``fieldsync``: the coordinator's sync client.

Every failure ends in one line on standard error and an exit code per kind (see
:mod:`sync_client.errors`); no stack trace reaches the terminal.
"""

from __future__ import annotations

import errno
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from sync_client import conflicts as conflicts_mod
from sync_client import hub, outbox
from sync_client.backoff import RetryPolicy
from sync_client.errors import (
    EXIT_INTERNAL,
    AuthError,
    ConflictError,
    FieldsyncError,
    StoreError,
    UsageError,
)
from sync_client.home import Config, fieldsync_home, load_config, save_config
from sync_client.http import CONNECT_TIMEOUT, Api
from sync_client.importing import import_path
from sync_client.outbox import Refusal
from sync_client.progress import transfer
from sync_client.pull import PullReport, pull
from sync_client.push import PushOptions, PushReport, push
from sync_client.store import (
    STORE_NAME,
    Store,
    check_integrity,
    describe_sqlite_error,
    open_store,
    store_os_error,
    utcnow,
)

F = TypeVar("F", bound=Callable[..., Any])


class FieldsyncGroup(click.Group):
    """Turns every failure into one line on stderr and the exit code of its kind."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except FieldsyncError as exc:
            fail(ctx, f"{exc}", exc.exit_code)
        except sqlite3.Error as exc:
            error = describe_sqlite_error(exc, fieldsync_home() / STORE_NAME)
            fail(ctx, str(error), error.exit_code)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                error = store_os_error(exc, fieldsync_home())
                fail(ctx, str(error), error.exit_code)
            fail(ctx, f"unexpected system error: {exc}", EXIT_INTERNAL)
        except KeyboardInterrupt:
            fail(ctx, "interrupted; nothing confirmed was lost, run the command again", 130)
        except Exception as exc:  # the promise is: never a stack trace
            fail(ctx, f"internal error ({type(exc).__name__}: {exc}); please report it", 1)
        return None


def fail(ctx: click.Context, message: str, code: int) -> None:
    click.echo(f"fieldsync: {message}", err=True)
    ctx.exit(code)


@dataclass
class NetOptions:
    max_retries: int
    max_wait: float
    retry_base: float
    read_timeout: float

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_retries=self.max_retries,
            base_seconds=self.retry_base,
            max_wait_seconds=self.max_wait,
        )


def network_options(func: F) -> F:
    """The retry and timeout options every command that talks to the server takes."""
    options = [
        click.option(
            "--max-retries",
            type=click.IntRange(0),
            default=10,
            show_default=True,
            envvar="FIELDSYNC_MAX_RETRIES",
            help="Retries this command may spend in total on a flaky link.",
        ),
        click.option(
            "--max-wait",
            type=click.FloatRange(0),
            default=30.0,
            show_default=True,
            envvar="FIELDSYNC_MAX_WAIT",
            help="Longest wait between two attempts, in seconds.",
        ),
        click.option(
            "--retry-base",
            type=click.FloatRange(0),
            default=1.0,
            show_default=True,
            envvar="FIELDSYNC_RETRY_BASE",
            help="First backoff step, in seconds (doubles on each retry, with jitter).",
        ),
        click.option(
            "--read-timeout",
            type=click.FloatRange(1),
            default=60.0,
            show_default=True,
            envvar="FIELDSYNC_READ_TIMEOUT",
            help="Seconds without a byte from the server before an attempt is given up.",
        ),
    ]

    @wraps(func)
    def wrapper(
        *args: Any,
        max_retries: int,
        max_wait: float,
        retry_base: float,
        read_timeout: float,
        **kwargs: Any,
    ) -> Any:
        net = NetOptions(max_retries, max_wait, retry_base, read_timeout)
        return func(*args, net=net, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return cast(F, wrapper)


def make_api(config: Config, net: NetOptions, token: str | None = None) -> Api:
    return Api(
        config.server_url,
        token if token is not None else config.token,
        net.policy(),
        timeout=(CONNECT_TIMEOUT, net.read_timeout),
    )


@contextmanager
def opened_store(home: Path) -> Iterator[Store]:
    store = open_store(home)
    try:
        yield store
    finally:
        store.close()


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


@click.group(
    cls=FieldsyncGroup,
    help=(
        "Sync a coordinator's laptop with a fieldsync server over slow, flaky links.\n\n"
        "Data lives in FIELDSYNC_HOME (default: a per-user data folder). Exit codes: "
        "2 usage, 3 offline, 4 login refused, 5 server error, 6 items refused (conflict or "
        "rejected), 7 local store problem."
    ),
)
@click.version_option(package_name="fieldsync")
def main() -> None:
    pass


# --- login ---------------------------------------------------------------------------------------


def _read_password() -> str:
    if sys.stdin is not None and sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True))
    line = sys.stdin.readline() if sys.stdin is not None else ""
    password = line.rstrip("\r\n")
    if not password:
        raise UsageError("no password on standard input")
    return password


def _choose_project(projects: list[dict[str, Any]], wanted: int | None) -> dict[str, Any]:
    if not projects:
        raise UsageError("you have no role in any project on this server; ask an administrator")
    if wanted is None:
        return sorted(projects, key=lambda p: int(p["id"]))[0]
    for project in projects:
        if int(project["id"]) == wanted:
            return project
    visible = ", ".join(f"{p['id']} ({p.get('name', '')})" for p in projects)
    raise UsageError(f"you have no role in project {wanted}; projects you see: {visible}")


@main.command(help="Log in to a server and remember it (asks for email and password).")
@click.argument("url")
@click.option("--email", help="Your account's email (asked if not given).")
@click.option(
    "--project",
    "project_id",
    type=int,
    default=None,
    help="Project to sync (default: the only or first project you see).",
)
@network_options
def login(url: str, email: str | None, project_id: int | None, net: NetOptions) -> None:
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{url!r} is not a URL: give the full address, e.g. https://server.org")
    home = fieldsync_home()
    config = load_config(home)
    if email is None:
        email = str(click.prompt("Email"))
    password = _read_password()
    probe = Config(server_url=url, hub_id=config.hub_id)
    anonymous = make_api(probe, net, token="")
    answer = anonymous.json(
        "POST",
        "/api/v1/sessions",
        json_body={"email": email, "password": password},
        ok=(200, 201),
    )
    token = str(answer.get("token") or "")
    if not token:
        raise AuthError("the server did not hand out a login token")
    api = make_api(probe, net, token=token)
    projects = api.json("GET", "/api/v1/projects")
    if not isinstance(projects, list):
        raise UsageError("the server's project list is not a list; is this a fieldsync server?")
    chosen = _choose_project(projects, project_id)
    new = Config(
        server_url=url,
        token=token,
        email=email,
        project_id=int(chosen["id"]),
        project_name=str(chosen.get("name") or ""),
        hub_id=config.hub_id,
    )
    path = save_config(home, new)
    click.echo(
        f"logged in to {url} as {email}; project {new.project_id} ({new.project_name}); "
        f"login saved in {path}"
    )
    if config.server_url and config.server_url != url:
        with opened_store(home) as store:
            waiting = outbox.summary(store).by_state.get("pending", 0)
        if waiting:
            click.echo(
                f"warning: {waiting} forms imported for {config.server_url} are still queued; "
                "the next push sends them to this server"
            )
    if project_id is None and len(projects) > 1:
        click.echo("other projects: use `fieldsync login URL --project ID` to switch")


# --- import --------------------------------------------------------------------------------------


@main.command(
    "import",
    help=(
        "Queue finished forms copied from tablets: an ODK Collect instances folder, one "
        "instance folder, or a zip of them. Files that are not ODK instances are listed and "
        "skipped."
    ),
)
@click.argument("path", type=click.Path(path_type=Path))
def import_command(path: Path) -> None:
    home = fieldsync_home()
    config = load_config(home)
    with opened_store(home) as store:
        report = import_path(store, path, config.project_id, config.hub_id)
    counts = report.counts
    click.echo(
        f"imported {report.imported} forms ({report.attachments} attachments, "
        f"{human_bytes(report.attachment_bytes)}); "
        f"{counts[outbox.AddOutcome.ALREADY]} already imported; "
        f"{len(report.skipped)} files skipped"
    )
    if report.restored:
        click.echo(
            f"restored {report.restored} attachment files missing from the store; "
            "run `fieldsync push --retry-refused`"
        )
    for line in report.differs:
        click.echo(f"  warning: {line}")
    for skipped in report.skipped:
        click.echo(f"  skipped {skipped.display}: {skipped.reason}")


# --- push / pull / sync --------------------------------------------------------------------------


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
        click.echo(f"queued again {n} refused items")
    collected = hub.before_push(store, fieldsync_home(), config.project_id, config.hub_id)
    if collected.queued:
        click.echo(f"hub: queued {collected.queued} forms received from tablets")
    pending = outbox.summary(store)
    total_items = pending.by_state.get("pending", 0)
    api = make_api(config, net)
    assert config.project_id is not None
    with transfer("push", pending.pending_bytes, total_items) as tracker:
        report = push(store, api, config.project_id, options, tracker)
    with store.transaction() as conn:
        store.set_meta(conn, f"last_push:{config.project_id}", utcnow())
    click.echo(
        f"pushed {report.sent} submissions "
        f"({report.counts['stored']} new, {report.counts['duplicate']} already on the server, "
        f"{report.counts['edit']} edits); {report.blobs_uploaded} attachments uploaded "
        f"({human_bytes(report.blob_bytes)})"
        + (f"; {report.resolutions_sent} resolutions sent" if report.resolutions_sent else "")
    )
    for warning in report.warnings:
        click.echo(f"  warning: {warning}")
    _print_refused(report.refused)
    return report


def _print_refused(refused: list[Refusal]) -> None:
    for item in refused:
        click.echo(f"  {item.status}: {item.key}: {item.code}: {item.detail}")


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
            f"pulled {changes} changes in {report.pages} pages; {report.forms_fetched} forms and "
            f"{report.media_fetched} media files downloaded ({human_bytes(report.media_bytes)})"
        )
    for warning in report.warnings:
        click.echo(f"  warning: {warning}")
    mirrored = hub.after_pull(store, fieldsync_home(), config.project_id, config.project_name)
    if mirrored.forms or mirrored.media or mirrored.entities_adopted:
        click.echo(
            f"hub: serving {mirrored.forms} new forms, {mirrored.media} media files, "
            f"{mirrored.entities_adopted} updated records"
        )
    return report


def _refused_error(report: PushReport) -> ConflictError:
    return ConflictError(
        f"the server refused {len(report.refused)} items (conflict or rejected); they are kept "
        "locally, see `fieldsync status`"
    )


@main.command("push", help="Send queued forms, attachments and conflict resolutions.")
@_transfer_options
@network_options
def push_command(
    batch_size: int, chunk_size: int, parallel: int, retry_refused: bool, net: NetOptions
) -> None:
    home = fieldsync_home()
    config = load_config(home).require_login()
    options = PushOptions(batch_items=batch_size, chunk_bytes=chunk_size, parallel=parallel)
    with opened_store(home) as store:
        report = _do_push(store, config, net, options, retry_refused)
    if report.refused:
        raise _refused_error(report)


@main.command("pull", help="Fetch forms, media, entity lists and conflicts from the server.")
@network_options
def pull_command(net: NetOptions) -> None:
    home = fieldsync_home()
    config = load_config(home).require_login()
    with opened_store(home) as store:
        _do_pull(store, config, net)


@main.command("sync", help="Push, then pull.")
@_transfer_options
@network_options
def sync_command(
    batch_size: int, chunk_size: int, parallel: int, retry_refused: bool, net: NetOptions
) -> None:
    home = fieldsync_home()
    config = load_config(home).require_login()
    options = PushOptions(batch_items=batch_size, chunk_bytes=chunk_size, parallel=parallel)
    with opened_store(home) as store:
        report = _do_push(store, config, net, options, retry_refused)
        _do_pull(store, config, net)
        with store.transaction() as conn:
            store.set_meta(conn, f"last_sync:{config.project_id}", utcnow())
    if report.refused:
        raise _refused_error(report)


# --- status --------------------------------------------------------------------------------------


@main.command(help="What waits to be sent, when the last sync succeeded, open conflicts.")
def status() -> None:
    home = fieldsync_home()
    config = load_config(home)
    with opened_store(home) as store:
        health = check_integrity(store)
        if health != "ok":
            raise StoreError(f"the local store {store.path} is damaged: {health}")
        summary = outbox.summary(store)
        pid = config.project_id
        last = {
            what: store.get_meta(f"{what}:{pid}")
            for what in ("last_sync", "last_push", "last_pull")
        }
        open_kinds = conflicts_mod.local_open_kinds(store, pid)
        refused = outbox.refused_items(store)
    if config.logged_in:
        click.echo(
            f"server:      {config.server_url} as {config.email}, project {pid} "
            f"({config.project_name})"
        )
    else:
        click.echo("server:      not logged in (run `fieldsync login URL`)")
    by_state = summary.by_state
    click.echo(
        f"pending:     {by_state.get('pending', 0)} submissions, "
        f"{human_bytes(summary.pending_bytes)} to send"
        + (
            f", {summary.pending_resolutions} conflict resolutions"
            if summary.pending_resolutions
            else ""
        )
    )
    click.echo(f"sent:        {by_state.get('sent', 0)} submissions")
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
    conflict_items = [r for r in refused if r[2] == "conflict"]
    rejected_items = [r for r in refused if r[2] == "rejected"]
    click.echo(f"refused:     {len(conflict_items)} in conflict, {len(rejected_items)} rejected")
    for kind, key, state, code, detail in refused:
        click.echo(f"  {state}: {kind} {key}: {code}: {detail}")


# --- conflicts -----------------------------------------------------------------------------------


@main.group(
    "conflicts",
    invoke_without_command=True,
    help="List the project's open conflicts; `conflicts resolve` queues a resolution.",
)
@click.option("--soft", is_flag=True, help="Also list soft conflicts (no review needed).")
@network_options
@click.pass_context
def conflicts_group(ctx: click.Context, soft: bool, net: NetOptions) -> None:
    if ctx.invoked_subcommand is not None:
        return
    home = fieldsync_home()
    config = load_config(home).require_login()
    assert config.project_id is not None
    with opened_store(home) as store:
        listing = conflicts_mod.list_conflicts(
            store, make_api(config, net), config.project_id, include_soft=soft
        )
    if listing.note:
        click.echo(f"note: {listing.note}", err=True)
    if not listing.conflicts:
        click.echo("no open conflicts")
        return
    for conflict in listing.conflicts:
        click.echo(conflicts_mod.describe(conflict))


@conflicts_group.command(
    "resolve",
    help=(
        "Queue a resolution of CONFLICT_ID (sent on the next push): the values that are right "
        "(none: accept the value the server shows), and why. Needs a coordinator role."
    ),
)
@click.argument("conflict_id")
@click.option(
    "--value", "values", multiple=True, metavar="PROP=VALUE", help="A property's right value."
)
@click.option("--reason", required=True, help="Why these values are right.")
@click.option(
    "--reopen",
    is_flag=True,
    help="The values move a status back (e.g. cleared to suspected): say so on purpose.",
)
def conflicts_resolve(conflict_id: str, values: tuple[str, ...], reason: str, reopen: bool) -> None:
    home = fieldsync_home()
    config = load_config(home).require_login()
    assert config.project_id is not None
    parsed = conflicts_mod.parse_values(values)
    with opened_store(home) as store:
        outcome = conflicts_mod.queue(store, config.project_id, conflict_id, parsed, reason, reopen)
    click.echo(f"resolution of conflict {conflict_id} {outcome}; it is sent on the next push")


def _register_groups() -> None:
    from sync_client.export import export_command
    from sync_client.hub_cli import hub_group

    main.add_command(hub_group)
    main.add_command(export_command)


_register_groups()

if __name__ == "__main__":
    main(prog_name="fieldsync")
