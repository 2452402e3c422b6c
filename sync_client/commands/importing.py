"""``fieldsync import PATH``: queue finished forms copied from tablets, saying what was left
out and why, once per reason rather than once per file."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import click

from sync_client import outbox
from sync_client.commands.common import human_bytes, opened_store, plural
from sync_client.errors import SkippedError
from sync_client.home import fieldsync_home, load_config
from sync_client.importing import ImportReport, import_path
from sync_client.instances import Skipped

# More than this many files for one reason are summarised in one line with a few examples.
EXAMPLES = 3


def _grouped(skipped: list[Skipped]) -> dict[str, list[str]]:
    by_reason: dict[str, list[str]] = defaultdict(list)
    for item in skipped:
        by_reason[item.reason].append(item.display)
    return by_reason


def _print_skipped(label: str, skipped: list[Skipped]) -> None:
    for reason, where in _grouped(skipped).items():
        if len(where) <= EXAMPLES:
            for display in where:
                click.echo(f"  {label} {display}: {reason}")
        else:
            examples = ", ".join(where[:EXAMPLES])
            click.echo(f"  {label} {plural(len(where), 'file')}: {reason} (e.g. {examples}, ...)")


def _print_warnings(report: ImportReport) -> None:
    if len(report.warnings) <= EXAMPLES:
        for folder, text in report.warnings:
            click.echo(f"  warning: {folder}: {text}")
        return
    folders = sorted({folder for folder, _ in report.warnings})
    click.echo(
        f"  warning: {plural(len(folders), 'form')} imported without "
        f"{plural(len(report.warnings), 'file')} their XML names (still on the tablet?), e.g. "
        + ", ".join(folders[:EXAMPLES])
        + ", ..."
    )


@click.command(
    "import",
    help=(
        "Queue finished forms copied from tablets: an ODK Collect instances folder, one "
        "instance folder, or a zip of them. Each instance is checked against the forms last "
        "pulled (a form the server does not have is refused) and the files its XML names (a "
        "missing photo is a warning). Files that are not ODK instances are listed and skipped; "
        "the exit code is 8 when anything had to be skipped."
    ),
)
@click.argument("path", type=click.Path(path_type=Path))
def import_command(path: Path) -> None:
    home = fieldsync_home()
    config = load_config(home)
    with opened_store(home) as store:
        report = import_path(store, path, config.project_id, config.hub_id)
    counts = report.counts
    failed = report.failed
    ignored = len(report.skipped) - len(failed)
    click.echo(
        f"imported {plural(report.imported, 'form')} "
        f"({plural(report.attachments, 'attachment')}, {human_bytes(report.attachment_bytes)}); "
        f"{counts[outbox.AddOutcome.ALREADY]} already imported; "
        f"{plural(len(failed), 'file')} skipped" + (f", {ignored} ignored" if ignored else "")
    )
    if not report.forms_checked:
        click.echo(
            "  note: nothing was pulled yet, so forms were not checked against the server; "
            "run `fieldsync pull` before importing"
        )
    if report.restored:
        click.echo(
            f"restored {plural(report.restored, 'attachment file')} missing from the store; "
            "run `fieldsync push --retry-refused`"
        )
    for line in report.differs:
        click.echo(f"  warning: {line}")
    _print_warnings(report)
    _print_skipped("skipped", failed)
    _print_skipped("ignored", [s for s in report.skipped if s.ignored])
    if failed:
        raise SkippedError(
            f"{plural(len(failed), 'file')} could not be imported (see above); the rest is queued"
        )
