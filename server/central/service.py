"""What Central's routes read that the other packages do not answer in one query: the current
version of a page of submissions, and a form's submission counts (``X-Extended-Metadata``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.forms.models import Form
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
