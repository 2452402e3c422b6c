"""Receiving submissions: the decision tree of new / resend / edit / conflict, in one place.

Every outcome is idempotent and happens inside the caller's transaction: a resend of the same
bytes changes nothing but may add attachments that had not arrived; a different body under a
known instanceID is refused; an edit adds a version. Uniqueness is decided by database
constraints, so two devices (or one device retrying) racing with the same instance store it once.
What a submission's entity block does is the entity step, which :mod:`server.intake` runs
after this one in the same transaction.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import errors
from server import odk_encryption as odk
from server.audit import service as audit
from server.blobs import service as blob_service
from server.blobs.store import StoredBlob
from server.config_cache import config_cache
from server.db import utcnow
from server.forms.models import Form, FormState, FormVersion
from server.projects.models import Project
from server.submissions import fast
from server.submissions import feed as sync_changes
from server.submissions.models import (
    ReviewState,
    Submission,
    SubmissionAttachment,
    SubmissionVersion,
)
from server.submissions.parse import (
    ParsedInstance,
    binary_paths,
    parse_instance,
    referenced_files,
    version_encrypted,
)
from server.submissions.records import find_version

_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f]")


class Outcome(enum.StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    EDIT = "edit"


@dataclass(frozen=True)
class IncomingAttachment:
    """A file that arrived with the submission, already streamed into the blob store."""

    name: str
    stored: StoredBlob
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Submitter:
    user_id: int | None = None
    app_user_id: int | None = None
    # Hops the submission travelled before reaching this server, oldest first, e.g.
    # [{"hop": "hub", "id": "camp-3 laptop", "received_at": "..."}].
    via: tuple[dict[str, Any], ...] = ()


@dataclass
class IngestResult:
    outcome: Outcome
    submission: Submission
    version: SubmissionVersion
    form: Form
    form_version: FormVersion
    parsed: ParsedInstance
    attachments_expected: list[str] = field(default_factory=list)
    attachments_missing: list[str] = field(default_factory=list)
    attachments_added: list[str] = field(default_factory=list)


def check_attachment_name(name: str) -> str:
    """Raises: Problem 400 when the name is a path or holds control characters."""
    if not name or name in (".", "..") or _UNSAFE_NAME.search(name) or len(name) > 300:
        raise errors.bad_attachment_name(name)
    return name


def ingest(
    session: Session,
    project: Project,
    xml: bytes,
    attachments: Sequence[IncomingAttachment] = (),
    submitter: Submitter | None = None,
) -> IngestResult:
    """Store a submission (or recognise a resend or an edit of one).

    Raises:
        Problem: 400 bad XML or instance; 404 unknown form or version; 409 closed form,
            different content under a known instanceID, or an edit of a superseded version.
    """
    submitter = submitter or Submitter()
    for attachment in attachments:
        check_attachment_name(attachment.name)
    parsed = parse_instance(xml)
    row = _form_and_version(session, project.id, parsed.form_id, parsed.version)
    if row is None:
        raise errors.form_not_found(parsed.form_id)
    form, form_version = row
    if form.state == FormState.CLOSED:
        raise errors.form_closed(parsed.form_id)
    if form_version is None:
        raise errors.form_version_not_found(parsed.form_id, parsed.version)

    manifest = _manifest(parsed, form_version)
    if manifest is not None:
        expected = sorted(manifest.files)
    else:
        expected = sorted(
            referenced_files(parsed.root, binary_paths(form_version.xml_sha256, form_version.xml))
        )
    sha256 = hashlib.sha256(xml).hexdigest()
    by_name = {a.name: a for a in attachments}

    if not parsed.deprecated_id and manifest is None:
        # A new plain submission: two inserts decide (an encrypted one keeps the full path,
        # which records its encrypted files and holds its entity block).
        now = utcnow()
        stored = fast.store_if_new(
            session,
            project.id,
            form,
            form_version,
            parsed,
            xml,
            sha256,
            by_name,
            expected,
            _provenance(submitter, now),
            (submitter.user_id, submitter.app_user_id),
            now,
        )
        if stored is not None:
            submission, version, filled = stored
            return IngestResult(
                outcome=Outcome.CREATED,
                submission=submission,
                version=version,
                form=form,
                form_version=form_version,
                parsed=parsed,
                attachments_expected=expected,
                attachments_missing=[n for n in expected if n not in by_name],
                attachments_added=filled,
            )

    for _attempt in range(3):
        existing = find_version(session, form.id, parsed.instance_id)
        if existing is not None:
            return _resend(session, form, form_version, existing, sha256, by_name, expected, parsed)
        try:
            with session.begin_nested():
                result = _store_new(
                    session,
                    project,
                    form,
                    form_version,
                    parsed,
                    xml,
                    sha256,
                    by_name,
                    expected,
                    submitter,
                    encrypted=manifest is not None,
                )
            return result
        except IntegrityError:
            # Another request stored this instance (or edited the same version) between our
            # look-up and our insert; the constraint decided. Look again and answer as a resend
            # or a stale edit.
            if parsed.deprecated_id:
                previous = find_version(session, form.id, parsed.deprecated_id)
                again = find_version(session, form.id, parsed.instance_id)
                if previous is not None and again is None:
                    raise errors.submission_edit_stale(parsed.deprecated_id) from None
            continue
    raise errors.submission_busy()


def _manifest(parsed: ParsedInstance, form_version: FormVersion) -> odk.Manifest | None:
    """The manifest of an encrypted submission, None for a plain one.

    Raises:
        Problem: 400 ``encryption.bad_manifest``; 400 ``encryption.form_mismatch`` when the
            submission's encryption is not the form version's.
    """
    manifest = None
    if odk.is_manifest(parsed.root):
        try:
            manifest = odk.read_manifest(parsed.root, parsed.instance_id)
        except odk.BadManifest as exc:
            raise errors.bad_manifest(str(exc)) from None
    form_encrypted = form_version.key_id is not None or version_encrypted(
        form_version.xml_sha256, form_version.xml
    )
    if form_encrypted != (manifest is not None):
        raise errors.encryption_form_mismatch(parsed.form_id, parsed.version, form_encrypted)
    return manifest


def _form_and_version(
    session: Session, project_id: int, xml_form_id: str, version: str
) -> tuple[Form, FormVersion | None] | None:
    """The form and the version a submission names, kept between requests (this runs for
    every submission; ``server.config_cache`` says when a kept copy is out of date)."""

    def load() -> tuple[Form, FormVersion | None] | None:
        row = session.execute(
            select(Form, FormVersion)
            .outerjoin(
                FormVersion, (FormVersion.form_id == Form.id) & (FormVersion.version == version)
            )
            .where(Form.project_id == project_id, Form.xml_form_id == xml_form_id)
        ).first()
        return (row[0], row[1]) if row is not None else None

    cache = config_cache(session)
    if cache is None:
        return load()
    return cache.get(session, ("form", project_id, xml_form_id, version), load)


def _provenance(submitter: Submitter, now: datetime) -> list[dict[str, Any]]:
    return [
        *submitter.via,
        {
            "hop": "server",
            "received_at": now.isoformat(),
            "app_user_id": submitter.app_user_id,
            "user_id": submitter.user_id,
        },
    ]


def _resend(
    session: Session,
    form: Form,
    form_version: FormVersion,
    existing: SubmissionVersion,
    sha256: str,
    by_name: dict[str, IncomingAttachment],
    expected: list[str],
    parsed: ParsedInstance,
) -> IngestResult:
    if existing.xml_sha256 != sha256:
        raise errors.submission_differs(parsed.instance_id)
    added = _fill_attachments(session, form.project_id, existing, by_name)
    submission = session.get(Submission, existing.submission_id)
    assert submission is not None
    return IngestResult(
        outcome=Outcome.DUPLICATE,
        submission=submission,
        version=existing,
        form=form,
        form_version=form_version,
        parsed=parsed,
        attachments_expected=expected,
        attachments_missing=_missing(session, existing) if expected else [],
        attachments_added=added,
    )


def _store_new(
    session: Session,
    project: Project,
    form: Form,
    form_version: FormVersion,
    parsed: ParsedInstance,
    xml: bytes,
    sha256: str,
    by_name: dict[str, IncomingAttachment],
    expected: list[str],
    submitter: Submitter,
    *,
    encrypted: bool = False,
) -> IngestResult:
    now = utcnow()
    provenance = _provenance(submitter, now)
    previous: SubmissionVersion | None = None
    if parsed.deprecated_id:
        previous = find_version(session, form.id, parsed.deprecated_id)
        if previous is not None and not previous.is_current:
            raise errors.submission_edit_stale(parsed.deprecated_id)

    if previous is not None:
        submission = session.get(Submission, previous.submission_id, with_for_update=True)
        assert submission is not None
        if submission.current_instance_id != previous.instance_id:
            raise errors.submission_edit_stale(parsed.deprecated_id or "")
        previous.is_current = False
        submission.current_instance_id = parsed.instance_id
        submission.review_state = ReviewState.EDITED.value
        submission.updated_at = now
        sync_changes.review_state_changed(session, submission)
        outcome = Outcome.EDIT
    else:
        submission = Submission(
            project_id=project.id,
            form_id=form.id,
            root_instance_id=parsed.instance_id,
            current_instance_id=parsed.instance_id,
            created_at=now,
            updated_at=now,
        )
        session.add(submission)
        session.flush()
        outcome = Outcome.CREATED

    version = SubmissionVersion(
        submission_id=submission.id,
        form_id=form.id,
        form_version_id=form_version.id,
        instance_id=parsed.instance_id,
        deprecated_id=parsed.deprecated_id if previous is not None else None,
        instance_name=parsed.instance_name,
        xml=xml.decode("utf-8"),
        xml_sha256=sha256,
        xml_size=len(xml),
        device_id=parsed.device_id,
        submitter_user_id=submitter.user_id,
        submitter_app_user_id=submitter.app_user_id,
        provenance=provenance,
        received_at=now,
        is_current=True,
        encrypted=encrypted,
        entities_pending=encrypted and bool(form_version.entity_spec),
    )
    session.add(version)
    session.flush()

    carried = _carried_over(session, previous) if previous is not None else {}
    for name in expected:
        row = SubmissionAttachment(submission_version_id=version.id, name=name)
        if name not in by_name and name in carried:
            row.blob_sha256 = carried[name]
            row.received_at = now
        session.add(row)
    session.flush()
    added = _fill_attachments(session, project.id, version, by_name)

    if outcome is Outcome.EDIT:
        audit.record(
            session,
            "submission.edit",
            project_id=project.id,
            user_id=submitter.user_id,
            app_user_id=submitter.app_user_id,
            target_type="submission",
            target_id=submission.root_instance_id,
            instance_id=parsed.instance_id,
            deprecated_id=parsed.deprecated_id,
        )

    return IngestResult(
        outcome=outcome,
        submission=submission,
        version=version,
        form=form,
        form_version=form_version,
        parsed=parsed,
        attachments_expected=expected,
        attachments_missing=_missing(session, version) if expected else [],
        attachments_added=added,
    )


def _carried_over(session: Session, previous: SubmissionVersion) -> dict[str, str]:
    rows = session.scalars(
        select(SubmissionAttachment).where(
            SubmissionAttachment.submission_version_id == previous.id,
            SubmissionAttachment.blob_sha256.is_not(None),
        )
    )
    return {r.name: r.blob_sha256 for r in rows if r.blob_sha256}


def _fill_attachments(
    session: Session,
    project_id: int,
    version: SubmissionVersion,
    by_name: dict[str, IncomingAttachment],
) -> list[str]:
    """Attach arrived files to the names the version expects and that are still empty; the
    project holds them from then on."""
    if not by_name:
        return []
    added = []
    rows = session.scalars(
        select(SubmissionAttachment).where(
            SubmissionAttachment.submission_version_id == version.id,
            SubmissionAttachment.name.in_(list(by_name)),
        )
    )
    for row in rows:
        incoming = by_name[row.name]
        if row.blob_sha256 is not None:
            # A received file is part of the immutable version; a resend cannot swap it.
            continue
        blob_service.register(
            session, incoming.stored, incoming.content_type, project_id=project_id
        )
        row.blob_sha256 = incoming.stored.sha256
        row.received_at = utcnow()
        added.append(row.name)
    return added


def attach_files(
    session: Session,
    project_id: int,
    version: SubmissionVersion,
    attachments: Sequence[IncomingAttachment],
) -> list[str]:
    """Attach files that arrived on their own (Central's ``POST …/attachments/<name>``) to the
    names the version expects and that are still empty; the names filled.

    Raises:
        Problem: 400 for a name that is a path or holds control characters.
    """
    for attachment in attachments:
        check_attachment_name(attachment.name)
    return _fill_attachments(session, project_id, version, {a.name: a for a in attachments})


def _missing(session: Session, version: SubmissionVersion) -> list[str]:
    return list(
        session.scalars(
            select(SubmissionAttachment.name)
            .where(
                SubmissionAttachment.submission_version_id == version.id,
                SubmissionAttachment.blob_sha256.is_(None),
            )
            .order_by(SubmissionAttachment.name)
        )
    )


# --- reviewing ----------------------------------------------------------------------------------


def set_review_state(
    session: Session,
    submission: Submission,
    state: ReviewState,
    actor_user_id: int,
    note: str = "",
) -> None:
    """Record a data verifier's decision; every change goes to the audit log. (What the
    decision does to entity updates is :func:`server.intake.service.review_submission`.)"""
    previous = submission.review_state
    submission.review_state = state.value
    submission.updated_at = utcnow()
    sync_changes.review_state_changed(session, submission)
    audit.record(
        session,
        "submission.review",
        project_id=submission.project_id,
        user_id=actor_user_id,
        target_type="submission",
        target_id=submission.root_instance_id,
        previous=previous,
        state=state.value,
        note=note,
    )
