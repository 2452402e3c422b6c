"""``fieldsync-server``: set up, administer and serve a fieldsync server.

Every failure a user can cause ends in one line on standard error and a non-zero exit code;
no stack trace reaches the terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

import click
from sqlalchemy import select
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session

from server.errors import Problem
from server.settings import BUNDLED_FORMS_DIR, Settings, SettingsError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_DATABASE = 4
EXIT_REFUSED = 1


class CliState:
    def __init__(self) -> None:
        self._runtime: Any = None

    @property
    def settings(self) -> Settings:
        return cast(Settings, self.runtime.settings)

    @property
    def runtime(self) -> Any:
        if self._runtime is None:
            from server.web import make_runtime

            self._runtime = make_runtime(Settings.from_env())
        return self._runtime

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        from server.db import transaction

        with transaction(self.runtime.session_factory) as session:
            yield session


def fail(message: str, code: int = EXIT_REFUSED) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn every expected failure into one line and an exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Problem as exc:
            fail(describe_problem(exc))
        except SettingsError as exc:
            fail(str(exc), EXIT_CONFIG)
        except ArgumentError as exc:
            fail(f"DATABASE_URL is malformed: {exc}", EXIT_CONFIG)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            fail(f"cannot reach the database: {reason}", EXIT_DATABASE)
        return None

    return cast(F, wrapper)


def describe_problem(problem: Problem) -> str:
    field_errors = problem.extra.get("errors")
    if isinstance(field_errors, dict) and field_errors:
        return "; ".join(
            f"{name}: {', '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
            for name, msgs in sorted(field_errors.items())
        )
    return problem.detail


pass_state = click.make_pass_decorator(CliState, ensure=True)


@click.group(
    help=(
        "Administer and serve a fieldsync server.\n\n"
        "Configuration comes from the environment: DATABASE_URL (default: a SQLite file in "
        "FIELDSYNC_DATA_DIR, default ./instance), SECRET_KEY (required when "
        "FIELDSYNC_ENV=production), FIELDSYNC_PUBLIC_URL (the URL devices reach the server at)."
    )
)
@click.version_option(package_name="fieldsync")
def main() -> None:
    pass


# --- setup ---------------------------------------------------------------------------------------


@main.command(
    help="Create or upgrade the database, create the default project and an "
    "administrator (password printed once), and publish the bundled forms."
)
@click.option(
    "--admin-email",
    default="admin@fieldsync.local",
    show_default=True,
    help="Email of the administrator created on first run.",
)
@click.option(
    "--project-name",
    default="Default project",
    show_default=True,
    help="Name of the project created on first run.",
)
@click.option(
    "--forms-dir",
    type=click.Path(path_type=Path),
    default=BUNDLED_FORMS_DIR,
    show_default=True,
    help="Folder whose *.xlsx forms are published.",
)
@click.option("--no-forms", is_flag=True, help="Do not publish the bundled forms.")
@pass_state
@handle_errors
def init(
    state: CliState, admin_email: str, project_name: str, forms_dir: Path, no_forms: bool
) -> None:
    from server.accounts import service as accounts
    from server.accounts.models import Role, User
    from server.accounts.security import new_password
    from server.forms import service as forms
    from server.migrate import upgrade
    from server.projects import service as projects
    from server.projects.models import Project

    upgrade(state.runtime.engine)
    click.echo(f"database ready ({state.settings.database_backend})")
    with state.transaction() as session:
        project = session.scalars(select(Project).order_by(Project.id)).first()
        if project is None:
            project = projects.create_project(session, project_name)
            click.echo(f"created project {project.id}: {project.name}")
        password = None
        if session.scalars(select(User)).first() is None:
            password = new_password()
            admin = accounts.create_user(session, admin_email, password, site_admin=True)
            accounts.grant_role(session, admin, project, Role.ADMINISTRATOR)
        files = [] if no_forms else forms.bundled_form_files(forms_dir)
        results = forms.publish_many(
            session, state.runtime.blobs, project, files, max_bytes=state.settings.max_form_bytes
        )
    for result in results:
        status = "published" if result.created else "unchanged"
        click.echo(f"form {result.form.xml_form_id} version {result.version.version}: {status}")
    if password:
        click.echo(f"administrator: {admin_email}")
        click.echo(f"password (shown once, store it now): {password}")


@main.group(help="Database maintenance.")
def db() -> None:
    pass


@db.command("upgrade", help="Apply pending migrations.")
@pass_state
@handle_errors
def db_upgrade(state: CliState) -> None:
    from server.migrate import current_revision, upgrade

    upgrade(state.runtime.engine)
    click.echo(f"database at revision {current_revision(state.runtime.engine)}")


# --- serving -------------------------------------------------------------------------------------


@main.command(help="Serve with a production WSGI server (waitress).")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; 0.0.0.0 to accept tablets on the local network.",
)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@pass_state
@handle_errors
def run(state: CliState, host: str, port: int, threads: int) -> None:
    import waitress

    from server import create_app
    from server.migrate import current_revision, head_revision

    settings = Settings.from_env()
    app = create_app(settings)
    engine = app.extensions["fieldsync"].engine
    if current_revision(engine) != head_revision(settings.database_url):
        fail("the database is not initialised or not up to date: run 'fieldsync-server init'")
    click.echo(f"fieldsync serving on http://{host}:{port} ({settings.database_backend})")
    waitress.serve(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="fieldsync",
        max_request_body_size=settings.max_upload_bytes + 1024 * 1024,
        channel_timeout=300,
        _quiet=True,
    )


# --- users ---------------------------------------------------------------------------------------


@main.group(help="Web and API users.")
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

    password = _read_password()
    with state.transaction() as session:
        created = accounts.create_user(session, email, password, site_admin=site_admin)
        if role:
            project = _project(session, project_id)
            accounts.grant_role(session, created, project, Role(role))
    click.echo(
        f"created user {created.email}" + (f" ({role} in project {project.id})" if role else "")
    )


@user.command("list", help="List users and their roles.")
@pass_state
@handle_errors
def user_list(state: CliState) -> None:
    from server.accounts.models import ProjectRole, User

    with state.transaction() as session:
        for row in session.scalars(select(User).order_by(User.id)):
            roles = session.execute(
                select(ProjectRole.project_id, ProjectRole.role).where(
                    ProjectRole.user_id == row.id
                )
            ).all()
            described = ", ".join(f"{r} in {p}" for p, r in roles) or "no project role"
            admin = " site-admin" if row.is_site_admin else ""
            click.echo(f"{row.id}\t{row.email}\t{described}{admin}")


@user.command(
    "revoke-sessions",
    help="Revoke every API token of a user (a lost laptop, a field hub taken out of service).",
)
@click.argument("email")
@pass_state
@handle_errors
def user_revoke_sessions(state: CliState, email: str) -> None:
    from server.accounts import service as accounts
    from server.accounts.models import User

    with state.transaction() as session:
        target = session.scalars(
            select(User).where(User.email == accounts.normalise_email(email))
        ).first()
        if target is None:
            fail(f"no user {email}")
        assert target is not None
        count = accounts.revoke_all_sessions(session, target)
    click.echo(f"revoked {count} tokens of {email}")


def _read_password() -> str:
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail(
            "no password on standard input (echo 'the-password' | fieldsync-server user ...)",
            EXIT_USAGE,
        )
    return password


# --- app users -----------------------------------------------------------------------------------


@main.group("app-user", help="Device identities (tablets running ODK Collect).")
def app_user() -> None:
    pass


@app_user.command(
    "create",
    help="Create a device token; the last line printed is the server URL to enter in ODK Collect.",
)
@click.argument("name")
@click.option(
    "--project", "project_id", type=int, default=None, help="Project (default: the first project)."
)
@click.option(
    "--base-url",
    default=None,
    help="URL devices reach the server at (default: FIELDSYNC_PUBLIC_URL or "
    "http://127.0.0.1:5000).",
)
@pass_state
@handle_errors
def app_user_create(
    state: CliState, name: str, project_id: int | None, base_url: str | None
) -> None:
    from server.accounts import service as accounts

    with state.transaction() as session:
        project = _project(session, project_id)
        issued = accounts.create_app_user(session, project, name)
    base = (base_url or state.settings.public_url or "http://127.0.0.1:5000").rstrip("/")
    click.echo(f"created app user {issued.app_user.id} ({name}) in project {project.id}")
    click.echo("configure ODK Collect with this server URL (shown once):")
    click.echo(f"{base}/v1/key/{issued.token}/projects/{project.id}")


@app_user.command("list", help="List device identities.")
@click.option("--project", "project_id", type=int, default=None)
@pass_state
@handle_errors
def app_user_list(state: CliState, project_id: int | None) -> None:
    from server.accounts.models import AppUser

    with state.transaction() as session:
        project = _project(session, project_id)
        for row in session.scalars(
            select(AppUser).where(AppUser.project_id == project.id).order_by(AppUser.id)
        ):
            status = "revoked" if row.revoked_at else "active"
            click.echo(f"{row.id}\t{row.display_name}\t{status}")


@app_user.command("revoke", help="Revoke a device token; the device gets 403 from then on.")
@click.argument("app_user_id", type=int)
@pass_state
@handle_errors
def app_user_revoke(state: CliState, app_user_id: int) -> None:
    from server.accounts import service as accounts
    from server.accounts.models import AppUser

    with state.transaction() as session:
        row = session.get(AppUser, app_user_id)
        if row is None:
            fail(f"no app user {app_user_id}")
        assert row is not None
        accounts.revoke_app_user(session, row)
    click.echo(f"revoked app user {app_user_id}")


# --- projects and forms --------------------------------------------------------------------------


@main.group(help="Projects (one per country coalition or programme).")
def projects() -> None:
    pass


@projects.command("list", help="List projects.")
@pass_state
@handle_errors
def projects_list(state: CliState) -> None:
    from server.projects.service import list_projects

    with state.transaction() as session:
        for project in list_projects(session, None):
            click.echo(f"{project.id}\t{project.name}")


@projects.command("create", help="Create a project.")
@click.argument("name")
@pass_state
@handle_errors
def projects_create(state: CliState, name: str) -> None:
    from server.projects.service import create_project

    with state.transaction() as session:
        project = create_project(session, name)
    click.echo(f"created project {project.id}: {project.name}")


@main.group(help="Publish and manage forms.")
def forms() -> None:
    pass


@forms.command("publish", help="Compile and publish XLSForm (.xlsx, .xls) or XForm (.xml) files.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--project", "project_id", type=int, default=None, help="Project (default: the first project)."
)
@pass_state
@handle_errors
def forms_publish(state: CliState, files: tuple[Path, ...], project_id: int | None) -> None:
    from server.forms import service

    for path in files:
        if not path.is_file():
            fail(f"{path}: no such file", EXIT_USAGE)
    with state.transaction() as session:
        project = _project(session, project_id)
        results = service.publish_many(
            session,
            state.runtime.blobs,
            project,
            list(files),
            max_bytes=state.settings.max_form_bytes,
        )
    for result in results:
        status = "published" if result.created else "unchanged"
        click.echo(f"form {result.form.xml_form_id} version {result.version.version}: {status}")
        for warning in result.warnings:
            click.echo(f"  warning: {warning}")


@forms.command("list", help="List forms with their version and state.")
@click.option("--project", "project_id", type=int, default=None)
@pass_state
@handle_errors
def forms_list(state: CliState, project_id: int | None) -> None:
    from server.forms import service

    with state.transaction() as session:
        project = _project(session, project_id)
        for form in service.list_forms(session, project.id):
            click.echo(f"{form.xml_form_id}\t{form.current_version}\t{form.state}\t{form.name}")


@forms.command("state", help="Set a form's state: open, closing (no new downloads) or closed.")
@click.argument("form_id")
@click.argument("new_state", type=click.Choice(["open", "closing", "closed"]))
@click.option("--project", "project_id", type=int, default=None)
@pass_state
@handle_errors
def forms_state(state: CliState, form_id: str, new_state: str, project_id: int | None) -> None:
    from server.forms import service
    from server.forms.models import FormState

    with state.transaction() as session:
        project = _project(session, project_id)
        service.set_state(
            session, service.get_form(session, project.id, form_id), FormState(new_state), None
        )
    click.echo(f"form {form_id} is now {new_state}")


def _project(session: Session, project_id: int | None) -> Any:
    from server.projects.models import Project
    from server.projects.service import get_project

    if project_id is not None:
        return get_project(session, project_id)
    project = session.scalars(select(Project).order_by(Project.id)).first()
    if project is None:
        fail("there is no project yet: run 'fieldsync-server init'")
    return project


def _register_groups() -> None:
    # Command groups of other packages register themselves on ``main`` when imported.
    import server.entities.cli  # noqa: F401
    from server.gazetteer.cli import gazetteer

    main.add_command(gazetteer)


_register_groups()

if __name__ == "__main__":
    main()
