"""``fieldsync-server``: set up, administer and serve a fieldsync server.

The whole command tree is assembled here: setup and serving below, and each package's group
(users and devices, projects, forms, shared records) registered by name at the end. What
commands share (the runtime, one-line failures and exit codes) is in :mod:`server.console`.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click

from server.accounts.cli import app_user, user
from server.blobs.cli import migrate as blobs_migrate
from server.bundles.cli import bundle_group, keys_group
from server.console import (
    CliState,
    fail,
    handle_errors,
    pass_state,
    passphrase_stdin_option,
    read_passphrase,
)
from server.data_protection.cli import app_user_assign, personal_data
from server.donors.cli import donors
from server.entities.cli import entities
from server.exports import cli as exports_cli
from server.forms.cli import forms
from server.gazetteer.cli import gazetteer
from server.intake import cli as intake_cli
from server.projects.cli import projects
from server.reports.cli import reports
from server.runtime import make_runtime
from server.settings import BUNDLED_FORMS_DIR, Settings
from server.sync.cli import blobs, start_sweeper

CliState.open_runtime = make_runtime


@click.group(
    help=(
        "Administer and serve a fieldsync server.\n\n"
        "Configuration comes from the environment: DATABASE_URL (default: a SQLite file in "
        "FIELDSYNC_DATA_DIR, default ./instance), SECRET_KEY (required when "
        "FIELDSYNC_ENV=production), FIELDSYNC_PUBLIC_URL (the URL devices reach the server at), "
        "FIELDSYNC_BLOB_STORE (file, the default, or database: where attachments live)."
    )
)
@click.version_option(package_name="fieldsync")
def main() -> None:
    pass


# --- setup ---------------------------------------------------------------------------------------


@main.command(
    help="Create or upgrade the database, create the default project (its survivor forms "
    "encrypted: the passphrase is generated and printed once unless --passphrase-stdin gives "
    "it) and an administrator (password printed once), and publish the bundled forms."
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
@passphrase_stdin_option
@click.option(
    "--no-encryption",
    is_flag=True,
    help="Create the first project without an encryption key (survivor forms in clear).",
)
@pass_state
@handle_errors
def init(
    state: CliState,
    admin_email: str,
    project_name: str,
    forms_dir: Path,
    no_forms: bool,
    passphrase_stdin: bool,
    no_encryption: bool,
) -> None:
    from server.accounts import service as accounts
    from server.accounts.models import Role
    from server.accounts.security import new_passphrase, new_password
    from server.forms import service as forms_service
    from server.gazetteer import service as gazetteer_service
    from server.migrate import upgrade
    from server.projects import keys
    from server.projects import service as projects_service
    from server.projects.models import KeyScope

    upgrade(state.runtime.engine)
    click.echo(f"database ready ({state.settings.database_backend})")
    passphrase = generated = None
    with state.transaction() as session:
        project = projects_service.first_project(session)
        if project is None:
            project = projects_service.create_project(session, project_name)
            click.echo(f"created project {project.id}: {project.name}")
            # A new project encrypts its survivor forms from the tablet on (ADR 0016).
            if not no_encryption:
                passphrase = read_passphrase(True) if passphrase_stdin else None
                if passphrase is None:
                    passphrase = generated = new_passphrase()
                key = keys.create_key(session, project, passphrase, scope=KeyScope.SURVIVOR_FORMS)
                click.echo(f"survivor forms are encrypted with key {key.id}")
        password = None
        if not accounts.any_user_exists(session):
            password = new_password()
            admin = accounts.create_user(session, admin_email, password, site_admin=True)
            accounts.grant_role(session, admin, project, Role.ADMINISTRATOR)
        files = [] if no_forms else forms_service.bundled_form_files(forms_dir)
        results = forms_service.publish_many(
            session, state.runtime.blobs, project, files, max_bytes=state.settings.max_form_bytes
        )
        # The forms select places from gazetteer.csv: send the project's gazetteer (the bundled
        # Lao PDR one until another is imported) with them, or devices cannot open them.
        places = gazetteer_service.publish(session, state.runtime.blobs, project) if files else None
    for result in results:
        status = "published" if result.created else "unchanged"
        click.echo(f"form {result.form.xml_form_id} version {result.version.version}: {status}")
    if places is not None and places.forms:
        click.echo(places.summary())
    if password:
        click.echo(f"administrator: {admin_email}")
        click.echo(f"password (shown once, store it now): {password}")
    if generated:
        click.echo(
            "encryption passphrase for survivor data (shown once, store it now; without it "
            f"nothing encrypted can be read): {generated}"
        )


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


@main.command(
    help=(
        "Serve with a production WSGI server: waitress in one process (the default), or with "
        "--workers N, gunicorn with N worker processes (Linux; use it on a server with several "
        "cores, one worker per core). The address is remembered in FIELDSYNC_DATA_DIR so "
        "'app-user create' can guess the URL for tablets; set FIELDSYNC_PUBLIC_URL to say it."
    )
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; 0.0.0.0 to accept tablets on the local network.",
)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="Threads per process.")
@click.option(
    "--workers",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Worker processes (gunicorn, Linux only); 0 serves with waitress in this process.",
)
@pass_state
@handle_errors
def run(state: CliState, host: str, port: int, threads: int, workers: int) -> None:
    from server import create_app
    from server.migrate import current_revision, head_revision
    from server.public_url import forget_serving_address, record_serving_address
    from server.serving import ServeOptions, gunicorn_available, serve_gunicorn, serve_waitress

    if workers and not gunicorn_available():
        fail(
            "--workers needs gunicorn, which runs on Linux and macOS only; leave it out to serve "
            "with waitress"
        )
    settings = Settings.from_env()
    app = create_app(settings)
    engine = app.extensions["fieldsync"].engine
    if current_revision(engine) != head_revision(settings.database_url):
        fail("the database is not initialised or not up to date: run 'fieldsync-server init'")
    how = f"gunicorn, {workers} workers" if workers else "waitress"
    click.echo(f"fieldsync serving on http://{host}:{port} ({settings.database_backend}, {how})")
    record_serving_address(settings.data_dir, host, port)
    options = ServeOptions(host=host, port=port, threads=threads, workers=workers)
    # The sweeper runs in this process only; the workers it forks open their own engines.
    engine.dispose()
    stop_sweeper = start_sweeper(app.extensions["fieldsync"])
    # A service manager stops the server with SIGTERM: leave through ``finally`` then too.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    try:
        if workers:
            serve_gunicorn(settings, options)
        else:
            serve_waitress(app, settings, options)
    finally:
        stop_sweeper.set()
        forget_serving_address(settings.data_dir)


# --- the command tree ----------------------------------------------------------------------------

blobs.add_command(blobs_migrate)  # fieldsync-server blobs migrate --to database|file
main.add_command(user)  # fieldsync-server user create|list|revoke-sessions
main.add_command(app_user)  # fieldsync-server app-user create|list|revoke
projects.add_command(intake_cli.encrypt)  # ODK managed encryption (ADR 0016)
projects.add_command(intake_cli.decrypt_entities)
main.add_command(projects)  # fieldsync-server projects list|create|encrypt|decrypt-entities
main.add_command(projects, name="project")  # the same group: fieldsync-server project encrypt ID
main.add_command(forms)  # fieldsync-server forms publish|list|state
main.add_command(entities)  # fieldsync-server entities process-backlog|require-approval
main.add_command(gazetteer)  # fieldsync-server gazetteer import|publish
main.add_command(exports_cli.export)  # fieldsync-server export FORM_ID --format ... --out FILE
main.add_command(blobs)  # fieldsync-server blobs sweep
main.add_command(keys_group)  # fieldsync-server keys list|revoke: laptops' bundle keys
main.add_command(bundle_group)  # fieldsync-server bundle import FILE.fsb
main.add_command(donors)  # fieldsync-server donors add|list|agreement|transaction|iati|report
main.add_command(reports)  # fieldsync-server reports build|settings|target|tasking|rebuild-facts
main.add_command(personal_data)  # fieldsync-server personal-data retention|purge|withdraw|...
app_user.add_command(app_user_assign)  # fieldsync-server app-user assign APP_USER_ID FORM_ID

if __name__ == "__main__":
    main()
