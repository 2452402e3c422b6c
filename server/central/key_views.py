"""ODK Central's managed encryption routes (ADR 0016): turning it on for a project with a
passphrase (``POST /v1/projects/<id>/key``), a form's keys, and the decrypting CSV exports
(``POST …/submissions.csv.zip`` with ``{"<keyId>": "<passphrase>"}``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from marshmallow import Schema, fields

from server import http
from server.accounts.identity import current_user
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.central import render
from server.exports.options import ExportFormat
from server.exports.views import export_response, posted_passphrase
from server.forms import service as forms
from server.forms.reencrypt import publish_encrypted
from server.projects import keys
from server.projects import service as projects
from server.projects.models import KeyScope
from server.web import commit, db, runtime

# Named in server.central.problems.BLUEPRINTS: refusals in Central's shape.
blueprint = Blueprint("central_keys", __name__, url_prefix="/v1/projects/<int:project_id>")


class _KeyRequest(Schema):
    passphrase = fields.String(required=True)
    hint = fields.String(load_default="")


@blueprint.post("/key")
@requires(Role.ADMINISTRATOR)
def enable_encryption(project_id: int) -> Any:
    """Central's "Enabling Project Managed Encryption": every form of the project is published
    again with the new key; the answer is the project, with its ``keyId``."""
    data = http.load_json(_KeyRequest())
    session = db()
    project = projects.get_project(session, project_id)
    key = keys.project_key(session, project_id)
    if key is not None and key.scope != KeyScope.ALL_FORMS.value:
        # A new project's key encrypts its survivor forms: with its passphrase, every form.
        keys.unlock_project_key(session, project_id, data["passphrase"])
        keys.widen_scope(session, key, current_user().id)
    else:
        key = keys.create_key(
            session,
            project,
            data["passphrase"],
            hint=data["hint"],
            actor_user_id=current_user().id,
        )
    publish_encrypted(session, runtime().blobs, project, current_user().id)
    commit()
    return jsonify(render.project_json(project, key.id))


@blueprint.get("/forms/<form_id>/submissions/keys")
@requires(Role.VIEWER)
def form_keys(project_id: int, form_id: str) -> Any:
    """The keys the form's versions encrypt with (Central lists those its submissions use)."""
    session = db()
    form = forms.get_form(session, project_id, form_id)
    key = keys.project_key(session, project_id)
    used = {v.key_id for v in forms.list_versions(session, form)}
    if key is None or key.id not in used:
        return jsonify([])
    return jsonify(
        [
            {
                "id": key.id,
                "public": key.public_key,
                "managed": True,
                "hint": key.hint or None,
                "createdAt": render.timestamp(key.created_at),
            }
        ]
    )


@blueprint.post("/forms/<form_id>/submissions.csv.zip")
@requires(Role.VIEWER)
def decrypted_csv_zip(project_id: int, form_id: str) -> Any:
    return export_response(project_id, form_id, ExportFormat.CSV_ZIP, posted_passphrase())


@blueprint.post("/forms/<form_id>/submissions.csv")
@requires(Role.VIEWER)
def decrypted_csv(project_id: int, form_id: str) -> Any:
    return export_response(project_id, form_id, ExportFormat.CSV, posted_passphrase())
