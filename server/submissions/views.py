"""JSON API for submissions: list a form's submissions, read one with its XML and files. (Setting
its review state is :mod:`server.intake.views`: it releases or refuses entity updates too.)

Reading needs the viewer, coordinator or administrator role: data collectors send submissions
but do not read other people's (survivor records are personal data). Review needs coordinator.
"""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, Response, jsonify, request
from marshmallow import ValidationError

from server import errors, http
from server.accounts.models import Role
from server.accounts.permissions import current_role, requires
from server.forms import service as forms
from server.forms.models import Form
from server.forms.personal import submission_guard
from server.personal.access import record_read
from server.submissions import records, render
from server.submissions.schemas import ListQuery
from server.web import commit, db, runtime

blueprint = Blueprint(
    "submissions_api",
    __name__,
    url_prefix="/api/v1/projects/<int:project_id>/forms/<form_id>/submissions",
)

READ_ROLES = (Role.VIEWER, Role.COORDINATOR, Role.ADMINISTRATOR)


def _readable_form(project_id: int, form_id: str) -> Form:
    """The form of a route :func:`requires` already let through.

    Raises: Problem 404 (no form) or 403 (a data collector).
    """
    if current_role() not in READ_ROLES:
        raise errors.forbidden("data collectors send submissions but do not read them")
    return forms.get_form(db(), project_id, form_id)


@blueprint.get("")
@requires(Role.VIEWER)
def list_submissions(project_id: int, form_id: str) -> Any:
    form = _readable_form(project_id, form_id)
    try:
        query = cast(dict[str, int], ListQuery().load(request.args.to_dict()))
    except ValidationError as exc:
        raise errors.invalid_input(cast(dict[str, Any], exc.messages)) from None
    submissions = records.list_submissions(db(), form, query["limit"], query["offset"])
    details = records.details(db(), submissions)
    guard = submission_guard(db(), form)
    # Consent decides whether a submission is listed at all (partners, withdrawn records).
    shown = [
        s
        for s in submissions
        if guard.xml(records.current_version(details[s.id][0]).xml) is not None
    ]
    response = jsonify([render.submission_json(form, s, *details[s.id]) for s in shown])
    response.headers["X-Total-Count"] = str(records.count_submissions(db(), form))
    return response


@blueprint.get("/<instance_id>")
@requires(Role.VIEWER)
def get_submission(project_id: int, form_id: str, instance_id: str) -> Any:
    form = _readable_form(project_id, form_id)
    submission = records.get_submission(db(), form, instance_id)
    versions, attachments = records.details(db(), [submission])[submission.id]
    addressed = records.addressed_version(submission, versions, instance_id)
    if addressed.id != records.current_version(versions).id:
        attachments = records.attachments_of(db(), addressed)
    guard = submission_guard(db(), form)
    xml = guard.xml(addressed.xml)
    if xml is None:
        raise errors.not_found("Submission", f"there is no submission {instance_id!r}")
    body = render.submission_json(form, submission, versions, attachments)
    body["xml"] = xml
    body["addressed_instance_id"] = addressed.instance_id
    if guard.shows_personal(addressed.xml):
        record_read(db(), guard.access, "submission", [addressed.instance_id])
        commit()
    return jsonify(body)


@blueprint.get("/<instance_id>/attachments/<name>")
@requires(Role.VIEWER)
def download_attachment(project_id: int, form_id: str, instance_id: str, name: str) -> Any:
    form = _readable_form(project_id, form_id)
    submission = records.get_submission(db(), form, instance_id)
    version = records.addressed_version(
        submission, records.versions_of(db(), submission), instance_id
    )
    guard = submission_guard(db(), form)
    if guard.xml(version.xml) is None:
        raise errors.not_found("Submission", f"there is no submission {instance_id!r}")
    if not guard.attachment_allowed(version.xml, name):
        raise errors.personal_data_required(name)
    row = records.received_file(db(), version, name)
    if row is None:
        raise errors.not_found("Attachment", f"the submission references no file {name!r}")
    _attachment, blob = row
    if blob is None:
        raise errors.not_found("Attachment", f"{name!r} has not been received yet")
    # Served under the type its name's extension allows, never the one the device claimed
    # (a device sending text/html would otherwise have it rendered in a coordinator's browser).
    if guard.shows_personal(version.xml):
        record_read(db(), guard.access, "submission_attachment", [f"{version.instance_id}/{name}"])
        commit()
    response = Response(runtime().blobs.iter_chunks(blob.sha256), direct_passthrough=True)
    http.attachment_headers(response, name)
    response.headers["Content-Length"] = str(blob.size)
    response.headers["ETag"] = f'"{blob.md5}"'
    return response
