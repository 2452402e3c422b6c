"""Central's entity routes, writing: create one entity or many, update with ``baseVersion`` or
``force``, delete.

Every write goes through the entity merge (:mod:`server.entities.review`), as a coordinator's
edit on fieldsync's own API does: a new immutable version merged by the list's policies, in
the audit log and the change feed, so a status a clearance moved forward never moves back
because a script wrote from stale data. Where Central refuses a stale ``baseVersion`` outright,
the update is stored and merged against what the caller had seen, and the refusal says so
(docs/central-api.md).
"""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

from flask import Blueprint, jsonify, request

from server import errors, http
from server.accounts.identity import current_user
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.central import service
from server.central.auth import basic_caller
from server.central.entity_views import DATASET, entity_json
from server.entities import personal, records, review
from server.entities.models import Entity, EntityList
from server.web import commit, db

# Named in server.central.problems.BLUEPRINTS, so refusals are rendered in Central's shape.
blueprint = Blueprint("central_entity_writes", __name__, url_prefix="/v1/projects/<int:project_id>")
blueprint.before_request(basic_caller)  # HTTP Basic, as Central accepts

# The most entities one bulk request creates (Central has no published limit; this bounds one
# transaction).
MAX_BULK = 10_000


def _text_values(data: Any, entity_list: EntityList, where: str) -> dict[str, str]:
    """``data`` of an entity: text values of properties the list declares.

    Raises:
        Problem: 400 ``central.entity_invalid`` naming what is wrong.
    """
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise errors.central_entity_invalid(f"{where}: data is an object of property values")
    known = set(entity_list.properties)
    for name, value in data.items():
        if name not in known:
            raise errors.central_entity_invalid(
                f"{where}: you specified the property {name!r}, which list "
                f"{entity_list.name!r} does not have"
            )
        if not isinstance(value, str):
            raise errors.central_entity_invalid(
                f'{where}: the value of {name!r} is text ("" to empty it), not {value!r}'
            )
    return dict(data)


def _label(raw: Any, where: str, *, required: bool) -> str | None:
    if raw is None and not required:
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise errors.central_entity_invalid(f"{where}: the label is a non-empty text")
    return raw


def _uuid(raw: Any, where: str) -> str:
    """The entity's uuid: the one sent (Central's literal uuid, no ``uuid:`` prefix), or a new
    one when none is sent, as Central does."""
    if raw is None:
        return str(uuid_module.uuid4())
    try:
        return str(uuid_module.UUID(str(raw)))
    except ValueError:
        raise errors.central_entity_invalid(f"{where}: {raw!r} is not a UUID") from None


def _body(entity: Entity) -> dict[str, Any]:
    """The written entity as Central answers it, its personal properties left out for a
    caller who is not a caseworker (server.personal); a caseworker's read of them is audited
    with the write's transaction."""
    row = service.entity_row(db(), entity)
    entity_list = db().get(EntityList, entity.list_id)
    guard = personal.guard_for(db(), entity_list) if entity_list is not None else None
    if guard is not None and entity_list is not None:
        personal.audit_reads(db(), guard, entity_list, [entity.uuid])
    return entity_json(row.entity, row.current, row.creator_id, data=True, guard=guard)


@blueprint.post(DATASET + "/entities")
@requires(Role.COORDINATOR)
def create_entities(project_id: int, name: str) -> Any:
    """One entity (``{uuid, label, data}``) → the entity; many (``{entities: [{label, data,
    uuid?}], source: {name, size}}``) → ``{"success": true}``, all or none."""
    entity_list = records.get_list(db(), project_id, name)
    body = http.json_object()
    user_id = current_user().id
    if "entities" in body:
        items = body["entities"]
        source = body.get("source") or {}
        if not isinstance(items, list) or not items or len(items) > MAX_BULK:
            raise errors.central_entity_invalid(f"entities is a list of 1 to {MAX_BULK} entities")
        if not isinstance(source, dict) or not isinstance(source.get("name", ""), str):
            raise errors.central_entity_invalid("source is {name, size}")
        source_name = str(source.get("name") or "")[:200]
        for index, item in enumerate(items):
            where = f"entity {index + 1}"
            if not isinstance(item, dict):
                raise errors.central_entity_invalid(f"{where} is not an object")
            review.create(
                db(),
                entity_list,
                uuid=_uuid(item.get("uuid"), where),
                label=_label(item.get("label"), where, required=True) or "",
                values=_text_values(item.get("data"), entity_list, where),
                user_id=user_id,
                source=source_name,
            )
        commit()
        return jsonify({"success": True})
    applied = review.create(
        db(),
        entity_list,
        uuid=_uuid(body.get("uuid"), "the entity"),
        label=_label(body.get("label"), "the entity", required=True) or "",
        values=_text_values(body.get("data"), entity_list, "the entity"),
        user_id=user_id,
    )
    body = _body(applied.entity)
    commit()
    return jsonify(body)


def _base_version(entity: Entity) -> tuple[int, bool]:
    """The version the caller had seen, and whether they forced the write.

    Raises:
        Problem: 400 without ``baseVersion`` or ``force=true``; 409 ``central.entity_version``
            for a version the entity never had.
    """
    force = request.args.get("force", "").lower() == "true"
    raw = request.args.get("baseVersion")
    if raw is None or raw == "":
        if not force:
            raise errors.invalid_input(
                {"baseVersion": ["send the version you read, or force=true to write anyway"]}
            )
        return entity.current_version, True
    if not raw.isdigit():
        raise errors.invalid_input({"baseVersion": ["a whole number"]})
    base = int(raw)
    if base < 1 or base > entity.current_version:
        raise errors.central_entity_version(entity.current_version, base)
    return base, force


@blueprint.patch(DATASET + "/entities/<uuid>")
@requires(Role.COORDINATOR)
def update_entity(project_id: int, name: str, uuid: str) -> Any:
    """Central's update: ``{label?, data?}`` with ``?baseVersion=N`` or ``?force=true``."""
    entity_list = records.get_list(db(), project_id, name)
    entity = records.get_entity(db(), entity_list, uuid)
    body = http.json_object()
    label = _label(body.get("label"), "the update", required=False)
    values = _text_values(body.get("data"), entity_list, "the update")
    base, forced = _base_version(entity)
    current = entity.current_version
    # force=true: the caller writes over what is there, so it counts as having seen it all;
    # the list's policies still hold (a status never moves back without a reopen).
    applied = review.edit(
        db(),
        entity_list,
        entity,
        base_version=current if forced else base,
        values=values,
        label=label,
        user_id=current_user().id,
        merge_if_stale=True,
    )
    if forced or base == current:
        answer = _body(applied.entity)
        commit()
        return jsonify(answer)
    # Stale: stored and merged (committed), then refused as Central refuses it.
    opened = applied.result.conflicts_opened if applied.result else ()
    outcome = {
        "version": applied.version.version if applied.version else current,
        "conflict": applied.entity.conflict,
        "conflictingProperties": sorted({c.property_name for c in opened if c.property_name}),
    }
    commit()
    raise errors.central_entity_merged(current, base, **outcome)


@blueprint.delete(DATASET + "/entities/<uuid>")
@requires(Role.ADMINISTRATOR)
def delete_entity(project_id: int, name: str, uuid: str) -> Any:
    entity_list = records.get_list(db(), project_id, name)
    entity = records.get_entity(db(), entity_list, uuid)
    review.delete(db(), entity_list, entity, user_id=current_user().id)
    commit()
    return jsonify({"success": True})
