"""The sync API under ``/api/v1/sync/``: blobs, push and the change feed (docs/sync-protocol.md).

Views parse headers and bodies, check the caller's role, and hand over to the services.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request

from server import errors, http
from server.accounts.identity import current_user, login_required
from server.accounts.models import Role
from server.accounts.permissions import require
from server.entities.personal import feed_json
from server.feed import service as changes
from server.feed.cursors import START, CursorInvalid, decode_cursor, encode_cursor
from server.projects.service import get_project
from server.sync import service, uploads
from server.sync.schemas import MissingBlobsRequest, PushRequest
from server.web import commit, db, runtime

blueprint = Blueprint("sync_api", __name__, url_prefix="/api/v1/sync")

_KEY_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F))


# --- blobs --------------------------------------------------------------------------------------
# Blobs are scoped to a project (the body's or the query's ``project_id``): a caller sees, sends
# and resumes only the blobs of a project where they may push (docs/security.md).


@blueprint.post("/blobs/missing")
@login_required
def missing_blobs() -> Any:
    data = http.validated(MissingBlobsRequest(), http.json_object())
    require(Role.DATA_COLLECTOR, data["project_id"])
    found = uploads.missing(db(), runtime().blobs, data["project_id"], data["sha256"])
    return http.json_response({"missing": found})


@blueprint.route("/blobs/<sha256>", methods=["HEAD"])
@login_required
def blob_offset(sha256: str) -> Any:
    project_id = _query_int("project_id", None)
    require(Role.DATA_COLLECTOR, project_id)
    state = uploads.upload_state(
        db(),
        runtime().blobs,
        _uploads_dir(),
        uploads.check_sha256(sha256),
        project_id=project_id,
        user_id=current_user().id,
    )
    return _upload_response(200, state)


@blueprint.patch("/blobs/<sha256>")
@login_required
def upload_chunk(sha256: str) -> Any:
    project_id = _query_int("project_id", None)
    require(Role.DATA_COLLECTOR, project_id)
    user = current_user()
    uploads.check_sha256(sha256)
    settings = runtime().settings
    offset = _header_int("Upload-Offset")
    length = _header_int("Upload-Length")
    if length > settings.max_upload_bytes:
        raise errors.too_large(settings.max_upload_bytes)
    checksum = uploads.parse_checksum(request.headers.get("Upload-Checksum"))
    # No transaction is held while the chunk's bytes are copied off the request.
    commit()
    chunk = uploads.spool_chunk(request.stream, _uploads_dir(), settings.max_upload_bytes)
    try:
        state = uploads.receive_chunk(
            db(),
            runtime().blobs,
            _uploads_dir(),
            sha256,
            offset=offset,
            length=length,
            chunk=chunk,
            checksum=checksum,
            project_id=project_id,
            user_id=user.id,
            quota_bytes=settings.upload_quota_bytes or None,
        )
    except uploads.UploadDiscarded:
        commit()
        raise errors.hash_mismatch(sha256) from None
    commit()
    return _upload_response(204, state)


# --- push ---------------------------------------------------------------------------------------


@blueprint.post("/push")
@login_required
def push() -> Any:
    user = current_user()
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > 200 or not set(key) <= _KEY_CHARS:
        raise errors.idempotency_key_required()
    raw = http.json_object()
    data = http.validated(PushRequest(), raw)
    require(Role.DATA_COLLECTOR, data["project_id"])
    items = [
        service.PushItem(
            client_id=item["client_id"],
            xml=item["xml"],
            attachments=tuple(
                service.AttachmentRef(a["name"], a["sha256"]) for a in item["attachments"]
            ),
            via=tuple(item["via"]),
        )
        for item in data["items"]
    ]
    # The key is claimed and the batch stored in transactions of their own.
    commit()
    answer = service.push(
        runtime().session_factory,
        runtime().blobs,
        data["project_id"],
        user.id,
        key,
        service.request_fingerprint(raw),
        items,
    )
    response = http.json_response(answer.body)
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


# --- pull ---------------------------------------------------------------------------------------


@blueprint.get("/changes")
@login_required
def pull_changes() -> Any:
    project_id = _query_int("project_id", None)
    require(Role.VIEWER, project_id)
    project = get_project(db(), project_id)
    # At least 1 (else 400); above the largest page it is clamped (docs/sync-protocol.md).
    limit = http.query_int("limit", changes.DEFAULT_PAGE, minimum=1)
    secret = runtime().settings.secret_key
    scope = f"{project.id}:{project.created_at.isoformat()}"
    token = request.args.get("cursor", "").strip()
    try:
        after = decode_cursor(secret, scope, token) if token else START
        page = changes.read_changes(db(), project.id, after, limit)
    except (CursorInvalid, changes.CursorExpired) as exc:
        raise errors.cursor_expired(f"this cursor cannot be served ({exc})") from None
    etag = page.etag(scope)
    if page.not_modified(scope, etag if http.etag_matches(etag) else None):
        response = Response(status=304)
    else:
        shown = feed_json(db(), project.id, page.changes)
        commit()  # the audit of personal data read, if any
        response = http.json_response(
            {
                "changes": shown,
                "cursor": encode_cursor(secret, scope, page.position),
                "more": page.more,
            }
        )
    # Weak: the gzip and plain bodies of a page differ in bytes but not in meaning. The client
    # keeps the tag itself; no HTTP cache may keep the page (personal data).
    response.headers["ETag"] = http.quote_etag(etag, weak=True)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- helpers ------------------------------------------------------------------------------------


def _uploads_dir() -> Path:
    return runtime().settings.data_dir / "uploads"


def _upload_response(status: int, state: uploads.UploadState) -> Response:
    response = Response(status=status)
    response.headers["Upload-Offset"] = str(state.offset)
    if state.length is not None:
        response.headers["Upload-Length"] = str(state.length)
    if state.complete:
        response.headers["Upload-Complete"] = "1"
    response.headers["Cache-Control"] = "no-store"
    return response


def _header_int(name: str) -> int:
    raw = request.headers.get(name, "").strip()
    if not raw.isdigit():
        raise errors.bad_upload_header(name, f"{name} must be a whole number of bytes")
    return int(raw)


def _query_int(name: str, default: int | None) -> int:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        if default is None:
            raise errors.invalid_input({name: ["required"]})
        return default
    try:
        return int(raw)
    except ValueError:
        raise errors.invalid_input({name: ["not a whole number"]}) from None
