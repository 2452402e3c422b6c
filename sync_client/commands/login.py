"""``fieldsync login URL``: log in to a server, choose a project, remember both."""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from sync_client import keys, outbox_review
from sync_client.commands.common import NetOptions, make_api, network_options, opened_store
from sync_client.errors import AuthError, UsageError
from sync_client.home import Config, fieldsync_home, load_config, save_config

# What ODK Collect is given: <server>/v1/key/<token>/projects/<id> (or the Central-style
# /v1/projects/<id> without a key).
_DEVICE_URL = re.compile(r"^(?P<base>.*?)/v1/(?:key/[^/]+/)?projects/\d+(?:/.*)?$")
_API_SUFFIX = re.compile(r"/api(?:/v1)?$")


def server_address(raw: str) -> tuple[str, str | None]:
    """The server address to log in to, from what was typed or pasted, and a note when it was
    changed. Raises: UsageError for what is not a server address (with the one to use)."""
    url = raw.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{url!r} is not a URL: give the full address, e.g. https://server.org")
    device = _DEVICE_URL.match(url)
    if device:
        base = device.group("base") or url
        raise UsageError(
            f"that is a device URL (for ODK Collect on a tablet); use the server address: "
            f"`fieldsync login {base}`"
        )
    suffix = _API_SUFFIX.search(url)
    if suffix:
        base = url[: suffix.start()]
        return base, f"using {base} (fieldsync adds {suffix.group(0)} itself)"
    return url, None


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


@click.command(
    help=(
        "Log in to a server and remember it (asks for email and password). URL is the "
        "server's address, e.g. https://fieldsync.example.org: not a tablet's device URL, "
        "and without /api/v1."
    )
)
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
    url, note = server_address(url)
    if note:
        click.echo(f"note: {note}", err=True)
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
    # The laptop's bundle key is registered now, while there is a link, and the centre's key
    # for the project is pinned (docs/offline-bundles.md).
    click.echo(keys.sync_with_centre(api, home, new.project_id or 0, new.hub_id))
    if config.server_url and config.server_url != url:
        with opened_store(home) as store:
            waiting = outbox_review.summary(store).by_state.get("pending", 0)
        if waiting:
            click.echo(
                f"warning: {waiting} forms imported for {config.server_url} are still queued; "
                "the next push sends them to this server"
            )
    if project_id is None and len(projects) > 1:
        click.echo("other projects: use `fieldsync login URL --project ID` to switch")
