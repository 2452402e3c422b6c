"""What the change feed says about shared records: each new entity version, and each conflict
it opened or closed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.entities import merge
from server.entities.models import Entity, EntityConflict, EntityList, EntityVersion
from server.feed.service import ChangeKind, change_row, record_change


def entity_deleted(session: Session, entity_list: EntityList, entity: Entity) -> None:
    """The entity left the list: laptops drop it (``deleted``), as devices do on their next
    download of the list."""
    record_change(
        session,
        entity_list.project_id,
        ChangeKind.ENTITY_VERSION,
        f"{entity_list.name}/{entity.uuid}",
        {
            "list": entity_list.name,
            "uuid": entity.uuid,
            "version": entity.current_version,
            "deleted": True,
        },
    )


def entity_version_recorded(
    session: Session,
    entity_list: EntityList,
    entity: Entity,
    version: EntityVersion,
    result: merge.MergeResult,
) -> None:
    """Record the entity's new state and the conflicts the version opened or closed."""
    record_change(session, *_version_change(entity_list, entity, version.version))
    if not result.conflicts_opened and not result.conflicts_closed:
        return
    # The numeric id is what the resolution endpoint takes; the key is stable across orders.
    ids = dict(
        session.execute(
            select(EntityConflict.conflict_key, EntityConflict.id).where(
                EntityConflict.entity_id == entity.id
            )
        ).all()
    )
    for state, conflicts in (
        ("open", result.conflicts_opened),
        ("closed", result.conflicts_closed),
    ):
        for conflict in conflicts:
            record_change(
                session,
                entity_list.project_id,
                ChangeKind.CONFLICT,
                conflict.conflict_id,
                {
                    "id": ids.get(conflict.conflict_id),
                    "key": conflict.conflict_id,
                    "state": state,
                    "list": entity_list.name,
                    "uuid": entity.uuid,
                    "kind": conflict.kind.value,
                    "property": conflict.property_name,
                    "requires_review": conflict.requires_review,
                    "version": version.version,
                },
            )


def entity_version_row(entity_list: EntityList, entity: Entity, version: int) -> dict[str, Any]:
    """The feed row of an entity's new version, for a caller that writes it in a statement of
    its own (:func:`server.entities.apply.create_if_new`)."""
    return change_row(*_version_change(entity_list, entity, version))


def _version_change(
    entity_list: EntityList, entity: Entity, version: int
) -> tuple[int, str, str, dict[str, Any]]:
    return (
        entity_list.project_id,
        ChangeKind.ENTITY_VERSION,
        f"{entity_list.name}/{entity.uuid}",
        {
            "list": entity_list.name,
            "uuid": entity.uuid,
            "version": version,
            "label": entity.label,
            "values": entity.values,
            "conflict": entity.conflict,
        },
    )
