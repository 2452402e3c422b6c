"""What coordinators and data verifiers do to shared records: resolve conflicts, reopen a
closed area on purpose, create, edit with a base version and delete through the API (reading
them is :mod:`server.entities.records`).

A resolution, a reopen, an API creation and an API edit are updates like any other: a new
immutable version, merged by the same policies, in the audit log, and in the entity list
devices download next. A deletion keeps every version; the entity leaves the lists.
"""

from __future__ import annotations

import uuid as uuid_module

from sqlalchemy.orm import Session

from server import errors
from server.audit import service as audit
from server.db import utcnow
from server.entities import feed, merge
from server.entities.apply import Applied, apply_update
from server.entities.codec import LABEL
from server.entities.inbox import release_waiting
from server.entities.models import (
    ConflictStatus,
    Entity,
    EntityList,
)
from server.entities.records import get_conflict, get_list
from server.entities.store import find_entity, list_policy, lock_entity, versions_of


def set_approval_required(
    session: Session,
    project_id: int,
    list_name: str,
    required: bool,
    *,
    audit_user_id: int | None = None,
) -> EntityList:
    """Apply the list's updates only once their submission is approved (or at once); the API
    records who changed it in the audit log.

    Raises:
        Problem: 404 when the project has no such list.
    """
    entity_list = get_list(session, project_id, list_name)
    entity_list.approval_required = required
    if audit_user_id is not None:
        audit.record(
            session,
            "entity_list.settings",
            project_id=project_id,
            user_id=audit_user_id,
            target_type="entity_list",
            target_id=list_name,
            approval_required=required,
        )
    return entity_list


def check_values(session: Session, entity_list: EntityList, values: dict[str, str]) -> None:
    """Refuse values a person sends that the list's policy cannot hold (a device's are kept as
    INVALID conflicts instead, since nobody is there to correct them).

    Raises:
        Problem: 400 ``request.invalid_input`` naming the property.
    """
    policy = list_policy(session, entity_list)
    for name, value in values.items():
        prop = policy.policy_for(name)
        if prop is None:
            raise errors.invalid_input({name: [f"list {entity_list.name!r} has no such property"]})
        problem = prop.problem(value)
        if problem:
            raise errors.invalid_input({name: [problem]})


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
    existing = versions_of(session, entity)
    if base_version is None:
        base_ids = frozenset(v.update_id for v in existing)
    else:
        base_ids = frozenset(v.update_id for v in existing if v.version <= base_version)
    check_values(session, entity_list, values)
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
    return apply_update(
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
    found = get_conflict(session, project_id, conflict_id)
    conflict, entity, entity_list = found.conflict, found.entity, found.entity_list
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


def create(
    session: Session,
    entity_list: EntityList,
    *,
    uuid: str,
    label: str,
    values: dict[str, str],
    user_id: int,
    source: str = "",
) -> Applied:
    """Create an entity through the API: its first version, merged like a device's creation.

    Raises:
        Problem: 409 ``entity.exists`` when the list has the uuid already (deleted or not); 400
            for a property the list does not have or a value its policy refuses.
    """
    lock_entity(session, entity_list.project_id, entity_list.name, uuid)
    if find_entity(session, entity_list, uuid) is not None:
        raise errors.entity_exists(entity_list.name, uuid)
    check_values(session, entity_list, values)
    entity = Entity(list_id=entity_list.id, uuid=uuid, current_version=0, values={}, label="")
    session.add(entity)
    session.flush()
    update = merge.EntityUpdate(
        update_id=f"create:{uuid_module.uuid4()}",
        kind=merge.UpdateKind.CREATE,
        base_ids=frozenset(),
        values={**values, LABEL: label},
        source=f"user {user_id}" + (f" ({source})" if source else ""),
    )
    applied = apply_update(
        session, entity_list, entity, [], update, base_version=None, forced=False, user_id=user_id
    )
    # Device updates of this uuid that arrived before it existed can be merged now.
    release_waiting(session, entity_list, uuid)
    session.refresh(entity)
    audit.record(
        session,
        "entity.create",
        project_id=entity_list.project_id,
        user_id=user_id,
        target_type="entity",
        target_id=f"{entity_list.name}/{uuid}",
        source=source,
    )
    return applied


def delete(session: Session, entity_list: EntityList, entity: Entity, *, user_id: int) -> None:
    """Delete an entity: it leaves the list devices download, the listings and OData; its
    versions and conflicts stay, and a device's later update of it is kept in the inbox,
    refused with the reason."""
    lock_entity(session, entity_list.project_id, entity_list.name, entity.uuid)
    session.refresh(entity)
    if entity.deleted_at is not None:
        return
    entity.deleted_at = utcnow()
    feed.entity_deleted(session, entity_list, entity)
    audit.record(
        session,
        "entity.delete",
        project_id=entity_list.project_id,
        user_id=user_id,
        target_type="entity",
        target_id=f"{entity_list.name}/{entity.uuid}",
        version=entity.current_version,
    )
