"""What the change feed says about submissions: a data verifier's decision (review state)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from server.feed.service import ChangeKind, record_change
from server.forms.models import Form
from server.submissions.models import Submission


def review_state_changed(session: Session, submission: Submission) -> None:
    """Record a submission's new review state (also set when an edit arrives)."""
    form = session.get(Form, submission.form_id)
    record_change(
        session,
        submission.project_id,
        ChangeKind.REVIEW_STATE,
        submission.root_instance_id,
        {
            "form_id": form.xml_form_id if form is not None else None,
            "instance_id": submission.root_instance_id,
            "current_instance_id": submission.current_instance_id,
            "state": submission.review_state,
        },
    )
