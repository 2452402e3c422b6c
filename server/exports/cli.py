"""``fieldsync-server export``: a form's export written to a file, for scripts on the server.

The same files as the HTTP routes (see docs/exports.md), written to a temporary file next to
``--out`` and renamed into place when complete, so a failure never leaves half a file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from server.console import (
    CliState,
    fail,
    handle_errors,
    pass_state,
    passphrase_stdin_option,
    read_passphrase,
)
from server.exports.cli_options import export_options, option_args, write_atomically
from server.exports.options import ExportFormat, parse_options


@click.command(
    "export",
    help=(
        "Export FORM_ID's submissions in ODK Central's shape (csv.zip, csv), as XLSX or as "
        "GeoJSON, to a file. With --passphrase-stdin the project's encrypted submissions "
        "are decrypted in memory into the CSV export (csv.zip or csv); a wrong passphrase "
        "exports nothing."
    ),
)
@click.argument("form_id")
@click.option("--project", "project_id", type=int, required=True, help="Project id.")
@export_options
@passphrase_stdin_option
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
    passphrase_stdin: bool,
) -> None:
    from server.exports import service
    from server.forms import service as forms
    from server.forms.personal import submission_guard
    from server.personal.access import Access

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
    passphrase = read_passphrase(True) if passphrase_stdin else None
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
            passphrase=passphrase,
            # A script has no caseworker behind it: personal fields stay out (use the API),
            # unless it gives the project's encryption passphrase, which is what the survivor
            # data is sealed with; that read is audited like a caseworker's (ADR 0015, 0016).
            guard=submission_guard(
                session,
                forms.get_form(session, project_id, form_id),
                Access(project_id, may_read=passphrase is not None),
                export=True,
            ),
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
