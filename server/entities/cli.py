"""``fieldsync-server entities ...``: backlog processing and list settings."""

from __future__ import annotations

from datetime import timedelta

import click

from server.console import CliState, handle_errors, pass_state
from server.projects.cli import chosen_project


@click.group(help="Shared records (entity lists): backlog and settings.")
def entities() -> None:
    pass


@entities.command(
    "process-backlog",
    help=(
        "Retry offline entity updates held because their predecessor (or their entity) has not "
        "arrived; with --force, apply the rest anyway (flagged). Without --force, updates held "
        "longer than FIELDSYNC_BACKLOG_FORCE_AFTER_SECONDS (default 5 days) are force-applied."
    ),
)
@click.option("--force", is_flag=True, help="Force-apply everything still held.")
@pass_state
@handle_errors
def process_backlog(state: CliState, force: bool) -> None:
    from server.entities.inbox import process_backlog as run

    delay = timedelta(seconds=state.settings.entity_backlog_force_after_seconds)
    with state.transaction() as session:
        report = run(session, force=force, older_than=delay)
    click.echo(
        f"applied {report.applied}, force-applied {report.forced}, still held {report.still_held}"
    )


@entities.command(
    "require-approval",
    help=("Apply a list's updates only once their submission is approved (on), or at once (off)."),
)
@click.argument("list_name")
@click.argument("setting", type=click.Choice(["on", "off"]))
@click.option("--project", "project_id", type=int, default=None)
@pass_state
@handle_errors
def require_approval(state: CliState, list_name: str, setting: str, project_id: int | None) -> None:
    from server.entities.review import set_approval_required

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        set_approval_required(session, project.id, list_name, setting == "on")
    click.echo(f"list {list_name}: approval required {setting}")
