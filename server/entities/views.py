"""JSON API for shared records: entity lists, entities, versions, conflicts and resolutions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from server.accounts import service as accounts
from server.accounts.models import Role
from server.entities import review
from server.entities.models import EntityInbox, EntityVersion
from server.entities.schemas import (
    EntityEditRequest,
    EntityListSettingsRequest,
    ReopenRequest,
    ResolutionRequest,
)
from server.web import commit, current_user, db, load_json, login_required

blueprint = Blueprint("entities_api", __name__, url_prefix="/api/v1/projects/<int:project_id>")


def _role(project_id: int, minimum: Role) -> int:
    user = current_user()
    accounts.require_role(db(), user, project_id, minimum)
    return user.id


@blueprint.get("/entity-lists")
@login_required
def list_lists(project_id: int) -> Any:
    _role(project_id, Role.VIEWER)
    return jsonify(
        [
            {
                "name": lst.name,
                "properties": lst.properties,
                "entities": count,
                "entities_in_conflict": hard,
                "approval_required": lst.approval_required,
            }
            for lst, count, hard in review.lists(db(), project_id)
        ]
    )


@blueprint.patch("/entity-lists/<list_name>")
@login_required
def set_list(project_id: int, list_name: str) -> Any:
    user_id = _role(project_id, Role.ADMINISTRATOR)
    data = load_json(EntityListSettingsRequest())
    entity_list = review.get_list(db(), project_id, list_name)
    entity_list.approval_required = data["approval_required"]
    from server.audit import service as audit

    audit.record(
        db(),
        "entity_list.settings",
        project_id=project_id,
        user_id=user_id,
        target_type="entity_list",
        target_id=list_name,
        approval_required=data["approval_required"],
    )
    commit()
    return jsonify({"name": entity_list.name, "approval_required": entity_list.approval_required})


@blueprint.get("/entity-lists/<list_name>/entities")
@login_required
def list_entities(project_id: int, list_name: str) -> Any:
    _role(project_id, Role.VIEWER)
    entity_list = review.get_list(db(), project_id, list_name)
    limit = min(request.args.get("limit", 1000, type=int) or 1000, 10000)
    offset = request.args.get("offset", 0, type=int) or 0
    rows = review.entities(
        db(), entity_list, conflict=request.args.get("conflict"), limit=limit, offset=offset
    )
    return jsonify([review.entity_json(e, entity_list) for e in rows])


@blueprint.get("/entity-lists/<list_name>/entities.csv")
@login_required
def entities_csv(project_id: int, list_name: str) -> Any:
    from server.exports.views import entity_list_csv_response

    return entity_list_csv_response(project_id, list_name)


@blueprint.get("/entity-lists/<list_name>/entities/<uuid>")
@login_required
def get_entity(project_id: int, list_name: str, uuid: str) -> Any:
    _role(project_id, Role.VIEWER)
    entity_list = review.get_list(db(), project_id, list_name)
    entity = review.get_entity(db(), entity_list, uuid)
    body = review.entity_json(entity, entity_list)
    body["conflicts"] = [
        review.conflict_json(c, e, lst, db())
        for c, e, lst in review.conflicts(
            db(), project_id, list_name=list_name, entity_uuid=uuid, include_soft=True
        )
    ]
    return jsonify(body)


@blueprint.patch("/entity-lists/<list_name>/entities/<uuid>")
@login_required
def edit_entity(project_id: int, list_name: str, uuid: str) -> Any:
    user_id = _role(project_id, Role.COORDINATOR)
    data = load_json(EntityEditRequest())
    entity_list = review.get_list(db(), project_id, list_name)
    entity = review.get_entity(db(), entity_list, uuid)
    review.edit(
        db(),
        entity_list,
        entity,
        base_version=data["base_version"],
        values=data["values"],
        label=data["label"],
        user_id=user_id,
        merge_if_stale=data["merge"],
    )
    commit()
    return jsonify(review.entity_json(entity, entity_list))


@blueprint.post("/entity-lists/<list_name>/entities/<uuid>/reopen")
@login_required
def reopen_entity(project_id: int, list_name: str, uuid: str) -> Any:
    user_id = _role(project_id, Role.COORDINATOR)
    data = load_json(ReopenRequest())
    entity_list = review.get_list(db(), project_id, list_name)
    entity = review.get_entity(db(), entity_list, uuid)
    review.reopen(
        db(), entity_list, entity, status=data["status"], reason=data["reason"], user_id=user_id
    )
    commit()
    return jsonify(review.entity_json(entity, entity_list))


@blueprint.get("/entity-lists/<list_name>/entities/<uuid>/versions")
@login_required
def entity_versions(project_id: int, list_name: str, uuid: str) -> Any:
    _role(project_id, Role.VIEWER)
    entity_list = review.get_list(db(), project_id, list_name)
    entity = review.get_entity(db(), entity_list, uuid)
    return jsonify([_version_json(v) for v in review.versions(db(), entity)])


@blueprint.get("/conflicts")
@login_required
def list_conflicts(project_id: int) -> Any:
    _role(project_id, Role.VIEWER)
    status = request.args.get("status", "open")
    rows = review.conflicts(
        db(),
        project_id,
        list_name=request.args.get("list"),
        entity_uuid=request.args.get("entity"),
        status=None if status == "all" else status,
        include_soft=request.args.get("soft") in ("1", "true", "yes"),
    )
    return jsonify([review.conflict_json(c, e, lst, db()) for c, e, lst in rows])


@blueprint.get("/conflicts/<int:conflict_id>")
@login_required
def get_conflict(project_id: int, conflict_id: int) -> Any:
    _role(project_id, Role.VIEWER)
    conflict, entity, entity_list = review.get_conflict(db(), project_id, conflict_id)
    return jsonify(review.conflict_json(conflict, entity, entity_list, db()))


@blueprint.post("/conflicts/<int:conflict_id>/resolution")
@login_required
def resolve_conflict(project_id: int, conflict_id: int) -> Any:
    user_id = _role(project_id, Role.COORDINATOR)
    data = load_json(ResolutionRequest())
    applied = review.resolve(
        db(),
        project_id,
        conflict_id,
        values=data["values"],
        reason=data["reason"],
        user_id=user_id,
        reopen=data["reopen"],
    )
    conflict, entity, entity_list = review.get_conflict(db(), project_id, conflict_id)
    commit()
    body = review.conflict_json(conflict, entity, entity_list, db())
    body["entity_version"] = applied.version.version if applied.version else None
    body["entity"] = review.entity_json(entity, entity_list)
    return jsonify(body)


@blueprint.get("/entity-backlog")
@login_required
def entity_backlog(project_id: int) -> Any:
    _role(project_id, Role.COORDINATOR)
    return jsonify(
        [_inbox_json(row) for row in review.backlog(db(), project_id, request.args.get("status"))]
    )


def _version_json(version: EntityVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "base_version": version.base_version,
        "kind": version.kind,
        "update_id": version.update_id,
        "sent": version.update.get("values", {}),
        "source": version.update.get("source"),
        "reason": version.update.get("reason"),
        "date_of_information": version.update.get("date_of_information"),
        "result": version.result,
        "conflicts_opened": version.conflicts_opened,
        "conflicts_closed": version.conflicts_closed,
        "forced": version.forced,
        "created_at": version.created_at.isoformat(),
    }


def _inbox_json(row: EntityInbox) -> dict[str, Any]:
    return {
        "id": row.id,
        "list": row.list_name,
        "entity": row.entity_uuid,
        "update_id": row.update_id,
        "status": row.status,
        "reason": row.reason,
        "received_at": row.received_at.isoformat(),
        "payload": row.payload,
    }
