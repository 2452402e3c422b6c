""" "A submission arrives" and "a data verifier decides": the submission step, then the entity
step, in the caller's transaction.

Both steps are done before the caller commits and answers (ADR 0005): a 201 means the
submission and whatever its entity block did to the shared records are stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
    if result.outcome is not Outcome.DUPLICATE:
        entity_inbox.receive(session, _received(project, result), hub_context)
        consent_answered(session, project.id, result.version, result.form_version.entity_spec)
    return result


def consent_answered(
    session: Session, project_id: int, version: SubmissionVersion, spec: dict[str, Any] | None
) -> None:
    """Enforce the consent a report records for its record (server.personal): a follow-up
    answering no to follow-up consent withdraws it (a tombstone: the record leaves devices and
    exports), no to sharing keeps it from partners, yes to sharing lifts that again."""
    if not spec or not spec.get("dataset"):
        return
    list_name = str(spec["dataset"])
    rule = sharing(session, list_name)
    about = submission_consent(version.xml, spec, rule)
    if about is None or not about.uuid:
        return
    answers = submission_answers(version.xml, spec, rule)
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


def _received(project: Project, result: IngestResult) -> entity_inbox.ReceivedSubmission:
    version = result.version
    return entity_inbox.ReceivedSubmission(
        project_id=project.id,
        form_id=result.form.xml_form_id,
        entity_spec=result.form_version.entity_spec or {},
        submission_id=result.submission.id,
        submission_version_id=version.id,
        instance_id=version.instance_id,
        replaces_instance_id=version.deprecated_id,
        approved=result.submission.review_state == ReviewState.APPROVED.value,
        source=_source_of(version),
        root=result.parsed.root,
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
