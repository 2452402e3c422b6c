"""A data verifier's decision on a submission (``PATCH .../submissions/<instanceID>``), on the
submissions API's URL: it lives here because approving or rejecting a submission also releases
or refuses the entity updates waiting for it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from server.accounts.identity import current_user
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.forms import service as forms
from server.intake.service import review_submission
from server.submissions import records, render
from server.submissions.models import ReviewState
from server.submissions.schemas import ReviewRequest
from server.web import commit, db, load_json

blueprint = Blueprint(
    "submission_review",
    __name__,
    url_prefix="/api/v1/projects/<int:project_id>/forms/<form_id>/submissions",
)


@blueprint.patch("/<instance_id>")
@requires(Role.COORDINATOR)
def review(project_id: int, form_id: str, instance_id: str) -> Any:
    user = current_user()
    data = load_json(ReviewRequest())
    form = forms.get_form(db(), project_id, form_id)
    submission = records.get_submission(db(), form, instance_id)
    review_submission(
        db(), submission, ReviewState(data["review_state"]), user.id, note=data["note"]
    )
    commit()
    versions, attachments = records.details(db(), [submission])[submission.id]
    return jsonify(render.submission_json(form, submission, versions, attachments))
