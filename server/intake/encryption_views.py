"""Entity updates from encrypted submissions (ADR 0016): how many wait for the passphrase, and
applying them by decrypting the batch in memory."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from marshmallow import Schema, fields

from server import http
from server.accounts.identity import current_user
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.intake.encrypted import apply_encrypted_entities, pending_count
from server.projects import service as projects
from server.web import commit, db, runtime

blueprint = Blueprint(
    "encrypted_entities", __name__, url_prefix="/api/v1/projects/<int:project_id>"
)


class _PassphraseRequest(Schema):
    passphrase = fields.String(required=True)


@blueprint.get("/encrypted-submissions/entities")
@requires(Role.COORDINATOR)
def pending(project_id: int) -> Any:
    return jsonify({"pending": pending_count(db(), project_id)})


@blueprint.post("/encrypted-submissions/entities")
@requires(Role.COORDINATOR)
def apply_pending(project_id: int) -> Any:
    """Decrypt the waiting submissions and apply their entity updates; those that do not open
    stay waiting and are listed with the reason."""
    data = http.load_json(_PassphraseRequest())
    session = db()
    project = projects.get_project(session, project_id)
    batch = apply_encrypted_entities(
        session, runtime().blobs, project, data["passphrase"], current_user().id
    )
    commit()
    return jsonify({"applied": batch.applied, "held": batch.held})
