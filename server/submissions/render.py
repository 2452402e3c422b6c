"""The JSON the submissions API answers with."""

from __future__ import annotations

from typing import Any

from server.forms.models import Form
from server.submissions.models import Submission, SubmissionAttachment, SubmissionVersion


def submission_json(
    form: Form,
    submission: Submission,
    versions: list[tuple[SubmissionVersion, str]],
    attachments: list[SubmissionAttachment],
) -> dict[str, Any]:
    present = [a.name for a in attachments if a.blob_sha256 is not None]
    return {
        "instance_id": submission.root_instance_id,
        "current_instance_id": submission.current_instance_id,
        "form_id": form.xml_form_id,
        "review_state": submission.review_state,
        "created_at": submission.created_at.isoformat(),
        "updated_at": submission.updated_at.isoformat(),
        "versions": [
            {
                "instance_id": v.instance_id,
                "deprecated_id": v.deprecated_id,
                "form_version": form_version,
                "instance_name": v.instance_name,
                "device_id": v.device_id,
                "submitter_user_id": v.submitter_user_id,
                "submitter_app_user_id": v.submitter_app_user_id,
                "received_at": v.received_at.isoformat(),
                "current": v.is_current,
            }
            for v, form_version in versions
        ],
        "attachments": [
            {"name": a.name, "present": a.blob_sha256 is not None} for a in attachments
        ],
        "attachments_expected": len(attachments),
        "attachments_present": len(present),
    }
