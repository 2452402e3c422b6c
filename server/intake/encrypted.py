"""Entity updates from encrypted submissions (ADR 0016): the server cannot read an encrypted
submission's entity block when it arrives, so the block waits (``entities_pending``) until a
caseworker with the passphrase decrypts the batch. Each pending version is then opened in
memory and goes through the same entity step as a plain submission, oldest first; one that
does not open (a file missing, a signature that does not match) stays pending and is counted.
The current version's report figures are written then too (they could not be read before).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.audit import service as audit
from server.blobs.store import FileBlobStore
from server.entities import inbox as entity_inbox
from server.forms.models import Form, FormVersion
from server.intake.service import consent_answered, received_version
from server.projects.keys import unlock_project_key
from server.projects.models import Project
from server.reports import facts as report_facts
from server.submissions import decrypt
from server.submissions.models import Submission, SubmissionVersion
from server.submissions.parse import parse_instance


@dataclass
class DecryptedBatch:
    applied: list[str] = field(default_factory=list)  # instanceIDs whose block was applied
    # instanceID -> why it stayed pending (a status of server.submissions.decrypt)
    held: dict[str, str] = field(default_factory=dict)


def pending_count(session: Session, project_id: int) -> int:
    """How many encrypted versions of the project wait for the passphrase."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(SubmissionVersion)
            .join(Submission, Submission.id == SubmissionVersion.submission_id)
            .where(Submission.project_id == project_id, SubmissionVersion.entities_pending)
        )
        or 0
    )


def apply_encrypted_entities(
    session: Session,
    blobs: FileBlobStore,
    project: Project,
    passphrase: str,
    actor_user_id: int | None = None,
) -> DecryptedBatch:
    """Decrypt the project's encrypted submissions whose entity block is pending and apply
    those blocks, in the caller's transaction.

    Raises:
        Problem: 409 ``encryption.not_enabled``; 400 ``encryption.wrong_passphrase``; those of
            :func:`server.entities.inbox.receive` (the whole batch rolls back).
    """
    key = unlock_project_key(session, project.id, passphrase)
    batch = DecryptedBatch()
    for version, submission, form, form_version in _pending(session, project.id):
        files = decrypt.encrypted_files(session, version.id)
        opened = decrypt.open_version(
            key, blobs, version.xml, version.instance_id, files, media=False
        )
        if opened.xml is None:
            batch.held[version.instance_id] = str(opened.status or "not decrypted")
            continue
        parsed = parse_instance(opened.xml)
        if parsed.instance_id != version.instance_id or parsed.form_id != form.xml_form_id:
            # The device signed it, yet the instance names another record: keep it waiting.
            batch.held[version.instance_id] = decrypt.OpenStatus.SIGNATURE_MISMATCH.value
            continue
        received = received_version(
            project.id,
            form.xml_form_id,
            form_version.entity_spec,
            submission,
            version,
            parsed.root,
        )
        entity_inbox.receive(session, received)
        consent_answered(
            session, project.id, version, form_version.entity_spec, opened.xml.decode("utf-8")
        )
        if version.instance_id == submission.current_instance_id:
            # The report figures of a version that was unreadable at arrival (ADR 0017).
            report_facts.record(
                session, submission, form.xml_form_id, parsed.root, version.received_at.date()
            )
        version.entities_pending = False
        batch.applied.append(version.instance_id)
    audit.record(
        session,
        "submission.decrypt_entities",
        project_id=project.id,
        user_id=actor_user_id,
        target_type="project",
        target_id=project.id,
        applied=len(batch.applied),
        held=len(batch.held),
    )
    return batch


def _pending(
    session: Session, project_id: int
) -> list[tuple[SubmissionVersion, Submission, Form, FormVersion]]:
    rows = session.execute(
        select(SubmissionVersion, Submission, Form, FormVersion)
        .join(Submission, Submission.id == SubmissionVersion.submission_id)
        .join(Form, Form.id == SubmissionVersion.form_id)
        .join(FormVersion, FormVersion.id == SubmissionVersion.form_version_id)
        .where(Submission.project_id == project_id, SubmissionVersion.entities_pending)
        .order_by(SubmissionVersion.id)
    )
    return [(v, s, f, fv) for v, s, f, fv in rows]
