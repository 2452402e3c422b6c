"""The consent API: a caseworker records that a person withdrew consent (by phone, in person),
without waiting for a follow-up visit. The record leaves every device at its next refresh
(the entity list's hash changes) and every export; a tombstone stays, audited."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from server import errors
from server.accounts.identity import current_user
from server.accounts.models import Role
from server.accounts.permissions import allows, current_role, requires
from server.entities import records
from server.personal.access import may_read_personal
from server.personal.consent import withdraw
from server.web import commit, db

blueprint = Blueprint("personal_api", __name__, url_prefix="/api/v1/projects/<int:project_id>")


@blueprint.post("/entity-lists/<list_name>/entities/<uuid>/consent-withdrawal")
@requires(Role.DATA_COLLECTOR)
def withdraw_consent(project_id: int, list_name: str, uuid: str) -> Any:
    """Raises: Problem 403 unless the caller is a coordinator, an administrator or a survivor
    caseworker; 404 for an unknown list or record."""
    if not (allows(current_role(), Role.COORDINATOR) or may_read_personal(project_id)):
        raise errors.forbidden("coordinators and survivor caseworkers record withdrawals")
    entity_list = records.get_list(db(), project_id, list_name)
    entity = records.get_entity(db(), entity_list, uuid)
    created = withdraw(
        db(),
        project_id,
        entity_list.name,
        entity.uuid,
        source="api",
        user_id=current_user().id,
        version=entity.current_version,
    )
    commit()
    return jsonify({"list": list_name, "uuid": uuid, "withdrawn": True, "new": created}), (
        201 if created else 200
    )
