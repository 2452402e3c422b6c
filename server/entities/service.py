"""Applying submissions' entity blocks to shared records.

Called by the submission service inside the same transaction, so that an entity change is
committed together with the submission that carries it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from server.forms.models import Form, FormVersion
    from server.projects.models import Project
    from server.submissions.models import ReviewState, Submission, SubmissionVersion
    from server.submissions.parse import ParsedInstance


def apply_submission(
    session: Session,
    project: Project,
    form: Form,
    form_version: FormVersion,
    submission: Submission,
    version: SubmissionVersion,
    parsed: ParsedInstance,
) -> None:
    """Apply the entity block of a newly stored submission version (not yet implemented:
    entity processing lands with the shared-records work)."""


def on_review_state_change(
    session: Session, submission: Submission, previous: str, state: ReviewState
) -> None:
    """React to a review decision (lists that apply updates only once approved)."""
