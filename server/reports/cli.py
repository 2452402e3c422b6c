"""``fieldsync-server reports ...``: coalition reports written to a file, strategy targets,
taskings, the project's report settings, and rebuilding the reporting tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from server.console import CliState, handle_errors, pass_state
from server.projects.cli import chosen_project

_PROJECT = click.option(
    "--project", "project_id", type=int, default=None, help="Project (default: the first project)."
)


@click.group(
    help=(
        "Coalition reports: CCM Article 7 (Forms F-I), Landmine and Cluster Munition Monitor "
        "figures, the 3W/4W matrix, progress against the national strategy (docs/reports.md)."
    )
)
def reports() -> None:
    pass


@reports.command(
    "build",
    help=(
        "Write REPORT (article7, monitor, who-what-where or strategy) to a file. Article 7 and "
        "the Monitor take --year; the 3W matrix takes --year, --quarter, --month or "
        "--from/--to, and --admin, --operator; strategy takes --as-of and --admin. Only "
        "approved reports count unless the project's settings or --all-reports say otherwise."
    ),
)
@click.argument("report", type=click.Choice(["article7", "monitor", "who-what-where", "strategy"]))
@_PROJECT
@click.option("--year", help="Calendar year, e.g. 2026.")
@click.option("--quarter", help="Quarter, e.g. 2026-Q2.")
@click.option("--month", help="Month, e.g. 2026-03.")
@click.option("--from", "start", help="First day of a date range (YYYY-MM-DD).")
@click.option("--to", "end", help="Last day of a date range (YYYY-MM-DD).")
@click.option("--admin", help="Province or district P-code (e.g. LA09).")
@click.option("--operator", help="Operator (organisation) as the reports name it.")
@click.option("--as-of", "as_of", help="Strategy progress on this date (default: today).")
@click.option(
    "--approved-only/--all-reports",
    "approved_only",
    default=None,
    help="Count approved reports only, or every report (default: the project's setting).",
)
@click.option("--explain", is_flag=True, help="Name the submissions behind each figure (JSON).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "xlsx", "html"]),
    default="json",
    show_default=True,
)
@click.option("--out", type=click.Path(path_type=Path), help="File (default: REPORT.FORMAT).")
@pass_state
@handle_errors
def build(state: CliState, report: str, project_id: int | None, **options: object) -> None:
    from server.exports.cli_options import write_atomically
    from server.reports import service
    from server.reports.render import RENDERERS

    fmt = str(options.pop("fmt"))
    out = options.pop("out")
    names = {"start": "from", "end": "to"}
    args: dict[str, str] = {}
    for name, value in options.items():
        if value is None or (name == "explain" and value is False):
            continue
        args[names.get(name, name)] = str(value).lower() if isinstance(value, bool) else str(value)
    with state.transaction() as session:
        project = chosen_project(session, project_id)
        built = service.build(session, project, report, args)
        body = RENDERERS[fmt](built)
    target = out if isinstance(out, Path) else Path(f"{report}.{fmt}")
    size = write_atomically(target, [body])
    click.echo(f"{built.title}, {built.period}: {size} bytes written to {target}")


@reports.command("settings", help="Show or change the project's report settings.")
@_PROJECT
@click.option(
    "--approved-only/--all-reports",
    "approved_only",
    default=None,
    help="Whether reports count approved reports only by default.",
)
@click.option("--min-cell-size", type=int, help="Smallest count of people shown (default 5).")
@pass_state
@handle_errors
def settings(
    state: CliState, project_id: int | None, approved_only: bool | None, min_cell_size: int | None
) -> None:
    from server.reports import service

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        if approved_only is None and min_cell_size is None:
            chosen = service.settings_of(session, project.id)
        else:
            chosen = service.update_settings(
                session, project.id, approved_only=approved_only, min_cell_size=min_cell_size
            )
    click.echo(
        f"approved reports only: {'yes' if chosen.approved_only else 'no'}; "
        f"minimum cell size: {chosen.min_cell_size}"
    )


@reports.group("target", help="National strategy targets.")
def target() -> None:
    pass


@target.command("add", help="Add a target: METRIC is released_m2, cleared_m2 or areas_closed.")
@_PROJECT
@click.option("--label", required=True)
@click.option(
    "--metric", required=True, type=click.Choice(["released_m2", "cleared_m2", "areas_closed"])
)
@click.option("--value", "target_value", type=float, required=True, help="m², or areas.")
@click.option("--start", "start_date", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--by", "target_date", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--admin", "admin_pcode", default="", help="P-code (default: national).")
@pass_state
@handle_errors
def target_add(state: CliState, project_id: int | None, **fields: object) -> None:
    from server.reports import service
    from server.reports.strategy import NewTarget

    start, by = fields.pop("start_date"), fields.pop("target_date")
    assert hasattr(start, "date") and hasattr(by, "date")
    with state.transaction() as session:
        project = chosen_project(session, project_id)
        row = service.add_target(
            session,
            project.id,
            NewTarget(
                label=str(fields["label"]),
                metric=str(fields["metric"]),
                target_value=float(fields["target_value"]),  # type: ignore[arg-type]
                start_date=start.date(),
                target_date=by.date(),
                admin_pcode=str(fields["admin_pcode"]),
            ),
        )
        click.echo(f"target {row.id} added: {row.label}")


@target.command("list", help="List the project's strategy targets.")
@_PROJECT
@pass_state
@handle_errors
def target_list(state: CliState, project_id: int | None) -> None:
    from server.reports import service

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        for row in service.list_targets(session, project.id):
            where = row.admin_pcode or "national"
            click.echo(
                f"{row.id}\t{row.label}\t{where}\t{row.metric}\t{row.target_value:g}\t"
                f"{row.start_date}..{row.target_date}"
            )


@target.command("remove", help="Remove strategy target ID.")
@click.argument("target_id", type=int)
@_PROJECT
@pass_state
@handle_errors
def target_remove(state: CliState, target_id: int, project_id: int | None) -> None:
    from server.reports import service

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        service.remove_target(session, project.id, target_id)
    click.echo(f"target {target_id} removed")


@reports.command("tasking", help="Record that OPERATOR is tasked on a hazard area for a period.")
@_PROJECT
@click.option("--operator", required=True)
@click.option("--hazard-area", required=True, help="The hazard area's id (entity id).")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--task-id", default="")
@pass_state
@handle_errors
def tasking(
    state: CliState,
    project_id: int | None,
    operator: str,
    hazard_area: str,
    start: date,
    end: date,
    task_id: str,
) -> None:
    from server.reports import service

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        row = service.add_tasking(
            session,
            project.id,
            operator=operator,
            hazard_area=hazard_area,
            start_date=start.date() if hasattr(start, "date") else start,
            end_date=end.date() if hasattr(end, "date") else end,
            task_id=task_id,
        )
        click.echo(f"tasking {row.id} recorded")


@reports.command(
    "rebuild-facts",
    help="Recompute the reporting tables of a project from its stored submissions.",
)
@_PROJECT
@pass_state
@handle_errors
def rebuild_facts(state: CliState, project_id: int | None) -> None:
    from server.reports import facts

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        written = facts.rebuild(session, project.id)
    click.echo(f"{written} submissions read into the reporting tables")
