"""The bundle API: laptops register their keys, fetch a project's key, and a bundle carried by
hand is uploaded and answered with its receipt (docs/offline-bundles.md)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from server import http
from server.accounts.identity import current_user, login_required
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.bundles import keys, service
from server.web import commit, db, runtime

blueprint = Blueprint("bundles_api", __name__, url_prefix="/api/v1")

BUNDLE_TYPE = "application/vnd.fieldsync.bundle"


@blueprint.post("/bundle-keys")
@login_required
def register_key() -> Any:
    body = http.json_object()
    public = keys.parse_public(body)
    label = str(body.get("label") or "")[:200]
    view, created = keys.register(db(), current_user(), public, label)
    commit()
    return http.json_response(view.to_json(), 201 if created else 200)


@blueprint.get("/bundle-keys")
@login_required
def list_keys() -> Any:
    user = current_user()
    rows = keys.list_keys(db(), None if user.is_site_admin else user)
    return http.json_response([row.to_json() for row in rows])


@blueprint.delete("/bundle-keys/<key_id>")
@login_required
def revoke_key(key_id: str) -> Any:
    reason = str(request.args.get("reason") or "revoked through the API")
    keys.revoke(db(), key_id, current_user(), reason)
    commit()
    return Response(status=204)


@blueprint.get("/projects/<int:project_id>/bundle-key")
@requires(Role.VIEWER)
def project_key(project_id: int) -> Any:
    pair = keys.project_keys(db(), project_id, runtime().settings.secret_key)
    commit()
    return http.json_response({"project_id": project_id, **pair.public.to_json()})


@blueprint.get("/projects/<int:project_id>/bundle-keys")
@requires(Role.VIEWER)
def project_members_keys(project_id: int) -> Any:
    """The laptop keys of the project's members, for laptops that meet in the field."""
    return http.json_response(keys.member_keys(db(), project_id))


@blueprint.post("/projects/<int:project_id>/bundles")
@requires(Role.DATA_COLLECTOR)
def upload_bundle(project_id: int) -> Any:
    settings = runtime().settings
    # No transaction is held while the bundle is read off the network.
    commit()
    work = service.scratch_dir(settings.upload_tmp_dir)
    try:
        path = service.spool(request.stream, work, settings.max_upload_bytes)
        imported = service.import_bundle(
            runtime().session_factory,
            runtime().blobs,
            settings.secret_key,
            path,
            work / "receipt.fsb",
            project_id=project_id,
            workdir=work,
        )
        data = imported.receipt.path.read_bytes()
    finally:
        service.remove(work)
    response = Response(data, status=200, mimetype=BUNDLE_TYPE)
    response.headers["X-Bundle-Id"] = imported.bundle_id
    response.headers["Cache-Control"] = "no-store"
    if imported.replayed:
        response.headers["X-Bundle-Replayed"] = "true"
    return response
