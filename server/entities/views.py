"""JSON API for shared records: entity lists, entities, versions, conflicts and resolutions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from server import errors, http
from server.accounts.identity import current_user
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.entities import personal, records, render, review
from server.entities.schemas import (
    EntityEditRequest,
    EntityListSettingsRequest,
    ReopenRequest,
    ResolutionRequest,
)
from server.entities.store import find_list
from server.web import commit, db, load_json

# The largest page of entities one request reads; a larger or non-positive limit is refused.
MAX_ENTITY_PAGE = 10_000

blueprint = Blueprint("entities_api", __name__, url_prefix="/api/v1/projects/<int:project_id>")


@blueprint.get("/entity-lists")
@requires(Role.VIEWER)
def list_lists(project_id: int) -> Any:
    return jsonify([render.list_json(summary) for summary in records.lists(db(), project_id)])


@blueprint.patch("/entity-lists/<list_name>")
@requires(Role.ADMINISTRATOR)
def set_list(project_id: int, list_name: str) -> Any:
    user_id = current_user().id
    data = load_json(EntityListSettingsRequest())
    entity_list = review.set_approval_required(
        db(), project_id, list_name, data["approval_required"], audit_user_id=user_id
    )
    commit()
    return jsonify({"name": entity_list.name, "approval_required": entity_list.approval_required})


@blueprint.get("/entity-lists/<list_name>/entities")
@requires(Role.VIEWER)
def list_entities(project_id: int, list_name: str) -> Any:
    entity_list = records.get_list(db(), project_id, list_name)
    limit = http.query_int("limit", 1000, minimum=1, maximum=MAX_ENTITY_PAGE)
    offset = http.query_int("offset", 0, minimum=0)
    rows = records.entities(
        db(), entity_list, conflict=request.args.get("conflict"), limit=limit, offset=offset
    )
    guard = personal.guard_for(db(), entity_list)
    shown = personal.visible(guard, rows)
    body = [personal.entity_body(guard, e, render.entity_json(e, entity_list)) for e in shown]
    _audited(guard, entity_list, [e.uuid for e in shown])
    return jsonify(body)


def _audited(guard: Any, entity_list: Any, uuids: list[str]) -> None:
    personal.audit_reads(db(), guard, entity_list, uuids)
    commit()


def _shown_entity(project_id: int, list_name: str, uuid: str) -> tuple[Any, Any, Any]:
    """The list, the entity and the caller's guard. Raises: Problem 404, also for a record
    consent keeps from the caller."""
    entity_list = records.get_list(db(), project_id, list_name)
    entity = records.get_entity(db(), entity_list, uuid)
    guard = personal.guard_for(db(), entity_list)
    if not guard.shown(entity.uuid, entity.values):
        raise errors.not_found("Entity", f"there is no entity {uuid!r} in {list_name!r}")
    return entity_list, entity, guard


@blueprint.get("/entity-lists/<list_name>/entities/<uuid>")
@requires(Role.VIEWER)
def get_entity(project_id: int, list_name: str, uuid: str) -> Any:
    entity_list, entity, guard = _shown_entity(project_id, list_name, uuid)
    body = personal.entity_body(guard, entity, render.entity_json(entity, entity_list))
    rows = records.conflicts(
        db(), project_id, list_name=list_name, entity_uuid=uuid, include_soft=True
    )
    body["conflicts"] = conflicts_json(rows)
    _audited(guard, entity_list, [entity.uuid])
    return jsonify(body)


@blueprint.patch("/entity-lists/<list_name>/entities/<uuid>")
@requires(Role.COORDINATOR)
def edit_entity(project_id: int, list_name: str, uuid: str) -> Any:
    user_id = current_user().id
    data = load_json(EntityEditRequest())
    entity_list = records.get_list(db(), project_id, list_name)
    entity = records.get_entity(db(), entity_list, uuid)
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
    guard = personal.guard_for(db(), entity_list)
    return jsonify(personal.entity_body(guard, entity, render.entity_json(entity, entity_list)))


@blueprint.post("/entity-lists/<list_name>/entities/<uuid>/reopen")
@requires(Role.COORDINATOR)
def reopen_entity(project_id: int, list_name: str, uuid: str) -> Any:
    user_id = current_user().id
    data = load_json(ReopenRequest())
    entity_list = records.get_list(db(), project_id, list_name)
    entity = records.get_entity(db(), entity_list, uuid)
    review.reopen(
        db(), entity_list, entity, status=data["status"], reason=data["reason"], user_id=user_id
    )
    commit()
    guard = personal.guard_for(db(), entity_list)
    return jsonify(personal.entity_body(guard, entity, render.entity_json(entity, entity_list)))


@blueprint.get("/entity-lists/<list_name>/entities/<uuid>/versions")
@requires(Role.VIEWER)
def entity_versions(project_id: int, list_name: str, uuid: str) -> Any:
    entity_list, entity, guard = _shown_entity(project_id, list_name, uuid)
    body = [
        personal.version_body(guard, uuid, render.version_json(v))
        for v in records.versions(db(), entity)
    ]
    _audited(guard, entity_list, [entity.uuid])
    return jsonify(body)


@blueprint.get("/conflicts")
@requires(Role.VIEWER)
def list_conflicts(project_id: int) -> Any:
    status = request.args.get("status", "open")
    rows = records.conflicts(
        db(),
        project_id,
        list_name=request.args.get("list"),
        entity_uuid=request.args.get("entity"),
        status=None if status == "all" else status,
        include_soft=request.args.get("soft") in ("1", "true", "yes"),
    )
    return jsonify(conflicts_json(rows))


@blueprint.get("/conflicts/<int:conflict_id>")
@requires(Role.VIEWER)
def get_conflict(project_id: int, conflict_id: int) -> Any:
    row = records.get_conflict(db(), project_id, conflict_id)
    shown = conflicts_json([row])
    if not shown:
        raise errors.not_found("Conflict", f"there is no conflict {conflict_id}")
    return jsonify(shown[0])


@blueprint.post("/conflicts/<int:conflict_id>/resolution")
@requires(Role.COORDINATOR)
def resolve_conflict(project_id: int, conflict_id: int) -> Any:
    user_id = current_user().id
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
    row = records.get_conflict(db(), project_id, conflict_id)
    commit()
    body = conflicts_json([row])[0]
    body["entity_version"] = applied.version.version if applied.version else None
    guard = personal.guard_for(db(), row.entity_list)
    body["entity"] = personal.entity_body(
        guard, row.entity, render.entity_json(row.entity, row.entity_list)
    )
    return jsonify(body)


@blueprint.get("/entity-backlog")
@requires(Role.COORDINATOR)
def entity_backlog(project_id: int) -> Any:
    rows = records.backlog(db(), project_id, request.args.get("status"))
    body = []
    for row in rows:
        item = render.inbox_json(row)
        found = find_list(db(), project_id, row.list_name)
        if found is not None:
            guard = personal.guard_for(db(), found)
            item["payload"] = personal.payload_body(guard, item["payload"])
        body.append(item)
    return jsonify(body)


def conflicts_json(rows: list[records.ConflictRow]) -> list[dict[str, Any]]:
    """Conflicts as the caller may see them: none of a record consent keeps from them, and no
    values of a personal property unless they are a survivor caseworker."""
    arrivals = records.arrivals(db(), rows)
    guards: dict[int, Any] = {}
    body = []
    for row in rows:
        guard = guards.get(row.entity_list.id)
        if guard is None:
            guard = guards[row.entity_list.id] = personal.guard_for(db(), row.entity_list)
        if guard.shown(row.entity.uuid, row.entity.values):
            uuid = row.entity.uuid
            body.append(personal.conflict_body(guard, uuid, render.conflict_json(row, arrivals)))
    return body
