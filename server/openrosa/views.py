"""The OpenRosa routes ODK Collect and KoboCollect use: form list, form and media downloads,
and submissions.

Every route exists twice: under ``/v1/projects/<id>`` for users (HTTP Basic or Digest) and under
``/v1/key/<token>/projects/<id>`` for app users, whose token travels in the one server URL a
tablet is configured with. Protocol checks and headers live in the two hooks at the top.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast
from urllib.parse import quote

from flask import Blueprint, Response, g, request

from server import errors, http
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.forms import service as forms
from server.forms.models import Form, FormState, FormVersion
from server.intake.service import submission_arrives
from server.openrosa import auth, entity_lists, formats
from server.openrosa.assigned import Assignments
from server.openrosa.multipart import received_submission
from server.submissions.service import Outcome
from server.urls import base_url
from server.web import commit, db, runtime

openrosa_blueprint = Blueprint("openrosa", __name__, url_prefix="/v1")

FILL_DENIED = "your role in this project does not allow filling in forms"
USER_PREFIX = "/projects/<int:project_id>"
APP_USER_PREFIX = "/key/<token>/projects/<int:project_id>"


def route(rule: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view under both the user and the app-user prefix."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        name = view.__name__
        openrosa_blueprint.add_url_rule(USER_PREFIX + rule, name, view, **options)
        openrosa_blueprint.add_url_rule(APP_USER_PREFIX + rule, f"{name}_key", view, **options)
        return view

    return decorator


@openrosa_blueprint.url_value_preprocessor
def _take_caller_values(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    if values is not None:
        g.openrosa_token = values.pop("token", None)
        g.openrosa_project_id = values.pop("project_id", None)


@openrosa_blueprint.before_request
def _openrosa_request() -> None:
    """The protocol gate: the version header, then who is calling.

    Central serves these paths to its REST API too: a bearer-token caller without the
    OpenRosa header (pyodk's ``forms.get_xml``) is answered as Central answers it.
    """
    if not request.headers.get("X-OpenRosa-Version") and not _central_rest_caller():
        raise errors.openrosa_version_missing()
    project_id = g.get("openrosa_project_id")
    if project_id is None:
        return
    token = g.get("openrosa_token")
    if token is not None:
        g.caller = auth.authenticate_app_user(db(), token, project_id)
    else:
        g.caller = auth.authenticate_user(
            db(), runtime().session_factory, project_id, runtime().settings.secret_key
        )


def _central_rest_caller() -> bool:
    """Central's REST clients: pyodk with a bearer token, ruODK, Power BI and Excel with Basic;
    Collect always sends the OpenRosa header."""
    return request.authorization is not None and request.authorization.type in ("bearer", "basic")


@openrosa_blueprint.after_request
def _openrosa_headers(response: Response) -> Response:
    response.headers.update(formats.openrosa_headers())
    if response.status_code == 401:
        stale = bool(g.get("openrosa_stale_nonce"))
        for challenge in auth.challenges(runtime().settings.secret_key, stale=stale):
            response.headers.add("WWW-Authenticate", challenge)
    return response


@openrosa_blueprint.errorhandler(auth.ChallengeRequired)
def _challenge(exc: auth.ChallengeRequired) -> Response:
    g.openrosa_stale_nonce = exc.stale
    response = formats.message_response(exc.status, exc.detail, nature=exc.code)
    response.headers.update(exc.headers)
    return response


def caller() -> auth.Caller:
    return cast(auth.Caller, g.caller)


def caller_base_url() -> str:
    """The URL prefix the caller used, so links work with a device token as well."""
    token = g.get("openrosa_token")
    project_id = caller().project.id
    if token is not None:
        return f"{base_url()}/v1/key/{quote(token, safe='')}/projects/{project_id}"
    return f"{base_url()}/v1/projects/{project_id}"


# --- form list and downloads ---------------------------------------------------------------------


@route("/formList", methods=["GET"])
def form_list() -> Response:
    session = db()
    who = caller()
    entries: list[formats.FormListEntry] = []
    if who.may_fill:
        rows = forms.open_forms(session, who.project.id, request.args.get("formID"))
        given = Assignments(session, who)
        rows = [(f, v) for f, v in rows if given.given(f, v)]
        with_media = forms.versions_with_media(session, [v.id for _f, v in rows])
        base = caller_base_url()
        for form, version in rows:
            form_url = f"{base}/forms/{quote(form.xml_form_id, safe='')}"
            entries.append(
                formats.FormListEntry(
                    form_id=form.xml_form_id,
                    name=version.title or form.name,
                    version=version.version,
                    md5=version.xml_md5,
                    download_url=f"{form_url}.xml",
                    manifest_url=f"{form_url}/manifest" if version.id in with_media else None,
                )
            )
    return http.bytes_response(
        formats.form_list_body(entries).encode("utf-8"), formats.XML_CONTENT_TYPE
    )


def _downloadable(form_id: str) -> tuple[Form, FormVersion]:
    """The form and its current version (the caller's role was checked by ``@requires``).

    Raises:
        Problem: 404 for an unknown form, 409 for a closed one, 403 for a form not assigned to
            the calling device (server.openrosa.assigned).
    """
    form, version = forms.current_form(db(), caller().project.id, form_id)
    if form.state == FormState.CLOSED.value:
        raise errors.form_closed(form_id)
    if not Assignments(db(), caller()).given(form, version):
        raise errors.form_not_assigned(form_id)
    return form, version


@route("/forms/<form_id>.xml", methods=["GET"])
@requires(Role.DATA_COLLECTOR, detail=FILL_DENIED)
def form_xml(form_id: str) -> Response:
    _form, version = _downloadable(form_id)
    return http.bytes_response(
        version.xml.encode("utf-8"), formats.XML_CONTENT_TYPE, etag=version.xml_md5
    )


@route("/forms/<form_id>/manifest", methods=["GET"])
@requires(Role.DATA_COLLECTOR, detail=FILL_DENIED)
def manifest(form_id: str) -> Response:
    form, version = _downloadable(form_id)
    session = db()
    rows = forms.attachments_with_blobs(session, version.id)
    base = f"{caller_base_url()}/forms/{quote(form.xml_form_id, safe='')}/attachments"
    entries = []
    for attachment, blob in rows:
        url = f"{base}/{quote(attachment.name, safe='')}"
        md5 = blob.md5 if blob is not None else None
        if attachment.kind == "entity_list" and attachment.entity_list:
            md5 = entity_lists.entity_list_hash(session, form.project_id, attachment.entity_list)
            entries.append(formats.MediaFileEntry(attachment.name, md5, url, entity_list=True))
        elif md5 is not None:
            # Media not uploaded yet is left out, as devices cannot fetch it.
            entries.append(formats.MediaFileEntry(attachment.name, md5, url))
    return http.bytes_response(
        formats.manifest_body(entries).encode("utf-8"), formats.XML_CONTENT_TYPE
    )


@route("/forms/<form_id>/attachments/<name>", methods=["GET"])
@requires(Role.DATA_COLLECTOR, detail=FILL_DENIED)
def media_file(form_id: str, name: str) -> Response:
    form, version = _downloadable(form_id)
    session = db()
    rows = forms.attachments_with_blobs(session, version.id, name)
    if not rows:
        raise errors.not_found("Form attachment", f"form {form_id!r} has no file {name!r}")
    attachment, blob = rows[0]
    if attachment.kind == "entity_list" and attachment.entity_list:
        return _entity_list_download(form.project_id, attachment.entity_list, name)
    if blob is None:
        raise errors.not_found("Form attachment", f"{name!r} has not been uploaded yet")
    blobs = runtime().blobs
    if http.etag_matches(blob.md5):
        return http.not_modified(blob.md5)
    # The type comes from the name's extension, never from what the uploader claimed.
    response = http.stream_response(
        blobs.iter_chunks(blob.sha256),
        http.safe_attachment_type(name),
        etag=blob.md5,
        size=blob.size,
    )
    http.attachment_headers(response, name)
    return response


def _entity_list_download(project_id: int, list_name: str, name: str) -> Response:
    session = db()
    # Compare with the cheap hash first, so an unchanged list is never generated.
    current = entity_lists.entity_list_hash(session, project_id, list_name)
    if http.etag_matches(current):
        return http.not_modified(current)
    listing = entity_lists.entity_list_csv(session, project_id, list_name)
    return http.stream_response(
        listing.chunks, "text/csv; charset=utf-8", etag=listing.md5, filename=name
    )


# --- submissions ---------------------------------------------------------------------------------


@route("/submission", methods=["GET", "HEAD"])
@requires(Role.DATA_COLLECTOR, detail=FILL_DENIED)
def submission_probe() -> Response:
    """Collect's pre-flight: who am I to this server, and how much may I send."""
    response = Response(status=204)
    response.headers["X-OpenRosa-Accept-Content-Length"] = str(runtime().settings.max_upload_bytes)
    return response


@route("/submission", methods=["POST"])
@requires(Role.DATA_COLLECTOR, detail=FILL_DENIED)
def submission() -> Response:
    who = caller()
    settings = runtime().settings
    with received_submission(
        http.body_stream(settings.max_upload_bytes),
        request.content_type or "",
        runtime().blobs,
        settings.max_form_bytes,
    ) as received:
        assert received.xml is not None
        incoming = received.store_attachments(runtime().blobs, settings.max_upload_bytes)
        result = submission_arrives(db(), who.project, received.xml, incoming, who.submitter())
        commit()
    text = formats.submission_received_text(
        duplicate=result.outcome is Outcome.DUPLICATE, missing=result.attachments_missing
    )
    response = formats.message_response(201, text, nature="submit_success")
    response.headers["X-OpenRosa-Accept-Content-Length"] = str(settings.max_upload_bytes)
    return response
