"""JSON API for forms: list, publish, read versions, change state, upload media."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from server import errors
from server.accounts.identity import current_user
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.forms import service
from server.forms.models import Form, FormAttachment, FormState, FormVersion
from server.forms.schemas import FormStateRequest
from server.http import load_json
from server.projects.service import get_project
from server.web import commit, db, runtime

blueprint = Blueprint("forms_api", __name__, url_prefix="/api/v1/projects/<int:project_id>")


@blueprint.get("/forms")
@requires(Role.VIEWER)
def list_forms(project_id: int) -> Any:
    return jsonify([form_json(f) for f in service.list_forms(db(), project_id)])


@blueprint.post("/forms")
@requires(Role.ADMINISTRATOR)
def publish_form(project_id: int) -> Any:
    """Publish an XLSForm or XForm: multipart field ``file``, or the raw body with
    ``?filename=``."""
    user = current_user()
    upload = request.files.get("file")
    if upload is not None:
        filename = upload.filename or "form"
        data = upload.read()
    else:
        filename = request.args.get("filename") or "form.xlsx"
        data = request.get_data(cache=False)
    if not data:
        raise errors.invalid_input({"file": ["send the form file as multipart field 'file'"]})
    settings = runtime().settings
    result = service.publish(
        db(),
        runtime().blobs,
        get_project(db(), project_id),
        filename,
        data,
        max_bytes=settings.max_form_bytes,
        actor_user_id=user.id,
    )
    commit()
    body = form_json(result.form)
    body["published_version"] = result.version.version
    body["created"] = result.created
    body["warnings"] = result.warnings
    return jsonify(body), 201 if result.created else 200


@blueprint.get("/forms/<form_id>")
@requires(Role.VIEWER)
def get_form(project_id: int, form_id: str) -> Any:
    form = service.get_form(db(), project_id, form_id)
    body = form_json(form)
    body["versions"] = [version_json(v) for v in service.list_versions(db(), form)]
    return jsonify(body)


@blueprint.patch("/forms/<form_id>")
@requires(Role.ADMINISTRATOR)
def set_form_state(project_id: int, form_id: str) -> Any:
    user = current_user()
    data = load_json(FormStateRequest())
    form = service.get_form(db(), project_id, form_id)
    service.set_state(db(), form, FormState(data["state"]), user.id)
    commit()
    return jsonify(form_json(form))


@blueprint.get("/forms/<form_id>/versions/<version>.xml")
@requires(Role.VIEWER)
def version_xml(project_id: int, form_id: str, version: str) -> Any:
    row = service.get_version(db(), service.get_form(db(), project_id, form_id), version)
    return Response(row.xml, mimetype="text/xml")


@blueprint.post("/forms/<form_id>/attachments/<name>")
@requires(Role.ADMINISTRATOR)
def upload_media(project_id: int, form_id: str, name: str) -> Any:
    user = current_user()
    form = service.get_form(db(), project_id, form_id)
    attachment = service.attach_media(
        db(), runtime().blobs, form, name, request.get_data(cache=False), user.id
    )
    commit()
    return jsonify(attachment_json(attachment)), 201


def form_json(form: Form) -> dict[str, Any]:
    version = service.get_version(db(), form)
    attachments = service.list_attachments(db(), version.id)
    return {
        "form_id": form.xml_form_id,
        "name": form.name,
        "state": form.state,
        "version": form.current_version,
        "hash": f"md5:{version.xml_md5}",
        "entities": version.entity_spec or None,
        "attachments": [attachment_json(a) for a in attachments],
        "updated_at": form.updated_at.isoformat(),
    }


def version_json(version: FormVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "title": version.title,
        "hash": f"md5:{version.xml_md5}",
        "published_at": version.published_at.isoformat(),
        "source_filename": version.source_filename,
    }


def attachment_json(attachment: FormAttachment) -> dict[str, Any]:
    return {
        "name": attachment.name,
        "kind": attachment.kind,
        "entity_list": attachment.entity_list,
        "uploaded": attachment.blob_sha256 is not None or attachment.kind == "entity_list",
    }
