"""Reading submissions for the JSON API: one submission by any of its instanceIDs, a form's
page of submissions with their versions and files (in a fixed number of queries), and the file
a submission received under a name."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import errors
from server.accounts.models import AppUser
from server.blobs.models import Blob
from server.forms.models import Form, FormVersion
from server.submissions.models import (
    ReviewState,
    Submission,
    SubmissionAttachment,
    SubmissionVersion,
)


def find_version(session: Session, form_id: int, instance_id: str) -> SubmissionVersion | None:
    return session.scalars(
        select(SubmissionVersion).where(
            SubmissionVersion.form_id == form_id, SubmissionVersion.instance_id == instance_id
        )
    ).first()


def get_submission(session: Session, form: Form, instance_id: str) -> Submission:
    """Find a submission by its root instanceID or the instanceID of any of its versions.

    Raises:
        Problem: 404.
    """
    submission = session.scalars(
        select(Submission).where(
            Submission.form_id == form.id, Submission.root_instance_id == instance_id
        )
    ).first()
    if submission is None:
        version = find_version(session, form.id, instance_id)
        if version is not None:
            submission = session.get(Submission, version.submission_id)
    if submission is None:
        raise errors.not_found("Submission", f"no submission {instance_id!r} for this form")
    return submission


def versions_of(session: Session, submission: Submission) -> list[SubmissionVersion]:
    return list(
        session.scalars(
            select(SubmissionVersion)
            .where(SubmissionVersion.submission_id == submission.id)
            .order_by(SubmissionVersion.id)
        )
    )


def attachments_of(session: Session, version: SubmissionVersion) -> list[SubmissionAttachment]:
    return list(
        session.scalars(
            select(SubmissionAttachment)
            .where(SubmissionAttachment.submission_version_id == version.id)
            .order_by(SubmissionAttachment.name)
        )
    )


def list_submissions(
    session: Session, form: Form, limit: int = 500, offset: int = 0
) -> list[Submission]:
    return list(
        session.scalars(
            select(Submission)
            .where(Submission.form_id == form.id)
            .order_by(Submission.id)
            .limit(limit)
            .offset(offset)
        )
    )


def count_submissions(session: Session, form: Form) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Submission).where(Submission.form_id == form.id)
        )
        or 0
    )


Details = tuple[list[tuple[SubmissionVersion, str]], list[SubmissionAttachment]]


def details(session: Session, submissions: list[Submission]) -> dict[int, Details]:
    """Versions (with their form version string) and current attachments for a page of
    submissions, in two queries rather than two per submission."""
    ids = [s.id for s in submissions]
    versions: dict[int, list[tuple[SubmissionVersion, str]]] = defaultdict(list)
    attachments: dict[int, list[SubmissionAttachment]] = defaultdict(list)
    if not ids:
        return {}
    rows = session.execute(
        select(SubmissionVersion, FormVersion.version)
        .join(FormVersion, FormVersion.id == SubmissionVersion.form_version_id)
        .where(SubmissionVersion.submission_id.in_(ids))
        .order_by(SubmissionVersion.id)
    ).all()
    current_to_submission = {}
    for version, form_version in rows:
        versions[version.submission_id].append((version, form_version))
        if version.is_current:
            current_to_submission[version.id] = version.submission_id
    for attachment in session.scalars(
        select(SubmissionAttachment)
        .where(SubmissionAttachment.submission_version_id.in_(list(current_to_submission)))
        .order_by(SubmissionAttachment.name)
    ):
        attachments[current_to_submission[attachment.submission_version_id]].append(attachment)
    return {i: (versions[i], attachments[i]) for i in ids}


def current_version(versions: list[tuple[SubmissionVersion, str]]) -> SubmissionVersion:
    current = [v for v, _ in versions if v.is_current]
    return current[-1] if current else versions[-1][0]


def addressed_version(
    submission: Submission, versions: list[Any], instance_id: str
) -> SubmissionVersion:
    """The version an instanceID in the URL names: the root id stands for the submission, so
    it addresses the current version; any other id addresses that version."""
    plain = [v[0] if isinstance(v, tuple) else v for v in versions]
    if instance_id != submission.root_instance_id:
        for version in plain:
            if version.instance_id == instance_id:
                return cast(SubmissionVersion, version)
    current = [v for v in plain if v.is_current]
    return cast(SubmissionVersion, current[-1] if current else plain[-1])


def received_file(
    session: Session, version: SubmissionVersion, name: str
) -> tuple[SubmissionAttachment, Blob | None] | None:
    """The attachment ``name`` of ``version`` and its blob (None while the file has not been
    received), or None when the version references no such file."""
    row = session.execute(
        select(SubmissionAttachment, Blob)
        .outerjoin(Blob, Blob.sha256 == SubmissionAttachment.blob_sha256)
        .where(
            SubmissionAttachment.submission_version_id == version.id,
            SubmissionAttachment.name == name,
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


# --- figures for the web UI's project page ------------------------------------------------------


def count_received_since(session: Session, project_id: int, since: datetime) -> int:
    """Submissions of the project whose first version arrived at or after ``since``."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(Submission.project_id == project_id, Submission.created_at >= since)
        )
        or 0
    )


def review_state_counts(session: Session, project_id: int) -> dict[str, int]:
    """How many of the project's submissions are in each review state (absent states: 0)."""
    rows = session.execute(
        select(Submission.review_state, func.count())
        .where(Submission.project_id == project_id)
        .group_by(Submission.review_state)
    ).all()
    counts = {state.value: 0 for state in ReviewState}
    counts.update({state: int(n) for state, n in rows})
    return counts


def app_users_last_seen(session: Session, project_id: int) -> dict[int, datetime]:
    """When each app user (device) of the project last had a submission version received."""
    rows = session.execute(
        select(SubmissionVersion.submitter_app_user_id, func.max(SubmissionVersion.received_at))
        .join(Submission, Submission.id == SubmissionVersion.submission_id)
        .where(
            Submission.project_id == project_id,
            SubmissionVersion.submitter_app_user_id.is_not(None),
        )
        .group_by(SubmissionVersion.submitter_app_user_id)
    ).all()
    return {int(app_user or 0): moment for app_user, moment in rows}


def hubs_last_seen(session: Session, project_id: int, scan: int = 2000) -> dict[str, datetime]:
    """The field hubs that relayed the project's latest ``scan`` submission versions, with the
    last time each one's relay reached the server (from the versions' provenance hops)."""
    rows = session.execute(
        select(SubmissionVersion.provenance, SubmissionVersion.received_at)
        .join(Submission, Submission.id == SubmissionVersion.submission_id)
        .where(Submission.project_id == project_id)
        .order_by(SubmissionVersion.id.desc())
        .limit(scan)
    ).all()
    seen: dict[str, datetime] = {}
    for provenance, received_at in rows:
        for hop in provenance or []:
            if isinstance(hop, dict) and hop.get("hop") == "hub" and hop.get("id"):
                name = str(hop["id"])
                if name not in seen or seen[name] < received_at:
                    seen[name] = received_at
    return seen


# --- what a field hub's tablets sent (the web UI's Field hub page) -------------------------------


@dataclass(frozen=True)
class DeviceFormCount:
    """How many submission versions one device sent with one form, and the last one's time."""

    device: str | None  # the app user's name; None when no app user sent them (a user, a peer)
    form_id: str
    received: int
    last_received: datetime


def received_by_device_and_form(session: Session, project_id: int) -> list[DeviceFormCount]:
    """What each device sent with each form, most recent first."""
    last = func.max(SubmissionVersion.received_at)
    rows = session.execute(
        select(AppUser.display_name, Form.xml_form_id, func.count(), last)
        .join(Submission, Submission.id == SubmissionVersion.submission_id)
        .join(Form, Form.id == SubmissionVersion.form_id)
        .outerjoin(AppUser, AppUser.id == SubmissionVersion.submitter_app_user_id)
        .where(Submission.project_id == project_id)
        .group_by(AppUser.display_name, Form.xml_form_id)
        .order_by(last.desc(), Form.xml_form_id)
    ).all()
    return [DeviceFormCount(name, form_id, int(n), moment) for name, form_id, n, moment in rows]


@dataclass(frozen=True)
class ReceivedVersion:
    position: int  # the version's row id: how far a reader got (the hub's collect step)
    instance_id: str
    form_id: str
    received_at: datetime


def received_after(session: Session, project_id: int, position: int) -> list[ReceivedVersion]:
    """The project's submission versions received after ``position``, oldest first."""
    rows = session.execute(
        select(
            SubmissionVersion.id,
            SubmissionVersion.instance_id,
            Form.xml_form_id,
            SubmissionVersion.received_at,
        )
        .join(Submission, Submission.id == SubmissionVersion.submission_id)
        .join(Form, Form.id == SubmissionVersion.form_id)
        .where(Submission.project_id == project_id, SubmissionVersion.id > position)
        .order_by(SubmissionVersion.id)
    ).all()
    return [ReceivedVersion(int(i), str(iid), str(f), at) for i, iid, f, at in rows]
