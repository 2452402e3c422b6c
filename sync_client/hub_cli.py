"""``fieldsync hub``: serve the camp's tablets from this laptop, and add or revoke devices."""

from __future__ import annotations

import io
import logging
import os
import tempfile
import threading
import time
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import click

from sync_client import hub, hub_events
from sync_client.errors import FieldsyncError, UsageError
from sync_client.home import Config, fieldsync_home, load_config
from sync_client.lan import is_loopback, lan_addresses, loopback_advice, url_is_loopback
from sync_client.peer import peer_blueprint

log = logging.getLogger("fieldsync.hub")


@click.group(
    "hub",
    invoke_without_command=True,
    help=(
        "Run this laptop as a field hub: an OpenRosa server on the camp's Wi-Fi that serves "
        "the forms and entity lists last pulled from the centre and receives the tablets' "
        "forms. Prints one line per tablet event (device, form, size) and a summary every few "
        "minutes. Run `fieldsync sync` (or use --sync-every) to exchange with the centre."
    ),
)
@click.option(
    "--host",
    default=None,
    help="Address to listen on (default 0.0.0.0: every network of this laptop).",
)
@click.option("--port", type=int, default=None, help="Port (default 8765).")
@click.option(
    "--url",
    default=None,
    help="The URL tablets reach this laptop at, e.g. http://192.168.8.10:8765 "
    "(default: worked out from this laptop's address).",
)
@click.option(
    "--sync-every",
    type=int,
    default=0,
    show_default=True,
    help="Also push and pull with the centre every N seconds when it is reachable "
    "(0: only when you run `fieldsync sync`).",
)
@click.option(
    "--summary-every",
    type=click.IntRange(0),
    default=300,
    show_default=True,
    help="Print a summary of the tablets' activity every N seconds (0: never).",
)
@click.pass_context
def hub_group(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    url: str | None,
    sync_every: int,
    summary_every: int,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    home = fieldsync_home()
    config = hub.load_hub_config(home)
    config.host = host or config.host
    config.port = port or config.port
    config.url = url if url is not None else config.url
    hub.save_hub_config(home, config)
    serve(home, config, sync_every, summary_every)


def device_base(config: hub.HubConfig) -> str:
    """The URL tablets are given: the one set, else this laptop's first LAN address."""
    if not config.url and config.host in ("0.0.0.0", "", "::"):  # noqa: S104 - a comparison
        addresses = lan_addresses()
        if addresses:
            return f"http://{addresses[0]}:{config.port}"
    return config.device_base()


def warn(line: str) -> None:
    click.echo(f"warning: {line}", err=True)


def _echo(line: str) -> None:
    click.echo(line)


def serve(home: Path, config: hub.HubConfig, sync_every: int, summary_every: int = 300) -> None:
    import waitress

    from server import create_app
    from server import hub as server_hub

    client_config = load_config(home)
    runtime = hub.open_hub(home)
    settings = runtime.settings
    runtime.engine.dispose()
    _refresh(home)
    _warn_if_empty(home, client_config)
    app = create_app(settings)
    # The web UI's Field hub page reads the laptop's outbox through this.
    server_hub.install_laptop_state(app, partial(hub.laptop_state, home))
    activity = hub_events.Activity()
    hub_events.install(app, activity, _echo)
    # Other coordinators' laptops exchange bundles with this one (`fieldsync peer sync`).
    app.register_blueprint(peer_blueprint(home))
    if sync_every > 0:
        worker = threading.Thread(target=_sync_loop, args=(home, sync_every), daemon=True)
        worker.start()
    if summary_every > 0:
        threading.Thread(
            target=hub_events.summary_loop, args=(activity, summary_every, _echo), daemon=True
        ).start()
    project = client_config.project_name or "the hub's project"
    click.echo(f"field hub for {project} serving on http://{config.host}:{config.port}")
    base = device_base(config)
    if is_loopback(config.host) or url_is_loopback(base):
        for line in loopback_advice(urlsplit(base).hostname or config.host, config.port):
            warn(line)
    click.echo(f"tablets use {base}; add one with `fieldsync hub add-device NAME`")
    waitress.serve(
        app, host=config.host, port=config.port, threads=8, ident="fieldsync-hub", _quiet=True
    )


def _warn_if_empty(home: Path, client_config: Config) -> None:
    """A hub with nothing to serve says what to do, instead of serving an empty form list."""
    if not client_config.logged_in:
        warn(
            "nobody is logged in on this laptop, so the hub has no forms to serve: run "
            "`fieldsync login URL` and `fieldsync pull` (the hub keeps running meanwhile)"
        )
        return
    from sync_client.store import open_store

    store = open_store(home)
    try:
        forms = store.conn.execute(
            "SELECT COUNT(*) FROM forms WHERE project_id = ? AND state != 'closed'",
            (client_config.project_id,),
        ).fetchone()[0]
    finally:
        store.close()
    if not forms:
        warn(
            "nothing was pulled from the centre yet, so the hub has no forms to serve: run "
            "`fieldsync pull` (or `fieldsync sync`) while the centre is reachable"
        )


def _refresh(home: Path) -> None:
    """Serve what the last pull brought, before the first tablet asks."""
    from sync_client.store import open_store

    client_config = load_config(home)
    if client_config.project_id is None:
        return
    store = open_store(home)
    try:
        hub.after_pull(
            store, home, client_config.project_id, client_config.project_name, pulled=False
        )
    finally:
        store.close()


def _sync_loop(home: Path, every: int) -> None:
    while True:
        time.sleep(every)
        try:
            sync_once(home)
        except FieldsyncError as exc:
            log.warning("background sync failed", extra={"error": str(exc)})
            _record_failure(home, str(exc))
        except Exception as exc:
            log.exception("background sync failed")
            _record_failure(home, f"unexpected error: {type(exc).__name__}")


def _record_failure(home: Path, reason: str) -> None:
    """Keep the failure for the hub's web page; a store that cannot take it is only logged."""
    from sync_client.store import open_store

    try:
        store = open_store(home)
    except FieldsyncError:
        return
    try:
        hub.record_failure(store, reason)
    except Exception:  # the loop goes on whatever the store says
        log.exception("could not record the failed sync")
    finally:
        store.close()


def sync_once(home: Path) -> None:
    """Collect, push, pull and mirror once (what `fieldsync sync` does on a hub)."""
    from sync_client.backoff import RetryPolicy
    from sync_client.http import CONNECT_TIMEOUT, Api
    from sync_client.pull import pull
    from sync_client.push import push
    from sync_client.store import open_store, utcnow

    config = load_config(home).require_login()
    assert config.project_id is not None
    api = Api(config.server_url, config.token, RetryPolicy(), timeout=(CONNECT_TIMEOUT, 60.0))
    store = open_store(home)
    try:
        hub.before_push(store, home, config.project_id, config.hub_id)
        push(store, api, config.project_id)
        with store.transaction() as conn:
            store.set_meta(conn, f"last_push:{config.project_id}", utcnow())
        pull(store, api, config.project_id)
        with store.transaction() as conn:
            store.set_meta(conn, f"last_pull:{config.project_id}", utcnow())
        hub.after_pull(store, home, config.project_id, config.project_name)
        with store.transaction() as conn:
            store.set_meta(conn, f"last_sync:{config.project_id}", utcnow())
    finally:
        store.close()


@hub_group.command(
    "add-device",
    help=(
        "Issue a token for a tablet; prints the server URL to enter in ODK Collect and a QR code "
        'for Collect\'s "Configure with QR code". Warns when the URL is loopback (no tablet can '
        "reach it) and lists this laptop's network addresses."
    ),
)
@click.argument("name")
@click.option(
    "--url",
    default=None,
    help="The URL tablets reach this laptop at (default: the hub's --url, else this laptop's "
    "first network address).",
)
@click.option(
    "--png",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the QR code to this PNG file (checked before the device is added).",
)
@click.option(
    "--form",
    "forms",
    multiple=True,
    help="Assign this form to the tablet (repeatable). Forms assigned to some tablets, and the "
    "survivor forms, go only to the tablets assigned to them; pull before adding.",
)
def add_device(name: str, url: str | None, png: Path | None, forms: tuple[str, ...]) -> None:
    import segno

    home = fieldsync_home()
    config = hub.load_hub_config(home)
    client_config = load_config(home)
    if png is not None:
        # Before the token exists: a picture that cannot be written must not leave one behind.
        check_writable(png)
    base = url or device_base(config)
    if url_is_loopback(base):
        for line in loopback_advice(urlsplit(base).hostname or "127.0.0.1", config.port):
            warn(line)
        warn("or give the address with `fieldsync hub add-device NAME --url http://ADDRESS:PORT`")
    setup = hub.add_device(home, name, base, client_config.project_name, forms)
    code = segno.make(setup.qr_payload, error="m")
    if png is not None:
        try:
            write_png(code, png)
        except OSError as exc:
            hub.revoke_device(home, setup.app_user_id)
            raise UsageError(
                f"cannot write the QR code to {png} ({exc.strerror or exc}); device "
                f"{setup.app_user_id} was revoked again, so no token is left behind: run the "
                "command again with another --png path"
            ) from exc
    click.echo(f"device {setup.app_user_id} ({name}) can now use this hub")
    click.echo("scan with ODK Collect: Projects > Add project > Configure with QR code")
    buffer = io.StringIO()
    code.terminal(out=buffer, compact=True)
    click.echo(buffer.getvalue())
    if png is not None:
        click.echo(f"QR code written to {png}")
    click.echo("or enter this server URL by hand (shown once):")
    click.echo(setup.url)


def check_writable(png: Path) -> None:
    """Raises: UsageError when a file cannot be written at ``png`` (checked by writing one)."""
    if png.is_dir():
        raise UsageError(f"{png} is a folder: give a file name for the QR code, e.g. {png}/qr.png")
    parent = png.parent if str(png.parent) else Path(".")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".fieldsync-", suffix=".png"):
            pass
        if png.exists() and not os.access(png, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise UsageError(
            f"cannot write the QR code to {png} ({exc.strerror or exc}); no device was added"
        ) from exc


def write_png(code: object, png: Path) -> None:
    """Write the QR code picture whole or not at all (a temporary file renamed into place)."""
    tmp = png.with_name(f".{png.name}.tmp")
    try:
        code.save(str(tmp), scale=6, kind="png")  # type: ignore[attr-defined]
        os.replace(tmp, png)
    finally:
        tmp.unlink(missing_ok=True)


@hub_group.command(
    "add-user",
    help=(
        "Create a login for this hub's web pages (/ui/ at the hub's address: what the tablets "
        "sent, what waits to sync, provisional changes) with a role in the hub's project. The "
        "password is asked for, or read from standard input. The login is the hub's own."
    ),
)
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(["viewer", "coordinator", "administrator"]),
    default="coordinator",
    show_default=True,
    help="The role in the hub's project.",
)
@click.option(
    "--caseworker",
    is_flag=True,
    help="A survivor caseworker: may read survivors' personal data on the hub's pages.",
)
def add_user(email: str, role: str, caseworker: bool) -> None:
    import sys

    if sys.stdin is not None and sys.stdin.isatty():
        password = str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    else:
        password = (sys.stdin.readline() if sys.stdin is not None else "").rstrip("\r\n")
        if not password:
            raise UsageError("no password on standard input")
    home = fieldsync_home()
    project_id = hub.add_account(
        home, email, password, role, caseworker, load_config(home).project_name
    )
    base = device_base(hub.load_hub_config(home))
    click.echo(f"{email} can log in at {base}/ui/ ({role} in the hub's project {project_id})")


@hub_group.command("devices", help="List the tablets this hub issued tokens to.")
def devices() -> None:
    for device_id, name, revoked in hub.list_devices(fieldsync_home()):
        click.echo(f"{device_id}\t{name}\t{'revoked' if revoked else 'active'}")


@hub_group.command("revoke-device", help="Revoke a tablet's token; it gets 403 from then on.")
@click.argument("device_id", type=int)
def revoke_device(device_id: int) -> None:
    hub.revoke_device(fieldsync_home(), device_id)
    click.echo(f"revoked device {device_id}")
