"""``fieldsync-server projects ...``."""

from __future__ import annotations

import click

from server.console import CliState, handle_errors, pass_state


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
