"""JSON API for submissions: list a form's submissions, read one with its XML and files, and
set its review state.

Reading needs the viewer, coordinator or administrator role: data collectors send submissions
but do not read other people's (survivor records are personal data). Review needs coordinator.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

from flask import Blueprint, Response, jsonify, request
from marshmallow import ValidationError
from sqlalchemy import select

from server import errors
from server.accounts import service as accounts
from server.accounts.models import Role
from server.blobs.models import Blob
from server.forms import service as forms
from server.forms.models import Form, FormVersion
from server.submissions import service
from server.submissions.models import (
    ReviewState,
    Submission,
    SubmissionAttachment,
    SubmissionVersion,
)
from server.submissions.schemas import ListQuery, ReviewRequest
from server.web import commit, current_user, db, load_json, login_required, runtime

blueprint = Blueprint(
    "submissions_api",
    __name__,
    url_prefix="/api/v1/projects/<int:project_id>/forms/<form_id>/submissions",
)

READ_ROLES = (Role.VIEWER, Role.COORDINATOR, Role.ADMINISTRATOR)


def _readable_form(project_id: int, form_id: str) -> Form:
    """Raises: Problem 404 (no role, no form) or 403 (a data collector)."""
    role = accounts.require_role(db(), current_user(), project_id, Role.VIEWER)
    if role not in READ_ROLES:
        raise errors.forbidden("data collectors send submissions but do not read them")
    return forms.get_form(db(), project_id, form_id)


@blueprint.get("")
@login_required
def list_submissions(project_id: int, form_id: str) -> Any:
    form = _readable_form(project_id, form_id)
    try:
        query = cast(dict[str, int], ListQuery().load(request.args.to_dict()))
    except ValidationError as exc:
        raise errors.invalid_input(cast(dict[str, Any], exc.messages)) from None
    submissions = service.list_submissions(db(), form, query["limit"], query["offset"])
    details = _details(submissions)
    response = jsonify([_submission_json(form, s, *details[s.id]) for s in submissions])
    response.headers["X-Total-Count"] = str(service.count_submissions(db(), form))
    return response


@blueprint.get("/<instance_id>")
@login_required
def get_submission(project_id: int, form_id: str, instance_id: str) -> Any:
    form = _readable_form(project_id, form_id)
    submission = service.get_submission(db(), form, instance_id)
    versions, attachments = _details([submission])[submission.id]
    addressed = _addressed_version(submission, versions, instance_id)
    if addressed.id != _current(versions).id:
        attachments = service.attachments_of(db(), addressed)
    body = _submission_json(form, submission, versions, attachments)
    body["xml"] = addressed.xml
    body["addressed_instance_id"] = addressed.instance_id
    return jsonify(body)


@blueprint.patch("/<instance_id>")
@login_required
def review_submission(project_id: int, form_id: str, instance_id: str) -> Any:
    user = current_user()
    accounts.require_role(db(), user, project_id, Role.COORDINATOR)
    data = load_json(ReviewRequest())
    form = forms.get_form(db(), project_id, form_id)
    submission = service.get_submission(db(), form, instance_id)
    service.set_review_state(
        db(), submission, ReviewState(data["review_state"]), user.id, note=data["note"]
    )
    commit()
    versions, attachments = _details([submission])[submission.id]
    return jsonify(_submission_json(form, submission, versions, attachments))


@blueprint.get("/<instance_id>/attachments/<name>")
@login_required
def download_attachment(project_id: int, form_id: str, instance_id: str, name: str) -> Any:
    form = _readable_form(project_id, form_id)
    submission = service.get_submission(db(), form, instance_id)
    version = _addressed_version(submission, service.versions_of(db(), submission), instance_id)
    row = (
        db()
        .execute(
            select(SubmissionAttachment, Blob)
            .outerjoin(Blob, Blob.sha256 == SubmissionAttachment.blob_sha256)
            .where(
                SubmissionAttachment.submission_version_id == version.id,
                SubmissionAttachment.name == name,
            )
        )
        .first()
    )
    if row is None:
        raise errors.not_found("Attachment", f"the submission references no file {name!r}")
    _attachment, blob = row
    if blob is None:
        raise errors.not_found("Attachment", f"{name!r} has not been received yet")
    response = Response(
        runtime().blobs.iter_chunks(blob.sha256),
        content_type=blob.content_type,
        direct_passthrough=True,
    )
    response.headers["Content-Length"] = str(blob.size)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["ETag"] = f'"{blob.md5}"'
    return response


# --- rendering -----------------------------------------------------------------------------------

Details = tuple[list[tuple[SubmissionVersion, str]], list[SubmissionAttachment]]


def _details(submissions: list[Submission]) -> dict[int, Details]:
    """Versions (with their form version string) and current attachments for a page of
    submissions, in two queries rather than two per submission."""
    ids = [s.id for s in submissions]
    versions: dict[int, list[tuple[SubmissionVersion, str]]] = defaultdict(list)
    attachments: dict[int, list[SubmissionAttachment]] = defaultdict(list)
    if not ids:
        return {}
    rows = (
        db()
        .execute(
            select(SubmissionVersion, FormVersion.version)
            .join(FormVersion, FormVersion.id == SubmissionVersion.form_version_id)
            .where(SubmissionVersion.submission_id.in_(ids))
            .order_by(SubmissionVersion.id)
        )
        .all()
    )
    current_to_submission = {}
    for version, form_version in rows:
        versions[version.submission_id].append((version, form_version))
        if version.is_current:
            current_to_submission[version.id] = version.submission_id
    for attachment in db().scalars(
        select(SubmissionAttachment)
        .where(SubmissionAttachment.submission_version_id.in_(list(current_to_submission)))
        .order_by(SubmissionAttachment.name)
    ):
        attachments[current_to_submission[attachment.submission_version_id]].append(attachment)
    return {i: (versions[i], attachments[i]) for i in ids}


def _current(versions: list[tuple[SubmissionVersion, str]]) -> SubmissionVersion:
    current = [v for v, _ in versions if v.is_current]
    return current[-1] if current else versions[-1][0]


def _addressed_version(
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


def _submission_json(
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
