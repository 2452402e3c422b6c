"""``fieldsync-server forms ...``: publish and manage forms."""

from __future__ import annotations

from pathlib import Path

import click

from server.console import EXIT_USAGE, CliState, fail, handle_errors, pass_state
from server.projects.cli import chosen_project


@click.group(help="Publish and manage forms.")
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
        project = chosen_project(session, project_id)
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
        project = chosen_project(session, project_id)
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
        project = chosen_project(session, project_id)
        service.set_state(
            session, service.get_form(session, project.id, form_id), FormState(new_state), None
        )
    click.echo(f"form {form_id} is now {new_state}")
