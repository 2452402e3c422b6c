"""The JSON Central answers with: users, projects, forms and submissions in its field names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.accounts.models import AppUser, User
from server.forms.models import Form, FormVersion
from server.projects.models import Project
from server.submissions.models import ReviewState, Submission, SubmissionVersion

# Central has no review state for a submission nobody has reviewed yet: it is null.
REVIEW_STATES: dict[str, str | None] = {
    ReviewState.RECEIVED.value: None,
    ReviewState.HAS_ISSUES.value: "hasIssues",
    ReviewState.EDITED.value: "edited",
    ReviewState.APPROVED.value: "approved",
    ReviewState.REJECTED.value: "rejected",
}


def timestamp(value: datetime | None) -> str | None:
    """Central's timestamps: UTC, milliseconds, ``Z`` (``2018-04-18T23:19:14.802Z``)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "type": "user",
        "displayName": user.display_name or user.email,
        "email": user.email,
        "createdAt": timestamp(user.created_at),
        "updatedAt": None,
        "deletedAt": None,
    }


def app_user_json(app_user: AppUser, token: str | None = None) -> dict[str, Any]:
    """An app user (a device). Its token is shown once, when it is created: only its hash is
    stored (docs/central-api.md)."""
    return {
        "projectId": app_user.project_id,
        "id": app_user.id,
        "type": "field_key",
        "displayName": app_user.display_name,
        "token": token,
        "createdAt": timestamp(app_user.created_at),
        "updatedAt": None,
        "deletedAt": timestamp(app_user.revoked_at),
    }


def project_json(project: Project, key_id: int | None = None) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description or None,
        "archived": project.archived,
        "keyId": key_id,  # the project's managed encryption key, if any
        "createdAt": timestamp(project.created_at),
        "updatedAt": None,
        "deletedAt": None,
    }


def form_json(form: Form, version: FormVersion) -> dict[str, Any]:
    """A form as Central describes it, with ``version`` as its published definition."""
    return {
        "projectId": form.project_id,
        "xmlFormId": form.xml_form_id,
        "name": version.title or form.name or None,
        "version": version.version,
        "enketoId": None,
        "enketoOnceId": None,
        "hash": version.xml_md5,
        "sha256": version.xml_sha256,
        "state": form.state,
        "keyId": version.key_id,  # the project key the version encrypts with (ADR 0016)
        "draftToken": None,
        "publishedBy": None,
        "createdAt": timestamp(form.created_at),
        "updatedAt": timestamp(form.updated_at),
        "publishedAt": timestamp(version.published_at),
    }


def submitter_id(version: SubmissionVersion) -> int:
    """Central's ``submitterId``: the user's id, else the app user's (ids of two tables, see
    docs/central-api.md); 0 when nobody is known (a submission imported without one)."""
    return version.submitter_user_id or version.submitter_app_user_id or 0


def submission_json(submission: Submission, current: SubmissionVersion) -> dict[str, Any]:
    version_json = {
        "instanceId": current.instance_id,
        "instanceName": current.instance_name or None,
        "submitterId": submitter_id(current),
        "deviceId": current.device_id or None,
        "userAgent": None,
        "createdAt": timestamp(current.received_at),
        "current": True,
    }
    return {
        "instanceId": submission.root_instance_id,
        "submitterId": version_json["submitterId"],
        "deviceId": version_json["deviceId"],
        "userAgent": None,
        "instanceName": version_json["instanceName"],
        "reviewState": REVIEW_STATES.get(submission.review_state),
        "createdAt": timestamp(submission.created_at),
        # Central sets updatedAt on an edit or a review only; null until then.
        "updatedAt": (
            timestamp(submission.updated_at)
            if submission.updated_at != submission.created_at
            else None
        ),
        "deletedAt": None,
        "currentVersion": version_json,
    }
