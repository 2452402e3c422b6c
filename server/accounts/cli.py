"""``fieldsync-server user ...`` and ``fieldsync-server app-user ...``: people and devices."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from server.console import EXIT_USAGE, CliState, fail, handle_errors, pass_state, read_password
from server.projects.cli import chosen_project


@click.group(help="Web and API users.")
def user() -> None:
    pass


@user.command("create", help="Create a user; the password is read from standard input.")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(["administrator", "coordinator", "data_collector", "viewer"]),
    default=None,
    help="Role to grant in --project.",
)
@click.option(
    "--project",
    "project_id",
    type=int,
    default=None,
    help="Project for --role (default: the first project).",
)
@click.option("--site-admin", is_flag=True, help="Make the user a site administrator.")
@click.option(
    "--digest",
    is_flag=True,
    help="Allow HTTP Digest for this user (ODK Collect over plain HTTP with a personal login); "
    "off by default, since its stored hash is a password equivalent. Devices need no Digest.",
)
@pass_state
@handle_errors
def user_create(
    state: CliState,
    email: str,
    role: str | None,
    project_id: int | None,
    site_admin: bool,
    digest: bool,
) -> None:
    from server.accounts import service as accounts
    from server.accounts.models import Role

    password = read_password()
    with state.transaction() as session:
        created = accounts.create_user(
            session, email, password, site_admin=site_admin, digest=digest
        )
        if role:
            project = chosen_project(session, project_id)
            accounts.grant_role(session, created, project, Role(role))
    click.echo(
        f"created user {created.email}" + (f" ({role} in project {project.id})" if role else "")
    )


@user.command("list", help="List users and their roles.")
@pass_state
@handle_errors
def user_list(state: CliState) -> None:
    from server.accounts import service as accounts

    with state.transaction() as session:
        for row in accounts.list_users_with_roles(session):
            described = ", ".join(f"{r} in {p}" for p, r in row.roles) or "no project role"
            flags = " site-admin" if row.user.is_site_admin else ""
            flags += " digest" if row.user.digest_enabled else ""
            flags += "" if row.user.is_active else " disabled"
            click.echo(f"{row.user.id}\t{row.user.email}\t{described}{flags}")


@user.command(
    "disable",
    help="Disable a user (offboarding): every login (Bearer, Basic, Digest, sync) is refused "
    "and their API tokens are revoked. Their records and audit history stay.",
)
@click.argument("email")
@pass_state
@handle_errors
def user_disable(state: CliState, email: str) -> None:
    from server.accounts import service as accounts

    with state.transaction() as session:
        count = accounts.set_active(session, accounts.get_user_by_email(session, email), False)
    click.echo(f"disabled {email} (revoked {count} tokens)")


@user.command("enable", help="Enable a disabled user again; they log in with their password.")
@click.argument("email")
@pass_state
@handle_errors
def user_enable(state: CliState, email: str) -> None:
    from server.accounts import service as accounts

    with state.transaction() as session:
        accounts.set_active(session, accounts.get_user_by_email(session, email), True)
    click.echo(f"enabled {email}")


@user.command(
    "set-password",
    help="Set a user's password, read from standard input (or asked twice on a terminal); "
    "their API tokens are revoked.",
)
@click.argument("email")
@pass_state
@handle_errors
def user_set_password(state: CliState, email: str) -> None:
    from server.accounts import service as accounts

    password = read_password()
    with state.transaction() as session:
        count = accounts.set_password(session, accounts.get_user_by_email(session, email), password)
    click.echo(f"set the password of {email} (revoked {count} tokens)")


@user.command("remove-role", help="Take a user's role in a project away.")
@click.argument("email")
@click.option("--project", "project_id", type=int, required=True, help="The project.")
@pass_state
@handle_errors
def user_remove_role(state: CliState, email: str, project_id: int) -> None:
    from server.accounts import service as accounts
    from server.projects.service import get_project

    with state.transaction() as session:
        target = accounts.get_user_by_email(session, email)
        role = accounts.remove_role(session, target, get_project(session, project_id))
    click.echo(f"removed {email}'s {role.value} role in project {project_id}")


@user.command(
    "set-digest",
    help="Allow (on) or refuse (off) HTTP Digest for a user. Off deletes the stored Digest "
    "hash; on keeps it from the user's next password login (Basic or the API) or set-password.",
)
@click.argument("email")
@click.argument("state_", metavar="on|off", type=click.Choice(["on", "off"]))
@pass_state
@handle_errors
def user_set_digest(state: CliState, email: str, state_: str) -> None:
    from server.accounts import service as accounts

    with state.transaction() as session:
        target = accounts.get_user_by_email(session, email)
        accounts.set_digest(session, target, state_ == "on")
        pending = target.digest_enabled and not target.digest_ha1
    note = " (takes effect at their next password login or set-password)" if pending else ""
    click.echo(f"digest {state_} for {email}{note}")


@user.command(
    "revoke-sessions",
    help="Revoke every API token of a user (a lost laptop, a field hub taken out of service).",
)
@click.argument("email")
@pass_state
@handle_errors
def user_revoke_sessions(state: CliState, email: str) -> None:
    from server.accounts import service as accounts

    with state.transaction() as session:
        target = accounts.get_user_by_email(session, email)
        count = accounts.revoke_all_sessions(session, target)
    click.echo(f"revoked {count} tokens of {email}")


@click.group("app-user", help="Device identities (tablets running ODK Collect).")
def app_user() -> None:
    pass


@app_user.command(
    "create",
    help=(
        "Create a device token; the last line printed is the server URL to enter in ODK "
        "Collect. Without --base-url or FIELDSYNC_PUBLIC_URL the URL is guessed from the "
        "address 'fieldsync-server run' serves on (else http://127.0.0.1:5000), and a line on "
        "standard error says so."
    ),
)
@click.argument("name")
@click.option(
    "--project", "project_id", type=int, default=None, help="Project (default: the first project)."
)
@click.option(
    "--base-url",
    default=None,
    help="URL devices reach the server at (default: FIELDSYNC_PUBLIC_URL, else a guess).",
)
@click.option(
    "--expires-in",
    "expires_in",
    type=click.IntRange(1, 3650),
    default=None,
    metavar="DAYS",
    help="The token stops working after DAYS days (a deployment's length).",
)
@click.option(
    "--expires-at",
    "expires_at",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="The token stops working at this UTC date or time (e.g. 2027-03-31).",
)
@pass_state
@handle_errors
def app_user_create(
    state: CliState,
    name: str,
    project_id: int | None,
    base_url: str | None,
    expires_in: int | None,
    expires_at: datetime | None,
) -> None:
    from server.accounts import service as accounts
    from server.accounts.schemas import app_user_expiry
    from server.public_url import public_url

    if expires_in is not None and expires_at is not None:
        fail("give --expires-in or --expires-at, not both", EXIT_USAGE)
    expiry = app_user_expiry(
        expires_at.replace(tzinfo=UTC) if expires_at is not None else None, expires_in
    )
    with state.transaction() as session:
        project = chosen_project(session, project_id)
        issued = accounts.create_app_user(session, project, name, expires_at=expiry)
    base = public_url(state.settings, base_url)
    _warn_about(base.url, base.guessed, base.reason)
    until = f", valid until {expiry.isoformat()}" if expiry else ""
    click.echo(f"created app user {issued.app_user.id} ({name}) in project {project.id}{until}")
    click.echo("configure ODK Collect with this server URL (shown once):")
    click.echo(f"{base.url}/v1/key/{issued.token}/projects/{project.id}")


def _warn_about(url: str, guessed: bool, reason: str) -> None:
    """Say on standard error what a coordinator must know before typing the URL into tablets."""
    from server.public_url import is_loopback, lan_addresses, with_host

    if guessed:
        click.echo(
            f"note: {url} is a guess ({reason}); set FIELDSYNC_PUBLIC_URL or pass --base-url "
            "with the address tablets use",
            err=True,
        )
    if is_loopback(url):
        suggestions = [with_host(url, address) for address in lan_addresses()]
        where = (
            "; this machine is reachable at " + ", ".join(suggestions)
            if suggestions
            else "; this machine has no network address right now"
        )
        click.echo(
            f"warning: {url} is this computer only, tablets cannot reach it{where} "
            "(serve with 'fieldsync-server run --host 0.0.0.0')",
            err=True,
        )


@app_user.command("list", help="List device identities.")
@click.option("--project", "project_id", type=int, default=None)
@pass_state
@handle_errors
def app_user_list(state: CliState, project_id: int | None) -> None:
    from server.accounts import service as accounts

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        for row in accounts.list_app_users(session, project.id):
            if row.revoked_at:
                status = "revoked"
            elif not accounts.app_user_usable(row):
                status = "expired"
            else:
                status = "active"
            click.echo(f"{row.id}\t{row.display_name}\t{status}")


@app_user.command("revoke", help="Revoke a device token; the device gets 403 from then on.")
@click.argument("app_user_id", type=int)
@pass_state
@handle_errors
def app_user_revoke(state: CliState, app_user_id: int) -> None:
    from server.accounts import service as accounts

    with state.transaction() as session:
        accounts.revoke_app_user(session, accounts.get_app_user(session, app_user_id))
    click.echo(f"revoked app user {app_user_id}")
