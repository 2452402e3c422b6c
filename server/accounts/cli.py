"""``fieldsync-server user ...`` and ``fieldsync-server app-user ...``: people and devices."""

from __future__ import annotations

import click

from server.console import CliState, handle_errors, pass_state, read_password
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
@pass_state
@handle_errors
def user_create(
    state: CliState, email: str, role: str | None, project_id: int | None, site_admin: bool
) -> None:
    from server.accounts import service as accounts
    from server.accounts.models import Role

    password = read_password()
    with state.transaction() as session:
        created = accounts.create_user(session, email, password, site_admin=site_admin)
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
            admin = " site-admin" if row.user.is_site_admin else ""
            click.echo(f"{row.user.id}\t{row.user.email}\t{described}{admin}")


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
@pass_state
@handle_errors
def app_user_create(
    state: CliState, name: str, project_id: int | None, base_url: str | None
) -> None:
    from server.accounts import service as accounts
    from server.public_url import public_url

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        issued = accounts.create_app_user(session, project, name)
    base = public_url(state.settings, base_url)
    _warn_about(base.url, base.guessed, base.reason)
    click.echo(f"created app user {issued.app_user.id} ({name}) in project {project.id}")
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
            status = "revoked" if row.revoked_at else "active"
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
