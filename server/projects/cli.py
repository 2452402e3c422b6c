"""``fieldsync-server projects ...``."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from server.console import (
    CliState,
    fail,
    handle_errors,
    pass_state,
    passphrase_stdin_option,
    read_passphrase,
)
from server.projects.models import Project
from server.projects.service import first_project, get_project


@click.group(help="Projects (one per country coalition or programme).")
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


@projects.command(
    "create",
    help=(
        "Create a project. With --passphrase-stdin its survivor forms are published encrypted "
        "(ODK managed encryption); without, it has no key and survivor forms go out in clear "
        "until 'project encrypt ID'."
    ),
)
@click.argument("name")
@passphrase_stdin_option
@click.option("--hint", default="", help="A reminder of the passphrase, shown with the key.")
@pass_state
@handle_errors
def projects_create(state: CliState, name: str, passphrase_stdin: bool, hint: str) -> None:
    from server.projects import keys
    from server.projects.models import KeyScope
    from server.projects.service import create_project

    passphrase = read_passphrase(True) if passphrase_stdin else None
    with state.transaction() as session:
        project = create_project(session, name)
        key = None
        if passphrase is not None:
            key = keys.create_key(
                session, project, passphrase, hint=hint, scope=KeyScope.SURVIVOR_FORMS
            )
    click.echo(f"created project {project.id}: {project.name}")
    if key is not None:
        click.echo(f"survivor forms are encrypted with key {key.id}")
    else:
        click.echo(
            f"project {project.id} has no encryption key: survivor forms are published "
            f"unencrypted until 'fieldsync-server project encrypt {project.id}'",
            err=True,
        )


def chosen_project(session: Session, project_id: int | None) -> Project:
    """The project ``--project`` names, else the first one.

    Raises:
        Problem: 404 for an unknown ``project_id``; exits when there is no project at all.
    """
    if project_id is not None:
        return get_project(session, project_id)
    project = first_project(session)
    if project is None:
        fail("there is no project yet: run 'fieldsync-server init'")
    assert project is not None
    return project
