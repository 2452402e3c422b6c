""" "A submission arrives" and "a data verifier decides": the submission step, then the entity
step, then the reports' facts (ADR 0017), in the caller's transaction.

Both steps are done before the caller commits and answers (ADR 0005): a 201 means the
submission and whatever its entity block did to the shared records are stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lxml import etree
from sqlalchemy.orm import Session

from server.entities import inbox as entity_inbox
from server.entities.codec import HubContext
from server.personal.consent import (
    SHARING_ONLY,
    sharing_consent_given,
    submission_answers,
    submission_consent,
    withdraw,
)
from server.personal.policy import sharing
from server.projects.models import Project
from server.reports import facts as report_facts
from server.submissions import service as submissions
from server.submissions.models import ReviewState, Submission, SubmissionVersion
from server.submissions.service import IncomingAttachment, IngestResult, Outcome, Submitter


def submission_arrives(
    session: Session,
    project: Project,
    xml: bytes,
    attachments: Sequence[IncomingAttachment] = (),
    submitter: Submitter | None = None,
    hub_context: HubContext | None = None,
) -> IngestResult:
    """Store a submission (or recognise a resend or an edit of one) and, for a new version,
    record and apply its entity block.

    ``hub_context`` is set when a field hub forwards a tablet's report: what the tablet had
    seen, in this server's terms (see docs/adr/0006-field-hub.md).

    Raises:
        Problem: as :func:`server.submissions.service.ingest`.
    """
    result = submissions.ingest(session, project, xml, attachments, submitter)
    # An encrypted submission's entity block, consent answer and report figures are unread until
    # the batch is decrypted with the passphrase (server.intake.encrypted, ADR 0016).
    if result.outcome is not Outcome.DUPLICATE and not result.version.encrypted:
        entity_inbox.receive(session, received_submission(project, result), hub_context)
        consent_answered(session, project.id, result.version, result.form_version.entity_spec)
        report_facts.record(
            session,
            result.submission,
            result.form.xml_form_id,
            result.parsed.root,
            result.version.received_at.date(),
            new=result.outcome is Outcome.CREATED,
        )
    return result


def consent_answered(
    session: Session,
    project_id: int,
    version: SubmissionVersion,
    spec: dict[str, Any] | None,
    xml: str | None = None,
) -> None:
    """Enforce the consent a report records for its record (server.personal): a follow-up
    answering no to follow-up consent withdraws it (a tombstone: the record leaves devices and
    exports), no to sharing keeps it from partners, yes to sharing lifts that again. ``xml`` is
    the clear instance of an encrypted version (the stored XML is its manifest)."""
    if not spec or not spec.get("dataset"):
        return
    instance = xml if xml is not None else version.xml
    list_name = str(spec["dataset"])
    rule = sharing(session, list_name)
    about = submission_consent(instance, spec, rule)
    if about is None or not about.uuid:
        return
    answers = submission_answers(instance, spec, rule)
    if rule.withdraws(answers):
        withdraw(
            session,
            project_id,
            list_name,
            about.uuid,
            source="followup",
            instance_id=version.instance_id,
            user_id=version.submitter_user_id,
        )
    elif rule.consent_sharing and rule.consent_sharing in answers:
        if rule.sharing_consented(answers):
            sharing_consent_given(session, project_id, list_name, about.uuid)
        else:
            withdraw(
                session,
                project_id,
                list_name,
                about.uuid,
                source=SHARING_ONLY,
                instance_id=version.instance_id,
                user_id=version.submitter_user_id,
            )


def review_submission(
    session: Session,
    submission: Submission,
    state: ReviewState,
    actor_user_id: int,
    note: str = "",
) -> None:
    """Record a data verifier's decision; approval releases the entity updates waiting for it,
    rejection refuses them (kept, with the reason)."""
    submissions.set_review_state(session, submission, state, actor_user_id, note=note)
    entity_inbox.review_decided(session, submission.id, state.value)
    report_facts.review_changed(session, submission)


def received_submission(project: Project, result: IngestResult) -> entity_inbox.ReceivedSubmission:
    return received_version(
        project.id,
        result.form.xml_form_id,
        result.form_version.entity_spec,
        result.submission,
        result.version,
        result.parsed.root,
    )


def received_version(
    project_id: int,
    form_id: str,
    entity_spec: dict[str, Any] | None,
    submission: Submission,
    version: SubmissionVersion,
    root: etree._Element,
) -> entity_inbox.ReceivedSubmission:
    """A stored version as the entity step reads it, ``root`` being its (clear) instance."""
    return entity_inbox.ReceivedSubmission(
        project_id=project_id,
        form_id=form_id,
        entity_spec=entity_spec or {},
        submission_id=submission.id,
        submission_version_id=version.id,
        instance_id=version.instance_id,
        replaces_instance_id=version.deprecated_id,
        approved=submission.review_state == ReviewState.APPROVED.value,
        source=_source_of(version),
        root=root,
    )


def _source_of(version: SubmissionVersion) -> str:
    who = (
        f"app user {version.submitter_app_user_id}"
        if version.submitter_app_user_id
        else f"user {version.submitter_user_id}"
        if version.submitter_user_id
        else "unknown"
    )
    device = f", device {version.device_id}" if version.device_id else ""
    return f"submission {version.instance_id} ({who}{device})"
