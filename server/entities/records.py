"""Reading shared records for coordinators and data verifiers: lists, entities, versions,
conflicts and the backlog, each in a fixed number of queries whatever the number of rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import errors
from server.entities.models import Entity, EntityConflict, EntityInbox, EntityList, EntityVersion
from server.entities.store import find_list, versions_of


@dataclass(frozen=True)
class ListSummary:
    entity_list: EntityList
    entities: int
    entities_in_conflict: int  # waiting for review (a hard conflict)


@dataclass(frozen=True)
class ConflictRow:
    conflict: EntityConflict
    entity: Entity
    entity_list: EntityList


@dataclass(frozen=True)
class Arrival:
    """When a competing value reached the server, and whether a submission brought it."""

    received_at: datetime
    from_submission: bool


# (entity id, update id) -> its arrival
Arrivals = dict[tuple[int, str], Arrival]


def get_list(session: Session, project_id: int, name: str) -> EntityList:
    """Raises: Problem 404 when the project has no such list."""
    row = find_list(session, project_id, name)
    if row is None:
        raise errors.not_found("Entity list", f"there is no entity list {name!r} in this project")
    return row


def lists(session: Session, project_id: int) -> list[ListSummary]:
    """Each list with its entity count and the number of entities waiting for review."""
    rows = session.execute(
        select(
            EntityList,
            func.count(Entity.id),
            func.count(Entity.id).filter(Entity.conflict == "hard"),
        )
        .outerjoin(Entity, (Entity.list_id == EntityList.id) & Entity.deleted_at.is_(None))
        .where(EntityList.project_id == project_id)
        .group_by(EntityList.id)
        .order_by(EntityList.name)
    ).all()
    return [ListSummary(lst, int(count), int(hard)) for lst, count, hard in rows]


def get_entity(session: Session, entity_list: EntityList, uuid: str) -> Entity:
    """Raises: Problem 404 when the list has no such entity (or it was deleted)."""
    row = session.scalars(
        select(Entity).where(
            Entity.list_id == entity_list.id, Entity.uuid == uuid, Entity.deleted_at.is_(None)
        )
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
    stmt = select(Entity).where(Entity.list_id == entity_list.id, Entity.deleted_at.is_(None))
    if conflict:
        stmt = stmt.where(Entity.conflict == conflict)
    return list(session.scalars(stmt.order_by(Entity.id).limit(limit).offset(offset)))


def versions(session: Session, entity: Entity) -> list[EntityVersion]:
    return versions_of(session, entity)


def conflicts(
    session: Session,
    project_id: int,
    *,
    list_name: str | None = None,
    entity_uuid: str | None = None,
    status: str | None = "open",
    include_soft: bool = False,
) -> list[ConflictRow]:
    stmt = (
        select(EntityConflict, Entity, EntityList)
        .join(Entity, Entity.id == EntityConflict.entity_id)
        .join(EntityList, EntityList.id == Entity.list_id)
        .where(EntityList.project_id == project_id)
        # A deleted entity's conflicts leave the review queue with it.
        .where(Entity.deleted_at.is_(None))
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
    return [ConflictRow(c, e, lst) for c, e, lst in rows]


def get_conflict(session: Session, project_id: int, conflict_id: int) -> ConflictRow:
    """Raises: Problem 404 when the project has no such conflict."""
    row = session.execute(
        select(EntityConflict, Entity, EntityList)
        .join(Entity, Entity.id == EntityConflict.entity_id)
        .join(EntityList, EntityList.id == Entity.list_id)
        .where(EntityList.project_id == project_id, EntityConflict.id == conflict_id)
        .where(Entity.deleted_at.is_(None))
    ).first()
    if row is None:
        raise errors.not_found("Conflict", f"no conflict {conflict_id} in this project")
    return ConflictRow(row[0], row[1], row[2])


def arrivals(session: Session, rows: Sequence[ConflictRow]) -> Arrivals:
    """When each competing value of these conflicts reached the server, in one query."""
    wanted = {
        (row.entity.id, str(value["update_id"]))
        for row in rows
        for value in row.conflict.details.get("values", [])
    }
    if not wanted:
        return {}
    found = session.execute(
        select(
            EntityVersion.entity_id,
            EntityVersion.update_id,
            EntityVersion.created_at,
            EntityVersion.source_submission_version_id,
        ).where(
            EntityVersion.entity_id.in_(sorted({entity_id for entity_id, _ in wanted})),
            EntityVersion.update_id.in_(sorted({update_id for _, update_id in wanted})),
        )
    )
    return {
        (entity_id, update_id): Arrival(created_at, submission_version_id is not None)
        for entity_id, update_id, created_at, submission_version_id in found
        if (entity_id, update_id) in wanted
    }


def backlog(session: Session, project_id: int, status: str | None = None) -> list[EntityInbox]:
    stmt = select(EntityInbox).where(EntityInbox.project_id == project_id)
    if status:
        stmt = stmt.where(EntityInbox.status == status)
    else:
        stmt = stmt.where(EntityInbox.status != "applied")
    return list(session.scalars(stmt.order_by(EntityInbox.id)))


@dataclass(frozen=True)
class Change:
    """An entity version a submission made, with the record it changed."""

    version: EntityVersion
    entity: Entity
    entity_list: EntityList


def changes_from(session: Session, submission_version_ids: Sequence[int]) -> list[Change]:
    """The entity versions made from these submission versions (the changes a report made)."""
    if not submission_version_ids:
        return []
    rows = session.execute(
        select(EntityVersion, Entity, EntityList)
        .join(Entity, Entity.id == EntityVersion.entity_id)
        .join(EntityList, EntityList.id == Entity.list_id)
        .where(EntityVersion.source_submission_version_id.in_(list(submission_version_ids)))
        .order_by(EntityVersion.id)
    ).all()
    return [Change(v, e, lst) for v, e, lst in rows]
