"""What Central's routes read that the other packages do not answer in one query: the current
version of a page of submissions, and a form's submission counts (``X-Extended-Metadata``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.accounts.models import AppUser, User
from server.central.render import REVIEW_STATES, submitter_id
from server.entities.models import Entity, EntityList, EntityVersion
from server.forms.models import Form
from server.submissions import records
from server.submissions.models import ReviewState, Submission, SubmissionVersion


@dataclass(frozen=True)
class FormCounts:
    """A form's submissions as Central's extended metadata counts them."""

    submissions: int = 0
    last_submission: datetime | None = None
    review_states: dict[str, int] = field(default_factory=dict)


def current_versions(
    session: Session, submissions: list[Submission]
) -> dict[int, SubmissionVersion]:
    """Each submission's current version, by submission id, in one query."""
    if not submissions:
        return {}
    rows = session.scalars(
        select(SubmissionVersion)
        .where(SubmissionVersion.submission_id.in_([s.id for s in submissions]))
        .where(SubmissionVersion.is_current.is_(True))
        .order_by(SubmissionVersion.id)
    )
    return {version.submission_id: version for version in rows}


def form_counts(session: Session, forms: list[Form]) -> dict[int, FormCounts]:
    """Submission count, latest arrival and review-state counts of each form, in one query."""
    if not forms:
        return {}
    rows = session.execute(
        select(
            Submission.form_id,
            Submission.review_state,
            func.count(),
            func.max(Submission.created_at),
        )
        .where(Submission.form_id.in_([f.id for f in forms]))
        .group_by(Submission.form_id, Submission.review_state)
    ).all()
    totals: dict[int, int] = {}
    latest: dict[int, datetime] = {}
    states: dict[int, dict[str, int]] = {}
    for form_id, state, count, last in rows:
        totals[form_id] = totals.get(form_id, 0) + count
        if last is not None and (form_id not in latest or last > latest[form_id]):
            latest[form_id] = last
        states.setdefault(form_id, {})[state] = count
    return {
        f.id: FormCounts(
            submissions=totals.get(f.id, 0),
            last_submission=latest.get(f.id),
            review_states={
                # Central counts these three; approved and rejected are not in its summary.
                "received": states.get(f.id, {}).get(ReviewState.RECEIVED.value, 0),
                "hasIssues": states.get(f.id, {}).get(ReviewState.HAS_ISSUES.value, 0),
                "edited": states.get(f.id, {}).get(ReviewState.EDITED.value, 0),
            },
        )
        for f in forms
    }


@dataclass(frozen=True)
class ODataSubmission:
    """A submission with what Central's OData shows of it: its current XML and ``__system``."""

    id: int
    instance_id: str
    xml: str
    created_at: datetime
    updated_at: datetime | None
    review_state: str | None  # Central's name, None before any review
    submitter_id: int
    submitter_name: str
    device_id: str | None
    edits: int
    form_version: str
    attachments_present: int
    attachments_expected: int


def odata_submissions(session: Session, form: Form) -> list[ODataSubmission]:
    """Every submission of the form with its current version, newest first (Central's order),
    in a fixed number of queries."""
    submissions = list(
        session.scalars(
            select(Submission)
            .where(Submission.form_id == form.id)
            .order_by(Submission.created_at.desc(), Submission.id.desc())
        )
    )
    details = records.details(session, submissions)
    names = _submitter_names(session, [v for s in submissions for v, _f in details[s.id][0]])
    out = []
    for submission in submissions:
        versions, attachments = details[submission.id]
        current = records.current_version(versions)
        form_version = next(f for v, f in versions if v.id == current.id)
        edited = submission.updated_at != submission.created_at
        out.append(
            ODataSubmission(
                id=submission.id,
                instance_id=submission.root_instance_id,
                xml=current.xml,
                created_at=submission.created_at,
                updated_at=submission.updated_at if edited else None,
                review_state=REVIEW_STATES.get(submission.review_state),
                submitter_id=submitter_id(current),
                submitter_name=names.get(current.id, ""),
                device_id=current.device_id or None,
                edits=len(versions) - 1,
                form_version=form_version,
                attachments_present=sum(1 for a in attachments if a.blob_sha256 is not None),
                attachments_expected=len(attachments),
            )
        )
    return out


def _submitter_names(session: Session, versions: list[SubmissionVersion]) -> dict[int, str]:
    """The display name of each version's submitter, by version id."""
    user_ids = {v.submitter_user_id for v in versions if v.submitter_user_id}
    app_ids = {v.submitter_app_user_id for v in versions if v.submitter_app_user_id}
    users = (
        dict(session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).all())
        if user_ids
        else {}
    )
    emails = (
        dict(session.execute(select(User.id, User.email).where(User.id.in_(user_ids))).all())
        if user_ids
        else {}
    )
    apps = (
        dict(
            session.execute(
                select(AppUser.id, AppUser.display_name).where(AppUser.id.in_(app_ids))
            ).all()
        )
        if app_ids
        else {}
    )
    names: dict[int, str] = {}
    for v in versions:
        if v.submitter_user_id:
            names[v.id] = users.get(v.submitter_user_id) or emails.get(v.submitter_user_id, "")
        elif v.submitter_app_user_id:
            names[v.id] = apps.get(v.submitter_app_user_id, "")
    return names


@dataclass(frozen=True)
class EntityRow:
    """An entity with its current version and who created it, as Central shows them."""

    entity: Entity
    current: EntityVersion | None
    creator_id: int
    creator_name: str


def version_creators(session: Session, versions: list[EntityVersion]) -> dict[int, int]:
    """Who made each entity version, by version id: the user of an API change, else the
    submitter of the submission that brought it (user, else app user); 0 when unknown."""
    submission_ids = {v.source_submission_version_id for v in versions}
    submission_ids.discard(None)
    submitters: dict[int, int] = {}
    if submission_ids:
        for sv in session.scalars(
            select(SubmissionVersion).where(SubmissionVersion.id.in_(submission_ids))
        ):
            submitters[sv.id] = submitter_id(sv)
    return {
        v.id: v.source_user_id or submitters.get(v.source_submission_version_id or 0, 0)
        for v in versions
    }


def entity_rows(session: Session, entity_list: EntityList) -> list[EntityRow]:
    """Every entity of the list (oldest first) with its current version and creator, in a
    fixed number of queries."""
    entities = list(
        session.scalars(
            select(Entity)
            .where(Entity.list_id == entity_list.id, Entity.deleted_at.is_(None))
            .order_by(Entity.id)
        )
    )
    return _rows(session, entities)


def entity_row(session: Session, entity: Entity) -> EntityRow:
    return _rows(session, [entity])[0]


def _rows(session: Session, entities: list[Entity]) -> list[EntityRow]:
    if not entities:
        return []
    versions = list(
        session.scalars(
            select(EntityVersion)
            .where(EntityVersion.entity_id.in_([e.id for e in entities]))
            .order_by(EntityVersion.version)
        )
    )
    creators = version_creators(session, versions)
    by_entity: dict[int, list[EntityVersion]] = {}
    for version in versions:
        by_entity.setdefault(version.entity_id, []).append(version)
    user_ids = set(creators.values()) - {0}
    names = (
        dict(session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).all())
        if user_ids
        else {}
    )
    rows = []
    for entity in entities:
        own = by_entity.get(entity.id, [])
        first = own[0] if own else None
        current = next((v for v in own if v.version == entity.current_version), None)
        creator = creators.get(first.id, 0) if first is not None else 0
        rows.append(EntityRow(entity, current, creator, names.get(creator, "")))
    return rows
