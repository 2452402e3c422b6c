"""``fieldsync bundle export`` and ``fieldsync bundle import``: sync through a file carried by
hand (USB stick), with no link at all (docs/offline-bundles.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sync_client import bundles
from sync_client.commands.common import human_bytes, opened_store, plural
from sync_client.errors import UsageError
from sync_client.home import fieldsync_home, load_config
from sync_client.progress import transfer


@click.group("bundle", help="Sync through a signed, encrypted file carried by hand.")
def bundle_group() -> None:
    pass


@bundle_group.command(
    "export",
    help=(
        "Write what the destination may lack to one file (.fsb), signed with this laptop's key "
        "and encrypted for the centre (default) or for another laptop (--to). For the centre: "
        "the outbox items still waiting (forms with attachments, conflict resolutions). For a "
        "laptop: every form this laptop holds, and with --centre-state the centre's forms, "
        "media and entity lists as last pulled. The file is written under a temporary name and "
        "renamed when complete."
    ),
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The bundle file to write (e.g. /media/usb/camp3.fsb).",
)
@click.option(
    "--since",
    "since",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Only outbox items after this one (the 'up to' a previous export printed).",
)
@click.option(
    "--to",
    "to",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Another laptop's public key file (its `fieldsync keys show --json`).",
)
@click.option(
    "--centre-state",
    is_flag=True,
    help="Also carry the centre's forms, media and entity lists (for a laptop in the field).",
)
def export_command(out: Path, since: int, to: Path | None, centre_state: bool) -> None:
    home = fieldsync_home()
    config = load_config(home)
    peer = None
    if to is not None:
        from server.bundles.crypto import PublicKeys

        try:
            peer = PublicKeys.from_json(json.loads(to.read_text(encoding="utf-8")))
        except ValueError as exc:
            raise UsageError(f"{to} is not a laptop's public key file ({exc})") from None
    if out.suffix != ".fsb":
        raise UsageError(f"name the bundle file ….fsb, not {out.name}")
    with opened_store(home) as store:
        pending = store.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox WHERE id > ?", (since,)
        ).fetchone()
        with transfer("bundle export", int(pending[1]), int(pending[0])) as tracker:
            report = bundles.export_bundle(
                store,
                home,
                config,
                out,
                since=since,
                to_peer=peer,
                centre_state=centre_state,
                on_bytes=lambda n: tracker.advance(nbytes=n),
            )
    whom = "the centre" if peer is None else f"laptop {peer.key_id}"
    click.echo(
        f"wrote {out} ({human_bytes(report.size)}) for {whom}: "
        f"{plural(report.submissions, 'submission')}, "
        f"{plural(report.resolutions, 'conflict resolution')}, "
        f"{plural(report.blobs, 'file')}"
        + ("; with the centre's forms and lists" if report.centre_state else "")
        + f"; up to outbox item {report.upto} (next: --since {report.upto})"
    )


@bundle_group.command(
    "import",
    help=(
        "Check a bundle whole (signature, sender's key, project, every hash) and apply it: a "
        "receipt from the centre marks the outbox items it names delivered; another laptop's "
        "bundle queues its forms (for the centre, once) and merges them into this laptop's hub. "
        "Nothing is applied when a check fails (exit code 9)."
    ),
)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(path: Path) -> None:
    home = fieldsync_home()
    config = load_config(home)
    with opened_store(home) as store, transfer("bundle import", path.stat().st_size, 1) as bar:
        report = bundles.import_bundle(store, home, config, path)
        bar.advance(nbytes=path.stat().st_size, items=1)
    click.echo(summary_line(report))


def summary_line(report: bundles.ImportReport) -> str:
    again = " (imported before: nothing changed)" if report.again else ""
    if report.kind == "receipt":
        delivered = sum(n for s, n in report.counts.items() if s in bundles.DONE)
        refused = sum(report.counts.values()) - delivered
        return (
            f"receipt for bundle {report.acknowledged}{again}: "
            f"{plural(delivered, 'item')} delivered to the centre, {refused} refused"
        )
    hub = ", ".join(f"{n} {s}" for s, n in sorted(report.hub.items()))
    return (
        f"bundle {report.bundle_id} from {report.sender}{again}: "
        f"{plural(report.counts['submission'], 'submission')} "
        f"({report.queued} queued for the centre, {report.already} already here)"
        + (f"; hub: {hub}" if hub else "")
        + (f"; {plural(report.centre_rows, 'centre record')} taken" if report.centre_rows else "")
    )
