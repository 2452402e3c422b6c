"""``fieldsync-server gazetteer ...``: import a country's gazetteer and send it with the forms."""

from __future__ import annotations

from pathlib import Path

import click

from server.console import EXIT_USAGE, CliState, fail, handle_errors, pass_state
from server.projects.cli import chosen_project


@click.group(help="Gazetteer: the administrative areas (P-codes) forms select places from.")
def gazetteer() -> None:
    pass


@gazetteer.command(
    "import",
    help=(
        "Replace the project's gazetteer with FILE, a COD-AB style CSV or XLSX with the columns "
        "admin_level, pcode, parent_pcode, name_en and a local name (e.g. name_lo), and send it "
        "with every form that selects places, so devices get it at their next form update. A "
        "file with a duplicate P-code, a missing parent or a cycle is refused with its row "
        "named, and nothing is changed."
    ),
)
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--project", "project_id", type=int, default=None, help="Project (default: the first project)."
)
@pass_state
@handle_errors
def gazetteer_import(state: CliState, file: Path, project_id: int | None) -> None:
    from server.gazetteer import service

    if not file.is_file():
        fail(f"{file}: no such file", EXIT_USAGE)
    with state.transaction() as session:
        project = chosen_project(session, project_id)
        result = service.import_gazetteer(
            session, state.runtime.blobs, project, file.name, file.read_bytes()
        )
    click.echo(result.summary())


@gazetteer.command(
    "publish",
    help=(
        "Send the project's gazetteer with every form that selects places ('init' does it, and "
        "a newly published form gets the file the project's forms carry); a project without "
        "one gets the bundled Lao PDR gazetteer."
    ),
)
@click.option(
    "--project", "project_id", type=int, default=None, help="Project (default: the first project)."
)
@pass_state
@handle_errors
def gazetteer_publish(state: CliState, project_id: int | None) -> None:
    from server.gazetteer import service

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        result = service.publish(session, state.runtime.blobs, project)
    click.echo(result.summary())


@gazetteer.command(
    "boundaries",
    help=(
        "Store the outlines of the project's admin areas from FILE, a GeoJSON FeatureCollection "
        "as OCHA COD-AB publishes it (one feature per area, its P-code in a property such as "
        "ADM1_PCODE or ADM2_PCODE: the deepest level's, or the one --pcode-property names), "
        "simplified for the web UI's maps, where they are drawn under the records. They replace "
        "the outlines of the levels the file covers. A file that is not GeoJSON, a feature "
        "without a P-code or with one the gazetteer does not have, or a geometry that is not "
        "a valid Polygon or MultiPolygon is refused with the feature named, and nothing is "
        "changed. 'init' stores the bundled Lao PDR provinces' outlines with the bundled "
        "gazetteer."
    ),
)
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--pcode-property",
    default=None,
    metavar="NAME",
    help="The feature property that holds the P-code (default: ADMn_PCODE, deepest n, or pcode).",
)
@click.option(
    "--project", "project_id", type=int, default=None, help="Project (default: the first project)."
)
@pass_state
@handle_errors
def gazetteer_boundaries(
    state: CliState, file: Path, pcode_property: str | None, project_id: int | None
) -> None:
    from server.gazetteer import service

    if not file.is_file():
        fail(f"{file}: no such file", EXIT_USAGE)
    with state.transaction() as session:
        project = chosen_project(session, project_id)
        result = service.import_boundaries(
            session, project, file.name, file.read_bytes(), pcode_property=pcode_property
        )
    click.echo(result.summary())
