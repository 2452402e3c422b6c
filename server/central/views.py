"""Central's REST routes: sessions, the current user, projects, forms and submissions.

Thin views: each reads its input, calls the service of the package that owns the data, and
renders Central's JSON (:mod:`server.central.render`). A bearer token from ``POST /v1/sessions``
and one from ``POST /api/v1/sessions`` are the same kind of token. Refusals are rendered in
Central's shape by :mod:`server.app_errors`, which knows this blueprint by its name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import Schema, fields

from server import errors, http
from server.accounts import assignments
from server.accounts import service as accounts
from server.accounts.identity import current_user, login_required
from server.accounts.models import Role
from server.accounts.permissions import current_role, requires
from server.accounts.schemas import SessionRequest
from server.central import render, service
from server.central.auth import basic_caller
from server.db import utcnow
from server.exports.options import ExportFormat
from server.exports.views import export_response
from server.forms import service as forms
from server.forms.models import Form
from server.forms.personal import submission_guard
from server.intake.service import review_submission, submission_arrives
from server.personal.access import record_read
from server.projects import keys
from server.projects import service as projects
from server.submissions import records
from server.submissions.models import ReviewState, Submission, SubmissionVersion
from server.submissions.service import Outcome, Submitter
from server.submissions.views import READ_ROLES
from server.web import commit, db, runtime

# Named in server.central.problems.BLUEPRINTS, so its errors are rendered in Central's shape.
blueprint = Blueprint("central", __name__, url_prefix="/v1")
blueprint.before_request(basic_caller)  # HTTP Basic, as Central accepts

FORM = "/projects/<int:project_id>/forms/<form_id>"
SUBMISSION = FORM + "/submissions/<instance_id>"

# Central's review states a reviewer may set, and ours.
SETTABLE_REVIEW_STATES = {
    "hasIssues": ReviewState.HAS_ISSUES,
    "edited": ReviewState.EDITED,
    "approved": ReviewState.APPROVED,
    "rejected": ReviewState.REJECTED,
}


def _extended() -> bool:
    return request.headers.get("X-Extended-Metadata", "").lower() == "true"


# --- sessions and users -------------------------------------------------------------------------


@blueprint.post("/sessions")
def open_session() -> Any:
    data = http.load_json(SessionRequest())
    user = accounts.authenticate_password(db(), data["email"], data["password"])
    created = utcnow()
    issued = accounts.open_session(db(), user, runtime().settings.session_ttl_seconds)
    commit()
    return jsonify(
        {
            "token": issued.token,
            "createdAt": render.timestamp(created),
            "expiresAt": render.timestamp(datetime.fromisoformat(issued.expires_at)),
        }
    )


@blueprint.delete("/sessions/<token>")
@login_required
def close_session(token: str) -> Any:
    """Log out: the named token stops working. A user may end their own sessions; a site
    administrator anybody's."""
    caller = current_user()
    owner, row = accounts.user_for_token(db(), token)
    if owner.id != caller.id and not caller.is_site_admin:
        raise errors.forbidden("only site administrators end other users' sessions")
    accounts.revoke_session(db(), row)
    commit()
    return jsonify({"success": True})


@blueprint.get("/users/current")
@login_required
def who_am_i() -> Any:
    return jsonify(render.user_json(current_user()))


# --- projects -----------------------------------------------------------------------------------


@blueprint.get("/projects")
@login_required
def list_projects() -> Any:
    ids = accounts.visible_project_ids(db(), current_user())
    with_forms = request.args.get("forms", "").lower() == "true"
    body = []
    for project in projects.list_projects(db(), ids):
        item = render.project_json(project, keys.key_id_of(db(), project.id))
        if with_forms or _extended():
            project_forms = _forms_json(project.id, extended=True)
            if _extended():
                item["forms"] = len(project_forms)
            if with_forms:
                item["formList"] = project_forms
        body.append(item)
    return jsonify(body)


@blueprint.get("/projects/<int:project_id>")
@requires(Role.DATA_COLLECTOR)
def get_project(project_id: int) -> Any:
    item = render.project_json(
        projects.get_project(db(), project_id), keys.key_id_of(db(), project_id)
    )
    if _extended():
        item["forms"] = len(forms.list_forms(db(), project_id))
    return jsonify(item)


# --- app users (devices) and form assignments ----------------------------------------------------

# Central's role id for an app user on a form ("app-user"), the only assignment pyodk makes.
APP_USER_ROLE_ID = 2


class _AppUserRequest(Schema):
    displayName = fields.String(required=True)  # Central's field name


@blueprint.get("/projects/<int:project_id>/app-users")
@requires(Role.COORDINATOR)
def list_app_users(project_id: int) -> Any:
    live = [a for a in accounts.list_app_users(db(), project_id) if a.revoked_at is None]
    return jsonify([render.app_user_json(a) for a in live])


@blueprint.post("/projects/<int:project_id>/app-users")
@requires(Role.COORDINATOR)
def create_app_user(project_id: int) -> Any:
    data = http.load_json(_AppUserRequest())
    issued = accounts.create_app_user(
        db(), projects.get_project(db(), project_id), data["displayName"], current_user().id
    )
    commit()
    return jsonify(render.app_user_json(issued.app_user, token=issued.token))


@blueprint.delete("/projects/<int:project_id>/app-users/<int:app_user_id>")
@requires(Role.COORDINATOR)
def revoke_app_user(project_id: int, app_user_id: int) -> Any:
    app_user = accounts.get_app_user(db(), app_user_id, project_id)
    accounts.revoke_app_user(db(), app_user, current_user().id)
    commit()
    return jsonify({"success": True})


@blueprint.post(
    "/projects/<int:project_id>/forms/<form_id>/assignments/<int:role_id>/<int:actor_id>"
)
@requires(Role.COORDINATOR)
def assign_form(project_id: int, form_id: str, role_id: int, actor_id: int) -> Any:
    """As Central: a form assigned to some app users goes to those only (and a form of a list
    kept for assigned devices, the survivors list, to no other device; see
    server/openrosa/assigned.py). Other roles are refused rather than ignored."""
    form = forms.get_form(db(), project_id, form_id)
    if role_id != APP_USER_ROLE_ID:
        raise errors.central_assignment_role(role_id)
    app_user = accounts.get_app_user(db(), actor_id, project_id)
    assignments.assign_form(db(), app_user, form.id, current_user().id)
    commit()
    return jsonify({"success": True})


# --- forms --------------------------------------------------------------------------------------


def _forms_json(project_id: int, *, extended: bool) -> list[dict[str, Any]]:
    session = db()
    rows = []
    for form in forms.list_forms(session, project_id):
        rows.append((form, forms.get_version(session, form)))
    counts = service.form_counts(session, [f for f, _v in rows]) if extended else {}
    body = []
    for form, version in rows:
        item = render.form_json(form, version)
        if extended:
            item.update(_counts_json(counts[form.id]))
        body.append(item)
    return body


def _counts_json(counts: service.FormCounts) -> dict[str, Any]:
    return {
        "submissions": counts.submissions,
        "lastSubmission": render.timestamp(counts.last_submission),
        "reviewStates": counts.review_states,
        "entityRelated": False,
    }


@blueprint.get("/projects/<int:project_id>/forms")
@requires(Role.VIEWER)
def list_forms(project_id: int) -> Any:
    return jsonify(_forms_json(project_id, extended=_extended()))


@blueprint.get(FORM)
@requires(Role.VIEWER)
def get_form(project_id: int, form_id: str) -> Any:
    form, version = forms.current_form(db(), project_id, form_id)
    item = render.form_json(form, version)
    if _extended():
        item.update(_counts_json(service.form_counts(db(), [form])[form.id]))
    return jsonify(item)


@blueprint.get(FORM + "/versions")
@requires(Role.VIEWER)
def list_form_versions(project_id: int, form_id: str) -> Any:
    form = forms.get_form(db(), project_id, form_id)
    # Newest first, as Central lists them.
    versions = sorted(forms.list_versions(db(), form), key=lambda v: v.id, reverse=True)
    return jsonify([render.form_json(form, version) for version in versions])


# Central's form content types, and the file name each is compiled under.
FORM_FILENAMES = {
    "application/xml": "form.xml",
    "text/xml": "form.xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "form.xlsx",
    "application/vnd.ms-excel": "form.xls",
}


def _publish_body(project_id: int) -> forms.PublishResult:
    """Publish the XForm or XLSForm in the request body (Central's content types).

    Raises:
        Problem: 400 for another content type or an invalid form, 409 for a version that
            exists with other content, 413 over the form size limit.
    """
    content_type = (request.mimetype or "").lower()
    filename = FORM_FILENAMES.get(content_type)
    if filename is None:
        raise errors.unsupported_form_file(
            content_type or "(no Content-Type)",
            "send an XForm as application/xml or an XLSForm as an .xlsx or .xls content type",
        )
    fallback = request.headers.get("X-XlsForm-FormId-Fallback")
    if fallback and not filename.endswith(".xml"):
        filename = f"{fallback}{filename[4:]}"
    settings = runtime().settings
    return forms.publish(
        db(),
        runtime().blobs,
        projects.get_project(db(), project_id),
        filename,
        http.body_bytes(settings.max_form_bytes),
        max_bytes=settings.max_form_bytes,
        actor_user_id=current_user().id,
    )


@blueprint.post("/projects/<int:project_id>/forms")
@requires(Role.ADMINISTRATOR)
def create_form(project_id: int) -> Any:
    """Central's form upload. Forms have no drafts here: the form is published whatever
    ``?publish`` says (docs/central-api.md)."""
    result = _publish_body(project_id)
    commit()
    return jsonify(render.form_json(result.form, result.version))


@blueprint.post(FORM + "/draft")
@requires(Role.ADMINISTRATOR)
def create_draft(project_id: int, form_id: str) -> Any:
    """A new definition is published at once; without a body (Central copies the published
    version into a draft) there is nothing to do."""
    forms.get_form(db(), project_id, form_id)
    if request.content_length or request.headers.get("Transfer-Encoding"):
        result = _publish_body(project_id)
        if result.form.xml_form_id != form_id:
            # Nothing is committed: the request's transaction is rolled back.
            raise errors.central_draft_mismatch(form_id, result.form.xml_form_id)
        commit()
    return jsonify({"success": True})


@blueprint.post(FORM + "/draft/publish")
@requires(Role.ADMINISTRATOR)
def publish_draft(project_id: int, form_id: str) -> Any:
    """The draft was published when it was sent. A ``?version=`` other than the published one
    would need the XForm rewritten, which is refused: send a definition with its version."""
    form = forms.get_form(db(), project_id, form_id)
    wanted = request.args.get("version")
    if wanted is not None and wanted != form.current_version:
        raise errors.central_draft_version(form_id, wanted)
    return jsonify({"success": True})


# --- submissions --------------------------------------------------------------------------------


def readable_form(project_id: int, form_id: str) -> Form:
    """Raises: Problem 404 (no form) or 403 (a data collector, who sends but does not read)."""
    if current_role() not in READ_ROLES:
        raise errors.forbidden("data collectors send submissions but do not read them")
    return forms.get_form(db(), project_id, form_id)


def submission_body(submission: Submission) -> dict[str, Any]:
    current = service.current_versions(db(), [submission])[submission.id]
    return render.submission_json(submission, current)


@blueprint.get(FORM + "/submissions")
@requires(Role.VIEWER)
def list_submissions(project_id: int, form_id: str) -> Any:
    form = readable_form(project_id, form_id)
    total = records.count_submissions(db(), form)
    submissions = records.list_submissions(db(), form, limit=max(total, 1))
    current = service.current_versions(db(), submissions)
    guard = submission_guard(db(), form)
    shown = [s for s in submissions if guard.xml(_current_xml(s)) is not None]
    return jsonify([render.submission_json(s, current[s.id]) for s in shown])


def _current_xml(submission: Submission) -> str:
    return records.current_version([(v, "") for v in records.versions_of(db(), submission)]).xml


def shown_version(form: Form, instance_id: str) -> tuple[Any, Any, str]:
    """The addressed version, the caller's guard and the XML they may see.

    Raises: Problem 404, also for a submission consent keeps from the caller."""
    submission = records.get_submission(db(), form, instance_id)
    version = records.addressed_version(
        submission, records.versions_of(db(), submission), instance_id
    )
    guard = submission_guard(db(), form)
    xml = guard.xml(version.xml)
    if xml is None:
        raise errors.not_found("Submission", f"there is no submission {instance_id!r}")
    return version, guard, xml


@blueprint.get(SUBMISSION)
@requires(Role.VIEWER)
def get_submission(project_id: int, form_id: str, instance_id: str) -> Any:
    form = readable_form(project_id, form_id)
    shown_version(form, instance_id)
    return jsonify(submission_body(records.get_submission(db(), form, instance_id)))


@blueprint.get(SUBMISSION + ".xml")
@requires(Role.VIEWER)
def get_submission_xml(project_id: int, form_id: str, instance_id: str) -> Response:
    form = readable_form(project_id, form_id)
    version, guard, xml = shown_version(form, instance_id)
    if guard.shows_personal(version.xml):
        record_read(db(), guard.access, "submission", [version.instance_id])
        commit()
    return http.bytes_response(xml.encode("utf-8"), "application/xml; charset=utf-8")


@blueprint.post(FORM + "/submissions")
@requires(Role.DATA_COLLECTOR)
def create_submission(project_id: int, form_id: str) -> Any:
    """A submission's XML as the raw body (Central's ``POST …/submissions``), through the same
    use case as a submission from Collect. Files follow separately in Central; here they are
    sent with Collect's multipart ``/submission``."""
    settings = runtime().settings
    forms.get_form(db(), project_id, form_id)  # 404 before reading the body
    xml = http.body_bytes(settings.max_form_bytes)
    project = projects.get_project(db(), project_id)
    result = submission_arrives(db(), project, xml, (), Submitter(user_id=current_user().id))
    if result.form.xml_form_id != form_id:
        # Nothing is committed: the request's transaction is rolled back.
        raise errors.central_form_mismatch(form_id, result.form.xml_form_id)
    if result.outcome is Outcome.DUPLICATE:
        raise errors.central_duplicate_submission(result.version.instance_id)
    commit()
    return jsonify(submission_body(result.submission))


class _ReviewRequest(Schema):
    reviewState = fields.Raw(required=True)  # Central's field name


@blueprint.patch(SUBMISSION)
@requires(Role.COORDINATOR)
def review(project_id: int, form_id: str, instance_id: str) -> Any:
    data = http.load_json(_ReviewRequest())
    state = SETTABLE_REVIEW_STATES.get(data["reviewState"])
    if state is None:
        raise errors.central_review_state(data["reviewState"])
    form = forms.get_form(db(), project_id, form_id)
    submission = records.get_submission(db(), form, instance_id)
    review_submission(db(), submission, state, current_user().id)
    commit()
    return jsonify(submission_body(submission))


def own_or_readable(version: SubmissionVersion) -> None:
    """Raises: Problem 403 for a data collector and a version somebody else sent (they may
    see the file names of what they sent, to complete it, as pyodk does)."""
    if current_role() not in READ_ROLES and version.submitter_user_id != current_user().id:
        raise errors.forbidden("data collectors see and complete only what they sent")


@blueprint.get(SUBMISSION + "/attachments")
@requires(Role.DATA_COLLECTOR)
def list_submission_attachments(project_id: int, form_id: str, instance_id: str) -> Any:
    form = forms.get_form(db(), project_id, form_id)
    version, _guard, _xml = shown_version(form, instance_id)
    own_or_readable(version)
    return jsonify(
        [
            {"name": a.name, "exists": a.blob_sha256 is not None}
            for a in records.attachments_of(db(), version)
        ]
    )


@blueprint.get(SUBMISSION + "/attachments/<name>")
@requires(Role.VIEWER)
def get_submission_attachment(project_id: int, form_id: str, instance_id: str, name: str) -> Any:
    form = readable_form(project_id, form_id)
    version, guard, _xml = shown_version(form, instance_id)
    if not guard.attachment_allowed(version.xml, name):
        raise errors.personal_data_required(name)
    row = records.received_file(db(), version, name)
    if row is None or row[1] is None:
        raise errors.not_found("Attachment", f"the submission has no received file {name!r}")
    blob = row[1]
    if guard.shows_personal(version.xml):
        record_read(db(), guard.access, "submission_attachment", [f"{version.instance_id}/{name}"])
        commit()
    return http.stream_response(
        runtime().blobs.iter_chunks(blob.sha256),
        blob.content_type or "application/octet-stream",
        etag=blob.md5,
        size=blob.size,
        filename=name,
    )


@blueprint.get(FORM + "/submissions.csv.zip")
@requires(Role.VIEWER)
def submissions_csv_zip(project_id: int, form_id: str) -> Any:
    return export_response(project_id, form_id, ExportFormat.CSV_ZIP)


@blueprint.get(FORM + "/submissions.csv")
@requires(Role.VIEWER)
def submissions_csv(project_id: int, form_id: str) -> Any:
    return export_response(project_id, form_id, ExportFormat.CSV)
