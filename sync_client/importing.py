"""``fieldsync import``: queue finished forms copied from tablets in the outbox.

Instances are committed in groups (attachment files first, then their rows), so an import cut
short keeps every group before the cut, and a rerun picks up where it stopped: what is already
queued is recognised by its instanceID and skipped. The tablet's files are never changed.
"""

from __future__ import annotations

import sqlite3
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync_client import outbox, outbox_review
from sync_client.import_checks import FormCatalogue, catalogue
from sync_client.instances import FoundInstance, Skipped, scan
from sync_client.outbox import AddOutcome
from sync_client.store import BlobRef, SourceUnreadable, Store, utcnow

GROUP_SIZE = 200


@dataclass
class ImportReport:
    counts: Counter[AddOutcome] = field(default_factory=Counter)
    attachments: int = 0
    attachment_bytes: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)
    restored: int = 0
    # (instance folder, what is wrong): imported anyway, e.g. a photo left on the tablet
    warnings: list[tuple[str, str]] = field(default_factory=list)
    forms_checked: bool = True

    @property
    def imported(self) -> int:
        return self.counts[AddOutcome.IMPORTED]

    @property
    def failed(self) -> list[Skipped]:
        """What was skipped for a reason the coordinator must act on."""
        return [s for s in self.skipped if not s.ignored]


def via_hops(found: FoundInstance, hub_id: str) -> list[dict[str, Any]]:
    """Provenance: the tablet that made the instance, then this laptop."""
    hops: list[dict[str, Any]] = []
    device: dict[str, Any] = {"hop": "device", "id": found.device_id or "unknown"}
    if found.modified is not None:
        device["received_at"] = found.modified.isoformat().replace("+00:00", "Z")
    hops.append(device)
    hops.append({"hop": "hub", "id": hub_id, "received_at": utcnow()})
    return hops


def import_path(
    store: Store,
    path: Path,
    project_id: int | None,
    hub_id: str,
    on_commit: Callable[[list[FoundInstance]], None] | None = None,
    group_size: int = GROUP_SIZE,
) -> ImportReport:
    """Import every instance under ``path``; ``on_commit`` hears of each committed group.

    Raises:
        UsageError: ``path`` is missing or neither a folder nor a zip.
        StoreError: the store cannot be written (disk full, damaged file).
    """
    found, skipped, archive = scan(path)
    report = ImportReport(skipped=list(skipped))
    forms = catalogue(store, project_id)
    report.forms_checked = forms.pulled
    found = _checked(store, found, forms, report)
    try:
        for start in range(0, len(found), group_size):
            group = found[start : start + group_size]
            # One commit per group: a commit waits for the disk, and thousands of them would
            # make an import of a day's forms take minutes.
            with store.transaction() as conn:
                for instance in group:
                    _import_one(store, conn, instance, project_id, hub_id, report)
            if on_commit is not None:
                on_commit(group)
    finally:
        if archive is not None:
            archive.close()
    return report


def _checked(
    store: Store, found: list[FoundInstance], forms: FormCatalogue, report: ImportReport
) -> list[FoundInstance]:
    """The instances to queue; the others go to ``report.skipped``, and what is imported with a
    problem to ``report.warnings``."""
    discarded = outbox_review.discarded_instance_ids(store)
    kept: list[FoundInstance] = []
    for instance in found:
        where = instance.folder or instance.display
        refusal = forms.refusal(instance)
        if refusal is not None:
            report.skipped.append(Skipped(where, refusal))
            continue
        if instance.instance_id in discarded:
            report.skipped.append(
                Skipped(
                    where,
                    f"discarded from the outbox on {discarded[instance.instance_id]}; "
                    "not queued again",
                    ignored=True,
                )
            )
            continue
        instance.missing_files = forms.missing_files(instance)
        kept.append(instance)
    return kept


def _import_one(
    store: Store,
    conn: sqlite3.Connection,
    found: FoundInstance,
    project_id: int | None,
    hub_id: str,
    report: ImportReport,
) -> None:
    digest = outbox.sha256_hex(found.xml)
    known = outbox.existing_digest(store, found.instance_id)
    # A shortcut that saves copying attachments again; the unique constraint inside
    # add_submission is what actually keeps duplicates out.
    if known is not None:
        outcome = AddOutcome.ALREADY if known == digest else AddOutcome.DIFFERS
        _count(report, found, outcome)
        if outcome is AddOutcome.ALREADY:
            report.restored += _restore_lost_files(store, conn, found)
        return
    refs: list[tuple[str, BlobRef]] = []
    for entry in found.attachments:
        try:
            with entry.opener() as stream:
                ref = store.put_blob_stream(stream)
        except (OSError, zipfile.BadZipFile, SourceUnreadable) as exc:
            report.skipped.append(
                Skipped(entry.display, f"attachment cannot be read ({exc}); instance not imported")
            )
            return
        refs.append((entry.name, ref))
    outcome = outbox.add_submission(
        store, conn, found, refs, project_id, via_hops(found, hub_id), found.display
    )
    _count(report, found, outcome)
    if outcome is AddOutcome.IMPORTED:
        for name in found.missing_files:
            report.warnings.append(
                (
                    found.folder or found.display,
                    f"imported without {name!r}: the form names it but it is not in the folder "
                    "(still on the tablet?)",
                )
            )
        report.attachments += len(refs)
        report.attachment_bytes += sum(ref.size for _, ref in refs)


def _restore_lost_files(store: Store, conn: sqlite3.Connection, found: FoundInstance) -> int:
    """Copy again the attachments of a queued instance whose file vanished from the store or
    was damaged there."""
    expected = dict(
        conn.execute(
            "SELECT a.name, a.sha256 FROM outbox_attachments a JOIN outbox o "
            "ON o.id = a.outbox_id WHERE o.instance_id = ?",
            (found.instance_id,),
        ).fetchall()
    )
    restored = 0
    for entry in found.attachments:
        sha = expected.get(entry.name)
        if sha is None or store.blob_intact(sha):
            continue
        try:
            with entry.opener() as stream:
                ref = store.put_blob_stream(stream)
        except (OSError, zipfile.BadZipFile, SourceUnreadable):
            continue
        restored += int(ref.sha256 == sha)
    return restored


def _count(report: ImportReport, found: FoundInstance, outcome: AddOutcome) -> None:
    report.counts[outcome] += 1
    if outcome is AddOutcome.DIFFERS:
        report.differs.append(
            f"{found.display}: instanceID {found.instance_id} was already imported with "
            "different content; the first copy was kept"
        )
