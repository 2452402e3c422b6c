"""What ``fieldsync-server export`` and the laptop's ``fieldsync export`` share: their options,
turned into the query parameters of the HTTP export, and writing a file atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import click

FORMATS = ["csv.zip", "csv", "xlsx", "geojson"]  # ExportFormat's values


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
