"""Central's routes that change a submission or a form's files: comments, an edit sent as new
XML (``PUT``), a submission's file sent on its own, and the form's media files.

An edit goes through the same use case as an edit from Collect (``intake.submission_arrives``:
a new version, its entity update merged); files go to the blob store as Collect's do.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from marshmallow import Schema, fields

from server import errors, http
from server.accounts.identity import current_user
from server.accounts.models import Role, User
from server.accounts.permissions import requires
from server.central import render
from server.central.auth import basic_caller
from server.central.views import (
    FORM,
    SUBMISSION,
    own_or_readable,
    readable_form,
    shown_version,
    submission_body,
)
from server.forms import service as forms
from server.intake.service import submission_arrives
from server.projects import service as projects
from server.submissions import comments, records
from server.submissions import service as submissions
from server.submissions.models import SubmissionComment
from server.submissions.service import IncomingAttachment, Outcome, Submitter
from server.web import commit, db, runtime

# Named in server.central.problems.BLUEPRINTS, so refusals are rendered in Central's shape.
blueprint = Blueprint("central_submissions", __name__, url_prefix="/v1")
blueprint.before_request(basic_caller)  # HTTP Basic, as Central accepts


def _extended() -> bool:
    return request.headers.get("X-Extended-Metadata", "").lower() == "true"


# --- comments -----------------------------------------------------------------------------------


class _CommentRequest(Schema):
    body = fields.String(required=True)


def _comment_json(comment: SubmissionComment, *, extended: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "body": comment.body,
        "actorId": comment.author_user_id or 0,
        "createdAt": render.timestamp(comment.created_at),
    }
    if extended:
        author = db().get(User, comment.author_user_id) if comment.author_user_id else None
        body["actor"] = render.user_json(author) if author is not None else None
    return body


@blueprint.get(SUBMISSION + "/comments")
@requires(Role.VIEWER)
def list_comments(project_id: int, form_id: str, instance_id: str) -> Any:
    form = readable_form(project_id, form_id)
    shown_version(form, instance_id)  # 404 for a submission consent keeps from the caller
    submission = records.get_submission(db(), form, instance_id)
    extended = _extended()
    return jsonify(
        [_comment_json(c, extended=extended) for c in comments.comments_of(db(), submission)]
    )


@blueprint.post(SUBMISSION + "/comments")
@requires(Role.COORDINATOR)
def add_comment(project_id: int, form_id: str, instance_id: str) -> Any:
    data = http.load_json(_CommentRequest())
    form = forms.get_form(db(), project_id, form_id)
    submission = records.get_submission(db(), form, instance_id)
    comment = comments.add_comment(db(), submission, data["body"], current_user().id)
    commit()
    return jsonify(_comment_json(comment, extended=False))


# --- an edit as new XML -------------------------------------------------------------------------


@blueprint.put(SUBMISSION)
@requires(Role.COORDINATOR)
def edit_submission(project_id: int, form_id: str, instance_id: str) -> Any:
    """Central's edit: the whole new XML, whose ``meta/deprecatedID`` names the current
    version, stored as a new version through the same use case as an edit from Collect."""
    form = forms.get_form(db(), project_id, form_id)
    submission = records.get_submission(db(), form, instance_id)
    xml = http.body_bytes(runtime().settings.max_form_bytes)
    project = projects.get_project(db(), project_id)
    result = submission_arrives(db(), project, xml, (), Submitter(user_id=current_user().id))
    # Nothing is committed on a refusal: the request's transaction is rolled back.
    if result.form.id != form.id:
        raise errors.central_edit_not_deprecating(
            f"the XML is for form {result.form.xml_form_id!r}, not {form_id!r}"
        )
    if result.submission.id != submission.id:
        raise errors.central_edit_not_deprecating(
            "the XML's meta/deprecatedID does not name a version of submission "
            f"{submission.root_instance_id!r}; put the current version's instanceID "
            f"({submission.current_instance_id!r}) there"
        )
    if result.outcome is Outcome.DUPLICATE and result.version.instance_id != (
        submission.current_instance_id
    ):
        raise errors.central_duplicate_submission(result.version.instance_id)
    # A retried edit (the same XML again) answers as the first one did.
    commit()
    return jsonify(submission_body(result.submission))


# --- a submission's file, sent on its own ---------------------------------------------------------


@blueprint.post(SUBMISSION + "/attachments/<name>")
@requires(Role.DATA_COLLECTOR)
def upload_submission_attachment(project_id: int, form_id: str, instance_id: str, name: str) -> Any:
    """A file the addressed version expects, as the raw body. A file received already is kept:
    the same content again answers success, other content is refused (docs/central-api.md)."""
    form = forms.get_form(db(), project_id, form_id)
    submission = records.get_submission(db(), form, instance_id)
    version = records.addressed_version(
        submission, records.versions_of(db(), submission), instance_id
    )
    own_or_readable(version)
    row = records.received_file(db(), version, name)
    if row is None:
        raise errors.not_found("Attachment", f"the submission does not expect a file {name!r}")
    settings = runtime().settings
    stored = runtime().blobs.put_bytes(http.body_bytes(settings.max_upload_bytes))
    existing = row[1]
    if existing is not None:
        if existing.sha256 != stored.sha256:
            raise errors.central_attachment_differs(name)
        return jsonify({"success": True})
    content_type = request.mimetype or "application/octet-stream"
    submissions.attach_files(
        db(), project_id, version, [IncomingAttachment(name, stored, content_type)]
    )
    commit()
    return jsonify({"success": True})


# --- the form's media files (Central's form and draft attachments) --------------------------------

_CENTRAL_TYPES = {"image": "image", "audio": "audio", "video": "video"}


@blueprint.get(FORM + "/attachments")
@blueprint.get(FORM + "/draft/attachments", endpoint="list_draft_attachments")
@requires(Role.VIEWER)
def list_form_attachments(project_id: int, form_id: str) -> Any:
    """``[{name, type, exists, blobExists, datasetExists, updatedAt}]`` for the current version
    (which is the draft too: there are no drafts)."""
    _form, version = forms.current_form(db(), project_id, form_id)
    body = []
    for attachment, blob in forms.attachments_with_blobs(db(), version.id):
        dataset = attachment.kind == "entity_list"
        body.append(
            {
                "name": attachment.name,
                "type": _CENTRAL_TYPES.get(attachment.kind, "file"),
                "exists": dataset or blob is not None,
                "blobExists": blob is not None,
                "datasetExists": dataset,
                "updatedAt": render.timestamp(blob.created_at) if blob is not None else None,
            }
        )
    return jsonify(body)


@blueprint.post(FORM + "/attachments/<name>")
@blueprint.post(FORM + "/draft/attachments/<name>", endpoint="upload_draft_attachment")
@requires(Role.ADMINISTRATOR)
def upload_form_attachment(project_id: int, form_id: str, name: str) -> Any:
    """A media file for the form: it goes to the published version, which is the draft here
    (pyodk's ``forms.update(attachments=...)`` sends it to the draft's URL)."""
    form = forms.get_form(db(), project_id, form_id)
    settings = runtime().settings
    forms.attach_media(
        db(),
        runtime().blobs,
        form,
        name,
        http.body_bytes(settings.max_upload_bytes),
        current_user().id,
    )
    commit()
    return jsonify({"success": True})
