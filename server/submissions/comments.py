"""Comments on a submission: notes reviewers leave for each other (Central's submission
comments). A comment is never changed; the audit log records that one was made, not its text,
which may quote what a survivor said."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import errors
from server.audit import service as audit
from server.db import utcnow
from server.submissions.models import Submission, SubmissionComment

# Longest comment accepted (Central sets no limit; a note is not a document).
MAX_COMMENT_CHARS = 10_000


def add_comment(
    session: Session, submission: Submission, body: str, author_user_id: int
) -> SubmissionComment:
    """Raises: Problem 400 for an empty or over-long comment."""
    if not body.strip():
        raise errors.invalid_input({"body": ["the comment is empty"]})
    if len(body) > MAX_COMMENT_CHARS:
        raise errors.invalid_input({"body": [f"at most {MAX_COMMENT_CHARS} characters"]})
    comment = SubmissionComment(
        submission_id=submission.id, body=body, author_user_id=author_user_id, created_at=utcnow()
    )
    session.add(comment)
    session.flush()
    audit.record(
        session,
        "submission.comment",
        project_id=submission.project_id,
        user_id=author_user_id,
        target_type="submission",
        target_id=submission.root_instance_id,
        comment_id=comment.id,
    )
    return comment


def comments_of(session: Session, submission: Submission) -> list[SubmissionComment]:
    """The submission's comments, newest first (Central's order)."""
    return list(
        session.scalars(
            select(SubmissionComment)
            .where(SubmissionComment.submission_id == submission.id)
            .order_by(SubmissionComment.created_at.desc(), SubmissionComment.id.desc())
        )
    )
