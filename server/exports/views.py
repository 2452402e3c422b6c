"""The export routes: a form's submissions as Central-shaped CSV (zip), XLSX and GeoJSON.

Viewers, coordinators and administrators may export (data collectors send submissions but do
not read other people's). Every option is checked before the first byte goes out, so a bad
option is a problem+json answer, never half a file.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, stream_with_context

from server import errors, http
from server.accounts.models import Role
from server.accounts.permissions import current_role, requires
from server.entities.personal import guard_for
from server.exports import people, service
from server.exports.options import ExportFormat, parse_options
from server.forms import service as forms
from server.forms.personal import submission_guard
from server.personal.access import Access, record_read
from server.submissions.views import READ_ROLES
from server.web import commit, db, runtime

blueprint = Blueprint(
    "exports_api",
    __name__,
    url_prefix="/api/v1/projects/<int:project_id>",
)

# Zip and XLSX are compressed already; gzip only helps the text formats.
_GZIP_FORMATS = (ExportFormat.CSV, ExportFormat.GEOJSON)


def _export_role(project_id: int) -> Role:
    """The caller's role, which :func:`requires` found. Raises: Problem 403 (a data collector)."""
    role = current_role()
    if role is None or role not in READ_ROLES:
        raise errors.forbidden("data collectors send submissions but do not export them")
    return role


def posted_passphrase() -> str:
    """The passphrase of a decrypting export: ODK Central's body ``{"<keyId>": "<passphrase>"}``
    (JSON, or a form as Central's web page posts it), or ``{"passphrase": ...}``.

    Raises:
        Problem: 400 ``request.invalid`` when the body holds no passphrase.
    """
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        body: dict[str, Any] = request.form.to_dict()
    else:
        body = http.json_object()
    candidates = [v for k, v in body.items() if k == "passphrase" or str(k).isdigit()]
    if len(candidates) != 1 or not isinstance(candidates[0], str) or not candidates[0]:
        raise errors.invalid_input(
            {"passphrase": ['send {"passphrase": "..."} or {"<keyId>": "..."}']}
        )
    return candidates[0]


def _access_tag(access: Access) -> str:
    """Part of an export's ETag: callers who see different things get different tags."""
    return f"{int(access.may_read)}{int(access.partner)}"


def export_response(
    project_id: int, form_id: str, fmt: ExportFormat, passphrase: str | None = None
) -> Any:
    """The export of a form's submissions in ``fmt``, for a route :func:`requires` let through
    (here and Central's `/v1/` copy); decrypted in memory with ``passphrase``.

    Raises:
        Problem: 403 for a data collector, those of :func:`service.prepare`.
    """
    role = _export_role(project_id)
    options = parse_options(fmt, request.args.to_dict())
    rt = runtime()
    prepared = service.prepare(
        db(),
        rt.session_factory,
        rt.blobs,
        project_id,
        form_id,
        options,
        role=role.value,
        secret=rt.settings.secret_key,
        passphrase=passphrase,
        guard=submission_guard(db(), forms.get_form(db(), project_id, form_id), export=True),
    )
    # Nothing was written; end the request's transaction before streaming (each page of the
    # export reads in a short transaction of its own).
    commit()
    gzip = fmt in _GZIP_FORMATS and http.wants_gzip()
    etag = prepared.etag + ("-gz" if gzip else "")
    headers = {"ETag": f'"{etag}"', "Vary": "Accept-Encoding", "Cache-Control": "private"}
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{prepared.filename}"'
    body = service.write(prepared)
    if gzip:
        headers["Content-Encoding"] = "gzip"
        body = http.gzip_chunks(body)
    return Response(
        stream_with_context(body),
        content_type=prepared.content_type,
        headers=headers,
        direct_passthrough=True,
    )


@blueprint.get("/forms/<form_id>/submissions.csv.zip")
@requires(Role.VIEWER)
def submissions_csv_zip(project_id: int, form_id: str) -> Any:
    return export_response(project_id, form_id, ExportFormat.CSV_ZIP)


@blueprint.get("/forms/<form_id>/submissions.csv")
@requires(Role.VIEWER)
def submissions_csv(project_id: int, form_id: str) -> Any:
    return export_response(project_id, form_id, ExportFormat.CSV)


# Encrypted submissions decrypted with the passphrase (ADR 0016): POST, as ODK Central, so the
# passphrase travels in the body, never in a URL or a log line.
@blueprint.post("/forms/<form_id>/submissions.csv.zip")
@requires(Role.VIEWER)
def decrypted_csv_zip(project_id: int, form_id: str) -> Any:
    return export_response(project_id, form_id, ExportFormat.CSV_ZIP, posted_passphrase())


@blueprint.post("/forms/<form_id>/submissions.csv")
@requires(Role.VIEWER)
def decrypted_csv(project_id: int, form_id: str) -> Any:
    return export_response(project_id, form_id, ExportFormat.CSV, posted_passphrase())


@blueprint.get("/forms/<form_id>/submissions.xlsx")
@requires(Role.VIEWER)
def submissions_xlsx(project_id: int, form_id: str) -> Any:
    return export_response(project_id, form_id, ExportFormat.XLSX)


@blueprint.get("/forms/<form_id>/submissions.geojson")
@requires(Role.VIEWER)
def submissions_geojson(project_id: int, form_id: str) -> Any:
    return export_response(project_id, form_id, ExportFormat.GEOJSON)


# --- entity lists for people ------------------------------------------------------------------


@blueprint.get("/entity-lists/<list_name>/entities.csv")
@requires(Role.VIEWER)
def entity_list_csv(project_id: int, list_name: str) -> Any:
    """``entities.csv`` for people (devices get theirs from the OpenRosa manifest)."""
    entity_list = people.get_list(db(), project_id, list_name)
    guard = guard_for(db(), entity_list)
    etag = people.etag(db(), entity_list, f"csv-{_access_tag(guard.access)}")
    record_read(db(), guard.access, "entity_list_export", [list_name])
    commit()
    headers = {"ETag": f'"{etag}"'}
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    headers["Content-Disposition"] = f'attachment; filename="{list_name}.csv"'
    chunks = people.people_csv(runtime().session_factory, entity_list, guard)
    return Response(
        stream_with_context(chunks), content_type="text/csv; charset=utf-8", headers=headers
    )


@blueprint.get("/entity-lists/<list_name>/entities.geojson")
@requires(Role.VIEWER)
def entity_list_geojson(project_id: int, list_name: str) -> Any:
    entity_list = people.get_list(db(), project_id, list_name)
    prop = people.geometry_property(entity_list, request.args.get("property"))
    guard = guard_for(db(), entity_list)
    etag = people.etag(db(), entity_list, f"geojson-{prop}-{_access_tag(guard.access)}")
    record_read(db(), guard.access, "entity_list_export", [list_name])
    commit()
    headers = {"ETag": f'"{etag}"'}
    if request.if_none_match.contains(etag):
        return Response(status=304, headers=headers)
    chunks = people.people_geojson(runtime().session_factory, entity_list, prop, guard)
    return Response(
        stream_with_context(chunks), content_type="application/geo+json", headers=headers
    )
