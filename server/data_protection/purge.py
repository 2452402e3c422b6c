"""Removing personal data past a form's retention period.

For each form with ``personal_retention_days``, every submission version received before
the cut-off loses its personal answers (the XML keeps its shape, the answers are emptied), the
files those answers named (photos of a person, consent signatures), and the entity records it
fed lose their personal properties, in their current state and in every version. Counts and
pseudonymous records stay for reports. Each form's purge is one audit entry.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.audit import service as audit
from server.blobs.models import Blob, ProjectBlob
from server.blobs.store import FileBlobStore
from server.db import utcnow
from server.entities.models import Entity, EntityList, EntityVersion
from server.forms.models import Form, FormAttachment, FormVersion
from server.personal.fields import personal_answers, personal_paths, redact_xml
from server.submissions.models import SubmissionAttachment, SubmissionVersion

PURGE_ACTION = "personal_data.purge"


@dataclass
class FormPurge:
    project_id: int
    form_id: str
    retention_days: int
    cutoff: datetime
    versions: int = 0  # submission versions whose XML lost personal answers
    files: int = 0  # attachments removed
    entities: int = 0  # entity records whose personal properties were removed


@dataclass
class PurgeReport:
    dry_run: bool
    forms: list[FormPurge] = field(default_factory=list)
    # Files no row refers to any more: delete them with :func:`delete_files` after the commit.
    unreferenced: list[str] = field(default_factory=list)


def purge(
    session: Session,
    *,
    dry_run: bool = False,
    project_id: int | None = None,
    now: datetime | None = None,
) -> PurgeReport:
    """Remove personal data past each form's retention period (or only count it, with
    ``dry_run``), in the caller's transaction. The files themselves are deleted by
    :func:`delete_files` once the caller committed, so a rollback never loses a file a row
    still names."""
    moment = now or utcnow()
    report = PurgeReport(dry_run=dry_run)
    stmt = select(Form).where(Form.personal_retention_days.is_not(None)).order_by(Form.id)
    if project_id is not None:
        stmt = stmt.where(Form.project_id == project_id)
    doomed: set[str] = set()
    for form in session.scalars(stmt):
        days = int(form.personal_retention_days or 0)
        done = FormPurge(form.project_id, form.xml_form_id, days, moment - timedelta(days=days))
        _purge_form(session, form, done, dry_run, doomed)
        report.forms.append(done)
        if not dry_run:
            audit.record(
                session,
                PURGE_ACTION,
                project_id=form.project_id,
                target_type="form",
                target_id=form.xml_form_id,
                retention_days=days,
                cutoff=done.cutoff.isoformat(),
                versions=done.versions,
                files=done.files,
                entities=done.entities,
            )
    if not dry_run:
        session.flush()
        report.unreferenced = [s for s in sorted(doomed) if _forget_blob(session, s)]
    return report


def delete_files(blobs: FileBlobStore, report: PurgeReport) -> None:
    for sha256 in report.unreferenced:
        blobs.path(sha256).unlink(missing_ok=True)


def _purge_form(
    session: Session, form: Form, done: FormPurge, dry_run: bool, doomed: set[str]
) -> None:
    rows = session.execute(
        select(SubmissionVersion, FormVersion.xml)
        .join(FormVersion, FormVersion.id == SubmissionVersion.form_version_id)
        .where(SubmissionVersion.form_id == form.id, SubmissionVersion.received_at < done.cutoff)
        .order_by(SubmissionVersion.id)
    ).all()
    purged_ids: list[int] = []
    for version, xform in rows:
        paths = personal_paths(xform)
        names = personal_answers(version.xml, paths)
        files = [
            a
            for a in session.scalars(
                select(SubmissionAttachment).where(
                    SubmissionAttachment.submission_version_id == version.id,
                    SubmissionAttachment.name.in_(names),
                    SubmissionAttachment.blob_sha256.is_not(None),
                )
            )
        ]
        cleaned = redact_xml(version.xml, paths)
        if cleaned == version.xml and not files:
            continue
        done.versions += 1
        done.files += len(files)
        purged_ids.append(version.id)
        if dry_run:
            continue
        data = cleaned.encode("utf-8")
        version.xml = cleaned
        version.xml_sha256 = hashlib.sha256(data).hexdigest()
        version.xml_size = len(data)
        for attachment in files:
            assert attachment.blob_sha256 is not None
            doomed.add(attachment.blob_sha256)
            attachment.blob_sha256 = None
    done.entities = _purge_entities(session, form.project_id, purged_ids, dry_run)


def _purge_entities(
    session: Session, project_id: int, version_ids: list[int], dry_run: bool
) -> int:
    """Take the lists' personal properties out of the records these submissions fed."""
    if not version_ids:
        return 0
    # Ids first: PostgreSQL cannot compare JSON columns for DISTINCT.
    fed = (
        select(EntityVersion.entity_id)
        .where(EntityVersion.source_submission_version_id.in_(version_ids))
        .distinct()
    )
    entities = session.execute(
        select(Entity, EntityList)
        .join(EntityList, EntityList.id == Entity.list_id)
        .where(EntityList.project_id == project_id, Entity.id.in_(fed))
        .order_by(Entity.id)
    ).all()
    count = 0
    for entity, entity_list in entities:
        personal = set(entity_list.personal_properties)
        if not personal:
            continue
        touched = bool(personal & set(entity.values))
        for version in session.scalars(
            select(EntityVersion).where(EntityVersion.entity_id == entity.id)
        ):
            sent = dict(version.update.get("values") or {})
            result = dict(version.result or {})
            kept = dict(result.get("values") or {})
            if personal & (set(sent) | set(kept)):
                touched = True
                if not dry_run:
                    version.update = {**version.update, "values": _without(sent, personal)}
                    version.result = {**result, "values": _without(kept, personal)}
        if touched:
            count += 1
            if not dry_run:
                entity.values = _without(entity.values, personal)
    return count


def _without(values: dict[str, str], personal: set[str]) -> dict[str, str]:
    return {k: v for k, v in values.items() if k not in personal}


def _forget_blob(session: Session, sha256: str) -> bool:
    """Drop a purged file's rows once nothing refers to it any more; True when it can go."""
    still = (
        session.scalar(
            select(SubmissionAttachment.id).where(SubmissionAttachment.blob_sha256 == sha256)
        )
        or session.scalar(select(FormAttachment.id).where(FormAttachment.blob_sha256 == sha256))
        or session.scalar(select(FormVersion.id).where(FormVersion.source_blob_sha256 == sha256))
    )
    if still:
        return False
    session.execute(delete(ProjectBlob).where(ProjectBlob.sha256 == sha256))
    session.execute(delete(Blob).where(Blob.sha256 == sha256))
    return True
