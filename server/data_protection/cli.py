"""``fieldsync-server personal-data ...``: retention periods, the purge, withdrawals, the
survivor caseworker permission; and ``app-user assign`` (Central's form assignments)."""

from __future__ import annotations

import click

from server.console import CliState, handle_errors, pass_state
from server.projects.cli import chosen_project


@click.group("personal-data", help="Personal data: retention, purge, consent, caseworkers.")
def personal_data() -> None:
    pass


@personal_data.command(
    "retention",
    help="Set how many days FORM_ID's personal answers are kept (0 or more); --clear keeps "
    "them until someone asks.",
)
@click.argument("form_id")
@click.argument("days", type=click.IntRange(min=0), required=False)
@click.option("--clear", is_flag=True, help="No retention period.")
@click.option("--project", "project_id", type=int, default=None, help="Project id.")
@pass_state
@handle_errors
def retention(
    state: CliState, form_id: str, days: int | None, clear: bool, project_id: int | None
) -> None:
    from server.audit import service as audit
    from server.forms import service as forms

    if (days is None) == (not clear):
        raise click.UsageError("give DAYS or --clear")
    with state.transaction() as session:
        project = chosen_project(session, project_id)
        form = forms.get_form(session, project.id, form_id)
        form.personal_retention_days = None if clear else days
        audit.record(
            session,
            "personal_data.retention",
            project_id=project.id,
            target_type="form",
            target_id=form_id,
            days=form.personal_retention_days,
        )
    click.echo(
        f"{form_id}: personal answers kept "
        + ("until someone asks" if clear else f"for {days} days")
    )


@personal_data.command(
    "purge",
    help="Remove personal answers, their files and the personal properties of the records "
    "they fed, for submissions older than their form's retention period. Counts and "
    "pseudonymous records stay; every purge is audited.",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--project", "project_id", type=int, default=None, help="Only this project.")
@pass_state
@handle_errors
def purge(state: CliState, dry_run: bool, project_id: int | None) -> None:
    from server.data_protection.purge import delete_files
    from server.data_protection.purge import purge as run_purge

    with state.transaction() as session:
        report = run_purge(session, dry_run=dry_run, project_id=project_id)
    if not dry_run:
        delete_files(state.runtime.blobs, report)
    verb = "would remove" if dry_run else "removed"
    if not report.forms:
        click.echo("no form has a retention period (see `personal-data retention`)")
    for done in report.forms:
        click.echo(
            f"project {done.project_id} {done.form_id} (older than {done.retention_days} days): "
            f"{verb} personal answers of {done.versions} submission versions, "
            f"{done.files} files, personal properties of {done.entities} records"
        )


@personal_data.command(
    "withdraw",
    help="Record that the person of record UUID in LIST withdrew consent: the record leaves "
    "devices at their next refresh and every export; a tombstone stays.",
)
@click.argument("list_name")
@click.argument("uuid")
@click.option("--project", "project_id", type=int, default=None, help="Project id.")
@pass_state
@handle_errors
def withdraw(state: CliState, list_name: str, uuid: str, project_id: int | None) -> None:
    from server.entities import records
    from server.personal.consent import withdraw as record_withdrawal

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        entity_list = records.get_list(session, project.id, list_name)
        entity = records.get_entity(session, entity_list, uuid)
        created = record_withdrawal(
            session,
            project.id,
            list_name,
            entity.uuid,
            source="api",
            version=entity.current_version,
        )
    click.echo(f"{list_name}/{uuid}: consent withdrawn" + ("" if created else " (already)"))


@personal_data.command(
    "caseworker",
    help="Give EMAIL the survivor caseworker permission (may read personal data, audited) in "
    "the project where they hold a role; --revoke takes it away.",
)
@click.argument("email")
@click.option("--revoke", is_flag=True, help="Take the permission away.")
@click.option("--project", "project_id", type=int, default=None, help="Project id.")
@pass_state
@handle_errors
def caseworker(state: CliState, email: str, revoke: bool, project_id: int | None) -> None:
    from server import errors
    from server.accounts import service as accounts
    from server.accounts.models import Role

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        user = accounts.get_user_by_email(session, email)
        held = accounts.role_in(session, user, project.id)
        if held is None:
            raise errors.not_found("Role", f"{email} has no role in project {project.id}")
        accounts.grant_role(session, user, project, Role(held), personal_data=not revoke)
    click.echo(f"{email}: " + ("no longer" if revoke else "now") + " a survivor caseworker")


@click.command("assign", help="Assign FORM_ID to device APP_USER_ID (Central's form assignment).")
@click.argument("app_user_id", type=int)
@click.argument("form_id")
@pass_state
@handle_errors
def app_user_assign(state: CliState, app_user_id: int, form_id: str) -> None:
    from server.accounts import assignments
    from server.accounts import service as accounts
    from server.forms import service as forms

    with state.transaction() as session:
        app_user = accounts.get_app_user(session, app_user_id)
        form = forms.get_form(session, app_user.project_id, form_id)
        assignments.assign_form(session, app_user, form.id)
    click.echo(f"assigned {form_id} to app user {app_user_id}")
