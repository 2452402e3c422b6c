"""What coordinators and data verifiers do to shared records: read them, resolve conflicts,
reopen a closed area on purpose, and edit through the API with a base version.

A resolution, a reopen and an API edit are updates like any other: a new immutable version,
merged by the same policies, in the audit log, and in the entity list devices download next.
"""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import errors
from server.audit import service as audit
from server.entities import merge
from server.entities.models import (
    ConflictStatus,
    Entity,
    EntityConflict,
    EntityInbox,
    EntityList,
    EntityVersion,
)
from server.entities.service import (
    LABEL,
    Applied,
    _apply,
    _versions,
    list_policy,
    lock_entity,
)


def get_list(session: Session, project_id: int, name: str) -> EntityList:
    row = session.scalars(
        select(EntityList).where(EntityList.project_id == project_id, EntityList.name == name)
    ).first()
    if row is None:
        raise errors.not_found("Entity list", f"there is no entity list {name!r} in this project")
    return row


def lists(session: Session, project_id: int) -> list[tuple[EntityList, int, int]]:
    """Each list with its entity count and the number of entities waiting for review."""
    rows = []
    for entity_list in session.scalars(
        select(EntityList).where(EntityList.project_id == project_id).order_by(EntityList.name)
    ):
        count, hard = session.execute(
            select(
                func.count(Entity.id), func.count(Entity.id).filter(Entity.conflict == "hard")
            ).where(Entity.list_id == entity_list.id)
        ).one()
        rows.append((entity_list, int(count), int(hard)))
    return rows


def get_entity(session: Session, entity_list: EntityList, uuid: str) -> Entity:
    row = session.scalars(
        select(Entity).where(Entity.list_id == entity_list.id, Entity.uuid == uuid)
    ).first()
    if row is None:
        raise errors.not_found("Entity", f"no entity {uuid!r} in list {entity_list.name!r}")
    return row


def entities(
    session: Session,
    entity_list: EntityList,
    *,
    conflict: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[Entity]:
    stmt = select(Entity).where(Entity.list_id == entity_list.id)
    if conflict:
        stmt = stmt.where(Entity.conflict == conflict)
    return list(session.scalars(stmt.order_by(Entity.id).limit(limit).offset(offset)))


def versions(session: Session, entity: Entity) -> list[EntityVersion]:
    return _versions(session, entity)


def conflicts(
    session: Session,
    project_id: int,
    *,
    list_name: str | None = None,
    entity_uuid: str | None = None,
    status: str | None = "open",
    include_soft: bool = False,
) -> list[tuple[EntityConflict, Entity, EntityList]]:
    stmt = (
        select(EntityConflict, Entity, EntityList)
        .join(Entity, Entity.id == EntityConflict.entity_id)
        .join(EntityList, EntityList.id == Entity.list_id)
        .where(EntityList.project_id == project_id)
    )
    if list_name:
        stmt = stmt.where(EntityList.name == list_name)
    if entity_uuid:
        stmt = stmt.where(Entity.uuid == entity_uuid)
    if status:
        stmt = stmt.where(EntityConflict.status == status)
    if not include_soft:
        stmt = stmt.where(EntityConflict.requires_review.is_(True))
    rows = session.execute(stmt.order_by(EntityConflict.id)).all()
    return [(c, e, lst) for c, e, lst in rows]


def get_conflict(
    session: Session, project_id: int, conflict_id: int
) -> tuple[EntityConflict, Entity, EntityList]:
    row = session.execute(
        select(EntityConflict, Entity, EntityList)
        .join(Entity, Entity.id == EntityConflict.entity_id)
        .join(EntityList, EntityList.id == Entity.list_id)
        .where(EntityList.project_id == project_id, EntityConflict.id == conflict_id)
    ).first()
    if row is None:
        raise errors.not_found("Conflict", f"no conflict {conflict_id} in this project")
    return row[0], row[1], row[2]


def backlog(session: Session, project_id: int, status: str | None = None) -> list[EntityInbox]:
    stmt = select(EntityInbox).where(EntityInbox.project_id == project_id)
    if status:
        stmt = stmt.where(EntityInbox.status == status)
    else:
        stmt = stmt.where(EntityInbox.status != "applied")
    return list(session.scalars(stmt.order_by(EntityInbox.id)))


def _decide(
    session: Session,
    entity_list: EntityList,
    entity: Entity,
    *,
    kind: merge.UpdateKind,
    values: dict[str, str],
    reason: str | None,
    user_id: int,
    base_version: int | None = None,
    resolves: frozenset[str] = frozenset(),
) -> Applied:
    lock_entity(session, entity_list.project_id, entity_list.name, entity.uuid)
    session.refresh(entity)
    existing = _versions(session, entity)
    if base_version is None:
        base_ids = frozenset(v.update_id for v in existing)
    else:
        base_ids = frozenset(v.update_id for v in existing if v.version <= base_version)
    policy = list_policy(session, entity_list)
    for name, value in values.items():
        prop = policy.policy_for(name)
        if prop is None:
            raise errors.invalid_input({name: [f"list {entity_list.name!r} has no such property"]})
        problem = prop.problem(value)
        if problem:
            raise errors.invalid_input({name: [problem]})
    try:
        update = merge.EntityUpdate(
            update_id=f"{kind.value}:{uuid_module.uuid4()}",
            kind=kind,
            base_ids=base_ids,
            values=values,
            source=f"user {user_id}",
            reason=reason,
            resolves=resolves,
        )
    except ValueError as exc:
        raise errors.invalid_input({"reason": [str(exc)]}) from None
    return _apply(
        session,
        entity_list,
        entity,
        existing,
        update,
        base_version=base_version,
        forced=False,
        user_id=user_id,
    )


def resolve(
    session: Session,
    project_id: int,
    conflict_id: int,
    *,
    values: dict[str, str],
    reason: str,
    user_id: int,
    reopen: bool = False,
) -> Applied:
    """Settle a conflict by choosing or entering values, with a reason.

    Raises:
        Problem: 404 unknown conflict; 409 already closed; 400 bad values.
    """
    conflict, entity, entity_list = get_conflict(session, project_id, conflict_id)
    if conflict.status != ConflictStatus.OPEN.value:
        raise errors.conflict_closed(conflict_id, conflict.status)
    if not values and conflict.property_name and conflict.details.get("provisional_value"):
        # Accepting what is shown is a choice too.
        values = {conflict.property_name: str(conflict.details["provisional_value"])}
    applied = _decide(
        session,
        entity_list,
        entity,
        kind=merge.UpdateKind.REOPEN if reopen else merge.UpdateKind.RESOLUTION,
        values=values,
        reason=reason,
        user_id=user_id,
        resolves=frozenset({conflict.conflict_key}),
    )
    session.refresh(conflict)
    audit.record(
        session,
        "entity.conflict.resolve",
        project_id=project_id,
        user_id=user_id,
        target_type="entity",
        target_id=f"{entity_list.name}/{entity.uuid}",
        conflict=conflict.conflict_key,
        values=values,
        reason=reason,
        version=applied.version.version if applied.version else None,
        closed=conflict.status != ConflictStatus.OPEN.value,
    )
    return applied


def reopen(
    session: Session,
    entity_list: EntityList,
    entity: Entity,
    *,
    status: str,
    reason: str,
    user_id: int,
) -> Applied:
    """Move a hazard area's status back on purpose (the only way back), with a reason."""
    applied = _decide(
        session,
        entity_list,
        entity,
        kind=merge.UpdateKind.REOPEN,
        values={"status": status},
        reason=reason,
        user_id=user_id,
    )
    audit.record(
        session,
        "entity.reopen",
        project_id=entity_list.project_id,
        user_id=user_id,
        target_type="entity",
        target_id=f"{entity_list.name}/{entity.uuid}",
        status=status,
        reason=reason,
    )
    return applied


def edit(
    session: Session,
    entity_list: EntityList,
    entity: Entity,
    *,
    base_version: int,
    values: dict[str, str],
    label: str | None,
    user_id: int,
    merge_if_stale: bool,
) -> Applied:
    """An edit through the API, made against ``base_version``.

    Raises:
        Problem: 409 ``entity.stale_base`` when the entity moved on since ``base_version`` and
            the caller did not ask to merge; 400 for a base version from the future.
    """
    if base_version > entity.current_version or base_version < 1:
        raise errors.invalid_input(
            {"base_version": [f"must be between 1 and {entity.current_version}"]}
        )
    if base_version != entity.current_version and not merge_if_stale:
        raise errors.entity_stale_base(base_version, entity.current_version)
    sent = dict(values)
    if label:
        sent[LABEL] = label
    applied = _decide(
        session,
        entity_list,
        entity,
        kind=merge.UpdateKind.UPDATE,
        values=sent,
        reason=None,
        user_id=user_id,
        base_version=base_version,
    )
    audit.record(
        session,
        "entity.edit",
        project_id=entity_list.project_id,
        user_id=user_id,
        target_type="entity",
        target_id=f"{entity_list.name}/{entity.uuid}",
        base_version=base_version,
        values=sent,
    )
    return applied


def entity_json(entity: Entity, entity_list: EntityList) -> dict[str, Any]:
    return {
        "uuid": entity.uuid,
        "list": entity_list.name,
        "label": entity.label,
        "version": entity.current_version,
        "conflict": entity.conflict,
        "values": entity.values,
        "updated_at": entity.updated_at.isoformat(),
    }


def conflict_json(
    conflict: EntityConflict,
    entity: Entity,
    entity_list: EntityList,
    session: Session | None = None,
) -> dict[str, Any]:
    incoming = [dict(v) for v in conflict.details.get("values", [])]
    if session is not None and incoming:
        # When each value reached the server, and from which submission.
        arrivals = {
            update_id: (created_at, submission_version_id)
            for update_id, created_at, submission_version_id in session.execute(
                select(
                    EntityVersion.update_id,
                    EntityVersion.created_at,
                    EntityVersion.source_submission_version_id,
                ).where(
                    EntityVersion.entity_id == entity.id,
                    EntityVersion.update_id.in_([v["update_id"] for v in incoming]),
                )
            )
        }
        for value in incoming:
            received, submission_version_id = arrivals.get(value["update_id"], (None, None))
            value["received_at"] = received.isoformat() if received else None
            value["submission_instance_id"] = value["update_id"] if submission_version_id else None
    return {
        "id": conflict.id,
        "key": conflict.conflict_key,
        "list": entity_list.name,
        "entity": entity.uuid,
        "entity_label": entity.label,
        "kind": conflict.kind,
        "property": conflict.property_name,
        "requires_review": conflict.requires_review,
        "status": conflict.status,
        "base_value": conflict.details.get("base_value"),
        "current_value": (
            entity.values.get(conflict.property_name)
            if conflict.property_name and conflict.property_name != LABEL
            else entity.label
            if conflict.property_name == LABEL
            else None
        ),
        "provisional_value": conflict.details.get("provisional_value"),
        "reason": conflict.details.get("reason"),
        "incoming": incoming,
        "opened_at": conflict.opened_at.isoformat(),
        "opened_in_version": conflict.opened_in_version,
        "closed_in_version": conflict.closed_in_version,
        "resolution": conflict.resolution,
    }
