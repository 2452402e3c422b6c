"""Applying one update to one entity: derive the new state from the whole set of its updates
with the pure merge core (:mod:`server.entities.merge`), store it as a new immutable version,
and keep the conflict rows in step with the conflicts the state holds.

The caller holds the entity's lock (:func:`server.entities.store.lock_entity`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from server.db import utcnow
from server.entities import feed, merge
from server.entities.codec import (
    LABEL,
    InboxPayload,
    conflict_details,
    parse_date,
    update_from_json,
    update_to_json,
)
from server.entities.hub import context_after, is_hub
from server.entities.models import (
    ConflictStatus,
    Entity,
    EntityConflict,
    EntityInbox,
    EntityList,
    EntityVersion,
    InboxStatus,
)
from server.entities.store import list_policy
from server.feed.service import CHANGES as feed_changes


@dataclass
class Applied:
    """What applying an update did: the new version (None when it changed nothing, a
    duplicate) and the merge result."""

    entity: Entity
    version: EntityVersion | None
    result: merge.MergeResult | None


@dataclass(frozen=True)
class DeviceBase:
    """What the device had seen when it made its update, read from its base version."""

    # The updates the device had seen.
    seen: frozenset[str] = frozenset()
    # Why the update must wait ("" when it can be applied now).
    waiting_for: str = ""
    # Applied (on --force) without something it was waiting for.
    forced: bool = False


def device_base(
    session: Session,
    entity: Entity,
    versions: list[EntityVersion],
    inbox: EntityInbox,
    payload: InboxPayload,
    *,
    force: bool,
) -> DeviceBase:
    """The updates the device had seen, from its baseVersion (and, for an offline chain, the
    earlier updates of the same branch)."""
    base = payload.base_version
    trunk = payload.trunk_version
    branch = payload.branch_id
    seen: set[str] = set()
    if payload.replaces_update:
        # An edit of a sent form supersedes what the original sent.
        seen.add(str(payload.replaces_update))
    if payload.hub is not None:
        # Forwarded by a field hub: the centre version the hub had, plus the updates the hub
        # received (and applied provisionally) that the tablet had seen.
        hub_trunk = payload.hub.trunk_version
        hub_seen = set(payload.hub.seen_updates)
        known = {v.update_id for v in versions}
        missing = sorted(hub_seen - known)
        if missing and not force:
            return DeviceBase(
                waiting_for=(
                    f"waiting for {len(missing)} report(s) the tablet had seen on the field hub "
                    f"(first: {missing[0]})"
                )
            )
        trunk_ids = {
            v.update_id for v in versions if hub_trunk is not None and v.version <= int(hub_trunk)
        }
        return DeviceBase(frozenset(seen | trunk_ids | (hub_seen & known)), "", bool(missing))
    if base is None:
        # Forms without offline-entity support send no base: they saw the current state.
        return DeviceBase(frozenset(seen | {v.update_id for v in versions}))
    if trunk is not None and branch and base > trunk:
        rows = session.scalars(
            select(EntityInbox).where(
                EntityInbox.project_id == inbox.project_id,
                EntityInbox.list_name == inbox.list_name,
                EntityInbox.entity_uuid == inbox.entity_uuid,
                EntityInbox.id != inbox.id,
                EntityInbox.status == InboxStatus.APPLIED.value,
            )
        ).all()
        previous = [
            row
            for row in rows
            if (other := InboxPayload.from_json(row.payload)).branch_id == branch
            and other.base_version == base - 1
        ]
        if not previous:
            if not force:
                return DeviceBase(
                    waiting_for=(
                        f"waiting for the previous offline update from the same device "
                        f"(branch {branch}, version {base - 1})"
                    )
                )
            trunk_ids = {v.update_id for v in versions if v.version <= trunk}
            return DeviceBase(frozenset(seen | trunk_ids), "", True)
        seen.add(previous[0].update_id)
        return DeviceBase(frozenset(seen | {v.update_id for v in versions if v.version <= trunk}))
    if base > entity.current_version:
        if not force:
            return DeviceBase(
                waiting_for=(
                    f"baseVersion {base} is newer than the entity's current version "
                    f"{entity.current_version}"
                )
            )
        return DeviceBase(frozenset(seen | {v.update_id for v in versions}), "", True)
    return DeviceBase(frozenset(seen | {v.update_id for v in versions if v.version <= base}))


def to_update(
    inbox: EntityInbox | str,
    payload: InboxPayload,
    kind: merge.UpdateKind,
    base_ids: frozenset[str],
) -> merge.EntityUpdate:
    """The merge core's update from an inbox entry (or its update id) and its payload."""
    update_id = inbox if isinstance(inbox, str) else inbox.update_id
    values = dict(payload.values)
    if payload.label:
        values[LABEL] = str(payload.label)
    return merge.EntityUpdate(
        update_id=update_id,
        kind=kind,
        base_ids=base_ids - {update_id},
        values=values,
        date_of_information=parse_date(payload.date_of_information),
        source=payload.source,
        reason=payload.reason,
    )


def create_entity(
    session: Session,
    entity_list: EntityList,
    inbox: EntityInbox,
    payload: InboxPayload,
    *,
    forced: bool,
) -> Applied:
    entity = Entity(
        list_id=entity_list.id, uuid=inbox.entity_uuid, current_version=0, values={}, label=""
    )
    session.add(entity)
    session.flush()
    update = to_update(inbox, payload, merge.UpdateKind.CREATE, frozenset())
    return apply_update(
        session, entity_list, entity, [], update, inbox=inbox, base_version=None, forced=forced
    )


@dataclass(frozen=True)
class Created:
    """An entity created at once: its first version, and whether updates of its id arrived
    before it and wait in the inbox (``held``: the caller releases them)."""

    version: EntityVersion
    held: bool


def create_if_new(
    session: Session,
    entity_list: EntityList,
    uuid: str,
    update: merge.EntityUpdate,
    inbox_entry: dict[str, Any],
) -> Created | None:
    """The common case of a report creating an entity, in the fewest round trips: when no entity
    has that id, insert it already in its first version's state, its version, its change-feed
    row and its inbox entry already applied (``inbox_entry``: the entry's submission, update id
    and payload), then look for updates of that id held before it (Core statements, no unit of
    work, no history to derive from; on PostgreSQL all of it is one statement). None, with
    nothing written, when the entity exists (or was deleted) or its first version opens
    conflicts: the caller then takes the full path (:func:`create_entity` or
    :func:`apply_update`), whose outcome this one is equal to.

    The caller holds the entity's lock and is not a field hub (a hub records its context).
    """
    policy = list_policy(session, entity_list)
    result = merge.apply(policy, [], update)
    if result.duplicate or result.state.conflicts:
        return None
    now = utcnow()
    values = dict(result.state.values)
    label = values.pop(LABEL, "")
    entity_values = {
        "list_id": entity_list.id,
        "uuid": uuid,
        "label": label,
        "values": values,
        "current_version": 1,
        "conflict": None,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }
    version_values = {
        "version": 1,
        "base_version": None,
        "update_id": update.update_id,
        "kind": update.kind.value,
        "update": update_to_json(update),
        "result": {"label": label, "values": values},
        "conflicts_opened": [],
        "conflicts_closed": [],
        "source_submission_version_id": inbox_entry["submission_version_id"],
        "source_user_id": None,
        "forced": False,
        "created_at": now,
    }
    inbox_values = {
        **inbox_entry,
        "project_id": entity_list.project_id,
        "list_name": entity_list.name,
        "entity_uuid": uuid,
        "status": InboxStatus.APPLIED.value,
        "reason": "",
        "received_at": now,
        "processed_at": now,
        "entity_version": 1,
    }
    change = feed.entity_version_row(entity_list, Entity(**entity_values), 1)
    session.flush()  # as the full path's flush would: what is pending goes first
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        params = {
            **{f"e_{k}": v for k, v in entity_values.items()},
            **{f"v_{k}": v for k, v in version_values.items()},
            **{f"c_{k}": v for k, v in change.items()},
            **{f"i_{k}": v for k, v in inbox_values.items()},
        }
        entity_id, held = connection.execute(_pg_creation(), params).one()
        if entity_id is None:
            return None
    else:
        entity_id = connection.execute(_NEW_ENTITY, entity_values).scalar()
        if entity_id is None:
            return None
        connection.execute(_NEW_VERSION, {"entity_id": entity_id, **version_values})
        connection.execute(_NEW_CHANGE, change)
        connection.execute(_NEW_INBOX_ENTRY, inbox_values)
        looked = {f"i_{k}": v for k, v in inbox_values.items()}
        held = connection.execute(select(_ANY_HELD), looked).scalar()
    return Created(EntityVersion(entity_id=entity_id, **version_values), bool(held))


_INBOX = cast(Table, EntityInbox.__table__)
_ENTITIES = cast(Table, Entity.__table__)
_VERSIONS = cast(Table, EntityVersion.__table__)
# SQLite's statements, built once, their values bound at execution: the entity's insert
# (nothing when its id exists), its version's, its feed row's and its inbox entry's.
_NEW_ENTITY = (
    sqlite_insert(_ENTITIES)
    .on_conflict_do_nothing(index_elements=["list_id", "uuid"])
    .returning(_ENTITIES.c.id)
)
_NEW_VERSION = _VERSIONS.insert()
_NEW_CHANGE = feed_changes.insert()
_NEW_INBOX_ENTRY = _INBOX.insert()
# Whether updates of the id wait for its creation (one cheap look: usually none do), bound with
# the inbox entry's values.
_ANY_HELD = exists().where(
    _INBOX.c.project_id == bindparam("i_project_id"),
    _INBOX.c.list_name == bindparam("i_list_name"),
    _INBOX.c.entity_uuid == bindparam("i_entity_uuid"),
    _INBOX.c.status == InboxStatus.HELD.value,
)


@lru_cache(maxsize=1)
def _pg_creation() -> Select[Any]:
    """On PostgreSQL, :func:`create_if_new`'s five statements in one: the entity's insert (when
    its id is new) and, only when it inserted a row, its version, its feed row and its inbox
    entry (data-modifying CTEs selecting from it), then the new id (NULL when the id existed)
    and whether updates of the id are held. Every CTE sees the snapshot the statement started
    with, taken after the caller's lock, so an update held before the lock was taken is seen.
    Built once; the values are bound at execution (``e_``, ``v_``, ``c_``, ``i_`` prefixes)."""
    entities, versions = _ENTITIES, _VERSIONS

    def bound(table: Table, prefix: str, names: list[str]) -> list[Any]:
        # Typed: the dialect casts each one (a parameter in a SELECT list takes no type from
        # the column it goes to).
        return [bindparam(prefix + n, type_=table.c[n].type) for n in names]

    def columns(table: Table, *leave_out: str) -> list[str]:
        return [c.name for c in table.columns if c.name not in ("id", "xid", *leave_out)]

    entity_columns = columns(entities)
    new_entity = (
        pg_insert(entities)
        .values({n: bindparam("e_" + n, type_=entities.c[n].type) for n in entity_columns})
        .on_conflict_do_nothing(index_elements=["list_id", "uuid"])
        .returning(entities.c.id)
        .cte("new_entity")
    )
    version_columns = columns(versions, "entity_id")
    new_version = versions.insert().from_select(
        ["entity_id", *version_columns],
        select(new_entity.c.id, *bound(versions, "v_", version_columns)),
    )
    followers = [new_version.cte("new_version")]
    for table, prefix, name in ((feed_changes, "c_", "new_change"), (_INBOX, "i_", "new_entry")):
        names = columns(table)
        rows = select(*bound(table, prefix, names)).select_from(new_entity)
        followers.append(table.insert().from_select(names, rows).cte(name))
    return select(select(new_entity.c.id).scalar_subquery(), _ANY_HELD).add_cte(*followers)


def apply_update(
    session: Session,
    entity_list: EntityList,
    entity: Entity,
    versions: list[EntityVersion],
    update: merge.EntityUpdate,
    *,
    inbox: EntityInbox | None = None,
    base_version: int | None,
    forced: bool,
    user_id: int | None = None,
) -> Applied:
    """Merge ``update`` into the entity (whose versions are ``versions``) and store the result
    as its next version, with its conflict rows and feed entries."""
    policy = list_policy(session, entity_list)
    known = [update_from_json(v.update) for v in versions]
    before = merge.derive(policy, known) if known else None
    result = merge.apply(policy, known, update, previous=before)
    if result.duplicate:
        if inbox is not None:
            inbox.status = InboxStatus.APPLIED.value
            inbox.processed_at = utcnow()
        return Applied(entity, None, result)
    now = utcnow()
    number = entity.current_version + 1
    values = dict(result.state.values)
    label = values.pop(LABEL, entity.label or "")
    update_json = update_to_json(update)
    if is_hub(session):
        update_json["hub_context"] = context_after(versions, update.update_id).to_json()
    version = EntityVersion(
        entity_id=entity.id,
        version=number,
        base_version=base_version,
        update_id=update.update_id,
        kind=update.kind.value,
        update=update_json,
        result={"label": label, "values": values},
        conflicts_opened=[c.conflict_id for c in result.conflicts_opened],
        conflicts_closed=[c.conflict_id for c in result.conflicts_closed],
        source_submission_version_id=inbox.submission_version_id if inbox else None,
        source_user_id=user_id,
        forced=forced,
        created_at=now,
    )
    session.add(version)
    entity.values = values
    entity.label = label
    entity.current_version = number
    entity.updated_at = now
    entity.conflict = (
        "hard" if result.state.review_needed else "soft" if result.state.conflicts else None
    )
    if versions or result.state.conflicts:
        # A new entity has no conflict rows yet: nothing to read when it opens none.
        _sync_conflicts(session, entity, result, update, number, user_id)
    if inbox is not None:
        inbox.status = InboxStatus.APPLIED.value
        inbox.reason = "force-applied: what it was waiting for never arrived" if forced else ""
        inbox.processed_at = now
        inbox.entity_version = number
    session.flush()
    feed.entity_version_recorded(session, entity_list, entity, version, result)
    return Applied(entity, version, result)


def _sync_conflicts(
    session: Session,
    entity: Entity,
    result: merge.MergeResult,
    update: merge.EntityUpdate,
    number: int,
    user_id: int | None,
) -> None:
    rows = {
        c.conflict_key: c
        for c in session.scalars(
            select(EntityConflict).where(EntityConflict.entity_id == entity.id)
        )
    }
    current = {c.conflict_id: c for c in result.state.conflicts}
    now = utcnow()
    for key, conflict in current.items():
        row = rows.get(key)
        details = conflict_details(conflict)
        if row is None:
            session.add(
                EntityConflict(
                    entity_id=entity.id,
                    conflict_key=key,
                    kind=conflict.kind.value,
                    property_name=conflict.property_name,
                    requires_review=conflict.requires_review,
                    status=ConflictStatus.OPEN.value,
                    details=details,
                    opened_at=now,
                    opened_in_version=number,
                )
            )
        else:
            row.details = details
            if row.status != ConflictStatus.OPEN.value:
                row.status = ConflictStatus.OPEN.value
                row.closed_at = None
                row.closed_in_version = None
    decided = update.kind in (merge.UpdateKind.RESOLUTION, merge.UpdateKind.REOPEN)
    for key, row in rows.items():
        if key in current or row.status != ConflictStatus.OPEN.value:
            continue
        row.closed_at = now
        row.closed_in_version = number
        if decided:
            row.status = ConflictStatus.RESOLVED.value
            row.resolution = {
                "by_user_id": user_id,
                "reason": update.reason,
                "values": dict(update.values),
                "update_id": update.update_id,
            }
        else:
            row.status = ConflictStatus.SUPERSEDED.value
