"""``fieldsync-server projects ...``."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from server.console import CliState, fail, handle_errors, pass_state
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


@projects.command("create", help="Create a project.")
@click.argument("name")
@pass_state
@handle_errors
def projects_create(state: CliState, name: str) -> None:
    from server.projects.service import create_project

    with state.transaction() as session:
        project = create_project(session, name)
    click.echo(f"created project {project.id}: {project.name}")


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
