"""``fieldsync-server export``: a form's export written to a file, for scripts on the server.

The same files as the HTTP routes (see docs/exports.md), written to a temporary file next to
``--out`` and renamed into place when complete, so a failure never leaves half a file.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import click

from server.cli import CliState, fail, handle_errors, pass_state
from server.exports.options import ExportFormat, parse_options

FORMATS = [f.value for f in ExportFormat]


def write_atomically(out: Path, chunks: Iterable[bytes]) -> int:
    """Write the chunks to ``out`` through a temporary file; returns the bytes written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    size = 0
    try:
        with os.fdopen(fd, "wb") as sink:
            for chunk in chunks:
                sink.write(chunk)
                size += len(chunk)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return size


def option_args(
    attachments: bool,
    group_paths: bool,
    split_select_multiples: bool,
    deleted_fields: bool,
    filter_text: str | None,
    version: str | None,
    field: str | None,
) -> dict[str, str]:
    """The command-line options as the query parameters the HTTP export takes."""
    args = {
        "attachments": str(attachments).lower(),
        "groupPaths": str(group_paths).lower(),
        "splitSelectMultiples": str(split_select_multiples).lower(),
        "deletedFields": str(deleted_fields).lower(),
    }
    for key, value in (("$filter", filter_text), ("version", version), ("field", field)):
        if value is not None:
            args[key] = value
    return args


def export_options(func: Callable[..., None]) -> Callable[..., None]:
    """The options ``fieldsync-server export`` and ``fieldsync export`` share."""
    decorators = [
        click.option(
            "--format",
            "fmt",
            type=click.Choice(FORMATS),
            default="csv.zip",
            show_default=True,
            help="csv.zip (root, repeats, media), csv (root table), xlsx or geojson.",
        ),
        click.option(
            "--out",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="File to write (default: <FORM_ID>.<format> here).",
        ),
        click.option("--no-attachments", is_flag=True, help="csv.zip without media/."),
        click.option("--no-group-paths", is_flag=True, help="Field names without group paths."),
        click.option(
            "--split-select-multiples", is_flag=True, help="One 0/1 column per chosen value."
        ),
        click.option("--deleted-fields", is_flag=True, help="Add fields of earlier form versions."),
        click.option(
            "--filter",
            "filter_text",
            default=None,
            help='OData $filter, e.g. "__system/submissionDate ge 2026-01-01".',
        ),
        click.option("--version", default=None, help="Only this form version."),
        click.option("--field", default=None, help="GeoJSON: the geo field to map."),
    ]
    for decorate in reversed(decorators):
        func = decorate(func)
    return func


@click.command(
    "export",
    help=(
        "Export FORM_ID's submissions in ODK Central's shape (csv.zip, csv), as XLSX or as "
        "GeoJSON, to a file."
    ),
)
@click.argument("form_id")
@click.option("--project", "project_id", type=int, required=True, help="Project id.")
@export_options
@pass_state
@handle_errors
def export(
    state: CliState,
    form_id: str,
    project_id: int,
    fmt: str,
    out: Path | None,
    no_attachments: bool,
    no_group_paths: bool,
    split_select_multiples: bool,
    deleted_fields: bool,
    filter_text: str | None,
    version: str | None,
    field: str | None,
) -> None:
    from server.exports import service

    options = parse_options(
        ExportFormat(fmt),
        option_args(
            not no_attachments,
            not no_group_paths,
            split_select_multiples,
            deleted_fields,
            filter_text,
            version,
            field,
        ),
    )
    runtime = state.runtime
    target = out or Path(f"{form_id}.{fmt}")
    with runtime.session_factory() as session:
        prepared = service.prepare(
            session,
            runtime.session_factory,
            runtime.blobs,
            project_id,
            form_id,
            options,
            role="administrator",
            secret=runtime.settings.secret_key,
        )
    # The session is closed: each page of the export reads in a transaction of its own.
    with click.progressbar(
        length=prepared.count,
        label=f"exporting {prepared.count} submissions",
        file=sys.stderr,
    ) as bar:
        done = [0]

        def advance(n: int) -> None:
            bar.update(n - done[0])
            done[0] = n

        try:
            size = write_atomically(target, service.write(prepared, advance))
        except OSError as exc:
            fail(f"cannot write {target}: {exc.strerror or exc}")
            return
    click.echo(f"wrote {target} ({size} bytes, {prepared.count} submissions)")
