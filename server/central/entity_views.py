"""Central's entity routes, reading: entity lists (``datasets``), their entities, an entity's
versions, and the OData feed of a list. Writing is :mod:`server.central.entity_writes`; both
render entities with :func:`entity_json` and :func:`version_json`, the one place an entity's
``data`` is shaped for Central's clients (:func:`entity_data`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, jsonify, request

from server import errors
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.central import service
from server.central.auth import basic_caller
from server.central.odata_views import page_rows
from server.central.render import timestamp
from server.entities import personal, records
from server.entities.models import Entity, EntityList, EntityVersion
from server.personal.guard import ListGuard
from server.urls import base_url
from server.web import commit, db

# Named in server.central.problems.BLUEPRINTS, so refusals are rendered in Central's shape.
blueprint = Blueprint("central_entities", __name__, url_prefix="/v1/projects/<int:project_id>")
blueprint.before_request(basic_caller)  # HTTP Basic, as Central accepts

DATASET = "/datasets/<name>"


def _list_json(entity_list: EntityList) -> dict[str, Any]:
    return {
        "name": entity_list.name,
        "projectId": entity_list.project_id,
        "createdAt": timestamp(entity_list.created_at),
        "approvalRequired": entity_list.approval_required,
    }


def entity_data(entity: Entity, version: EntityVersion | None) -> dict[str, str]:
    """An entity's properties as a version left them (the current state without a version):
    what every Central route shows of them, before the caller's personal-data guard."""
    if version is None:
        return dict(entity.values)
    return dict(version.result.get("values", entity.values))


def version_json(
    entity: Entity,
    version: EntityVersion | None,
    creator: int,
    *,
    data: bool,
    guard: ListGuard | None = None,
) -> dict[str, Any]:
    result = version.result if version is not None else {}
    body: dict[str, Any] = {
        "label": result.get("label", entity.label),
        "current": version is None or version.version == entity.current_version,
        "createdAt": timestamp(version.created_at if version is not None else entity.updated_at),
        "creatorId": creator,
        "userAgent": "",
        "version": version.version if version is not None else entity.current_version,
        "baseVersion": version.base_version if version is not None else None,
        "conflictingProperties": None,
    }
    if data:
        values = entity_data(entity, version)
        if guard is not None:
            values = {k: v for k, v in values.items() if guard.property_shown(entity.uuid, k)}
        body["data"] = values
    return body


def entity_json(
    entity: Entity,
    current: EntityVersion | None,
    creator: int,
    *,
    data: bool,
    guard: ListGuard | None = None,
) -> dict[str, Any]:
    return {
        "uuid": entity.uuid,
        "creatorId": creator,
        "createdAt": timestamp(entity.created_at),
        "updatedAt": timestamp(entity.updated_at) if entity.current_version > 1 else None,
        "deletedAt": None,
        "conflict": entity.conflict,
        "currentVersion": version_json(entity, current, creator, data=data, guard=guard),
    }


@blueprint.get("/datasets")
@requires(Role.VIEWER)
def list_datasets(project_id: int) -> Any:
    summaries = records.lists(db(), project_id)
    body = []
    for summary in summaries:
        item = _list_json(summary.entity_list)
        if request.headers.get("X-Extended-Metadata", "").lower() == "true":
            item["entities"] = summary.entities
            item["conflicts"] = summary.entities_in_conflict
        body.append(item)
    return jsonify(body)


@blueprint.get(DATASET)
@requires(Role.VIEWER)
def get_dataset(project_id: int, name: str) -> Any:
    entity_list = records.get_list(db(), project_id, name)
    body = _list_json(entity_list)
    body["properties"] = [
        {"name": p, "publishedAt": timestamp(entity_list.created_at), "odataName": p, "forms": []}
        for p in entity_list.properties
    ]
    return jsonify(body)


@blueprint.get(DATASET + "/entities")
@requires(Role.VIEWER)
def list_entities(project_id: int, name: str) -> Any:
    entity_list = records.get_list(db(), project_id, name)
    guard = personal.guard_for(db(), entity_list)
    rows = [r for r in service.entity_rows(db(), entity_list) if _shown(guard, r.entity)]
    return jsonify([entity_json(r.entity, r.current, r.creator_id, data=False) for r in rows])


def _shown(guard: ListGuard, entity: Entity) -> bool:
    return guard.shown(entity.uuid, entity.values)


def _shown_entity(project_id: int, name: str, uuid: str) -> tuple[EntityList, Entity, ListGuard]:
    """Raises: Problem 404, also for a record consent keeps from the caller."""
    entity_list = records.get_list(db(), project_id, name)
    entity = records.get_entity(db(), entity_list, uuid)
    guard = personal.guard_for(db(), entity_list)
    if not _shown(guard, entity):
        raise errors.not_found("Entity", f"there is no entity {uuid!r} in {name!r}")
    personal.audit_reads(db(), guard, entity_list, [entity.uuid])
    commit()
    return entity_list, entity, guard


@blueprint.get(DATASET + "/entities/<uuid>")
@requires(Role.VIEWER)
def get_entity(project_id: int, name: str, uuid: str) -> Any:
    _list, entity, guard = _shown_entity(project_id, name, uuid)
    row = service.entity_row(db(), entity)
    return jsonify(entity_json(row.entity, row.current, row.creator_id, data=True, guard=guard))


@blueprint.get(DATASET + "/entities/<uuid>/versions")
@requires(Role.VIEWER)
def entity_versions(project_id: int, name: str, uuid: str) -> Any:
    _list, entity, guard = _shown_entity(project_id, name, uuid)
    creators = service.version_creators(db(), records.versions(db(), entity))
    return jsonify(
        [
            version_json(entity, v, creators.get(v.id, 0), data=True, guard=guard)
            for v in records.versions(db(), entity)
        ]
    )


@blueprint.get(DATASET + ".svc/Entities")
@requires(Role.VIEWER)
def odata_entities(project_id: int, name: str) -> Any:
    """The list as OData rows: ``__id``, ``label``, each property, ``__system``; ``$top``,
    ``$skip`` and ``$count``."""
    entity_list = records.get_list(db(), project_id, name)
    for option in ("$filter", "$select", "$orderby", "$expand"):
        if request.args.get(option):
            raise errors.central_odata_query(f"{option} is not supported on Entities yet")
    rows = []
    guard = personal.guard_for(db(), entity_list)
    shown = [r for r in service.entity_rows(db(), entity_list) if _shown(guard, r.entity)]
    for r in shown:
        row: dict[str, Any] = {"__id": r.entity.uuid, "label": r.entity.label}
        values = guard.values(r.entity.uuid, r.entity.values)
        for prop in entity_list.properties:
            if guard.property_shown(r.entity.uuid, prop):
                row[prop] = values.get(prop) or None
        personal.audit_reads(db(), guard, entity_list, [r.entity.uuid])
        row["__system"] = {
            "createdAt": timestamp(r.entity.created_at),
            "creatorId": str(r.creator_id),
            "creatorName": r.creator_name,
            "updates": max(r.entity.current_version - 1, 0),
            "updatedAt": timestamp(r.entity.updated_at) if r.entity.current_version > 1 else None,
            "version": r.entity.current_version,
            "conflict": r.entity.conflict,
        }
        rows.append(row)
    service_url = f"{base_url()}/v1/projects/{project_id}/datasets/{quote(name, safe='')}.svc"
    commit()  # the audit of personal data read, if any
    return jsonify(page_rows(rows, service_url, "Entities"))
