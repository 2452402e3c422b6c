"""Shared records on a field hub: translating a hub's versions into the centre's terms, and
adopting the centre's merged state after a pull.

A hub applies its tablets' reports provisionally, so its version numbers mean nothing to the
centre. Each hub version therefore remembers what it was in the centre's terms (the centre
version the hub had adopted plus the reports applied on top of it), and a report forwarded to
the centre carries that context for the version the tablet started from. See ADR 0006.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.db import utcnow
from server.entities.blocks import EntityBlock
from server.entities.codec import HubContext, InboxPayload
from server.entities.models import Entity, EntityConflict, EntityInbox, EntityList, EntityVersion
from server.entities.store import ensure_list, find_entity, versions_of
from server.settings import Settings

# The marker of a version taken from the centre (not applied by the hub).
ADOPTED = "adopted"


def is_hub(session: Session) -> bool:
    settings: Settings | None = session.info.get("settings")
    return bool(settings and settings.hub)


def context_after(versions: list[EntityVersion], update_id: str) -> HubContext:
    """A hub version in the centre's terms: the centre version the hub had adopted, and every
    report the hub applied on top of it (provisionally)."""
    adopted = [v.version for v in versions if v.update.get(ADOPTED)]
    seen = [v.update_id for v in versions if not v.update.get(ADOPTED)]
    return HubContext(max(adopted) if adopted else None, (*seen, update_id))


def _context_at(versions: list[EntityVersion], number: int) -> HubContext | None:
    for v in versions:
        if v.version == number:
            if v.update.get(ADOPTED):
                return HubContext(number, ())
            return HubContext.from_json(v.update.get("hub_context"))
        replaced = (v.update.get("hub_versions") or {}).get(str(number))
        if replaced:
            return HubContext.from_json(replaced)
    return None


def export_context(
    session: Session, entity_list: EntityList, inbox: EntityInbox, block: EntityBlock
) -> HubContext | None:
    """On a field hub: what the tablet had seen, in the centre's terms, for the centre to
    merge the report against the right base when the hub forwards it."""
    if block.base_version is None:
        return None
    entity = find_entity(session, entity_list, block.uuid)
    if entity is None:
        return None
    versions = versions_of(session, entity)
    base = block.base_version
    chained: list[str] = []
    if block.branch_id and block.trunk_version is not None and base > block.trunk_version:
        # The tablet's own offline chain: its trunk is a hub version; its earlier reports on
        # the branch come through the hub too.
        chained = [
            row.update_id
            for row in session.scalars(
                select(EntityInbox).where(
                    EntityInbox.project_id == inbox.project_id,
                    EntityInbox.list_name == inbox.list_name,
                    EntityInbox.entity_uuid == inbox.entity_uuid,
                    EntityInbox.id != inbox.id,
                )
            )
            if InboxPayload.from_json(row.payload).branch_id == block.branch_id
        ]
        base = block.trunk_version
    context = _context_at(versions, base)
    if context is None:
        return None
    return HubContext(context.trunk_version, (*context.seen_updates, *chained))


@dataclass(frozen=True)
class AdoptReport:
    adopted: int = 0
    kept: int = 0
    removed: int = 0  # records the centre no longer shares (consent withdrawn)


def adopt_entity_list(
    session: Session, project_id: int, list_name: str, csv_text: str, not_yet_at_centre: set[str]
) -> AdoptReport:
    """Take the centre's merged state of a list (its CSV as devices download it). A record that
    has reports the centre has not received yet keeps the hub's provisional state until they
    are pushed."""
    reader = csv.DictReader(io.StringIO(csv_text))
    properties = [
        c
        for c in (reader.fieldnames or [])
        if c not in ("name", "label", "__version") and not c.startswith("__")
    ]
    entity_list = ensure_list(session, project_id, list_name, properties)
    adopted = kept = 0
    listed: set[str] = set()
    for row in reader:
        uuid = row.get("name") or ""
        if not uuid:
            continue
        listed.add(uuid)
        version = int(row.get("__version") or 0)
        label = row.get("label") or ""
        values = {p: row[p] for p in properties if row.get(p)}
        entity = find_entity(session, entity_list, uuid)
        if entity is not None:
            versions = list(
                session.scalars(select(EntityVersion).where(EntityVersion.entity_id == entity.id))
            )
            provisional = [v for v in versions if not v.update.get(ADOPTED)]
            if any(v.update_id in not_yet_at_centre for v in provisional):
                kept += 1
                continue
            if (
                not provisional
                and entity.current_version == version
                and entity.values == values
                and entity.label == label
            ):
                continue
            # Tablets may still send reports based on a replaced hub version: keep what each
            # of those versions meant in the centre's terms.
            replaced: dict[str, Any] = {}
            for v in versions:
                replaced.update(v.update.get("hub_versions") or {})
                if v.update.get("hub_context") is not None:
                    replaced[str(v.version)] = v.update["hub_context"]
            session.execute(delete(EntityVersion).where(EntityVersion.entity_id == entity.id))
            session.execute(delete(EntityConflict).where(EntityConflict.entity_id == entity.id))
        else:
            replaced = {}
            entity = Entity(list_id=entity_list.id, uuid=uuid)
            session.add(entity)
            session.flush()
        update_id = f"centre:{uuid}:{version}"
        session.add(
            EntityVersion(
                entity_id=entity.id,
                version=version,
                base_version=None,
                update_id=update_id,
                kind="create",
                update={
                    "update_id": update_id,
                    "kind": "create",
                    "base_ids": [],
                    "values": {**values, "label": label},
                    "date_of_information": None,
                    "source": "centre",
                    "reason": None,
                    "resolves": [],
                    ADOPTED: True,
                    "hub_versions": replaced,
                },
                result={"label": label, "values": values},
                conflicts_opened=[],
                conflicts_closed=[],
            )
        )
        entity.values = values
        entity.label = label
        entity.current_version = version
        entity.conflict = None
        adopted += 1
    removed = _drop_unlisted(session, entity_list, listed, not_yet_at_centre)
    session.flush()
    return AdoptReport(adopted, kept, removed)


def _drop_unlisted(
    session: Session, entity_list: EntityList, listed: set[str], not_yet_at_centre: set[str]
) -> int:
    """Records the centre no longer sends (deleted there, or consent withdrawn: server.personal)
    leave the hub, and so its tablets at their next refresh: each is kept only as a tombstone
    (``deleted_at``, no label, no values, no versions), so its uuid stays taken and nothing of
    the person stays on the laptop. A record with reports the centre has not received yet stays
    until they are pushed."""
    removed = 0
    for entity in session.scalars(
        select(Entity).where(Entity.list_id == entity_list.id, Entity.deleted_at.is_(None))
    ):
        if entity.uuid in listed:
            continue
        versions = list(
            session.scalars(select(EntityVersion).where(EntityVersion.entity_id == entity.id))
        )
        if any(not v.update.get(ADOPTED) and v.update_id in not_yet_at_centre for v in versions):
            continue
        session.execute(delete(EntityConflict).where(EntityConflict.entity_id == entity.id))
        session.execute(delete(EntityVersion).where(EntityVersion.entity_id == entity.id))
        entity.label = ""
        entity.values = {}
        entity.conflict = None
        entity.deleted_at = utcnow()
        removed += 1
    return removed


# --- what the hub changed that the centre has not confirmed (the web UI's Field hub page) ---------


@dataclass(frozen=True)
class ProvisionalChange:
    """A version the hub applied itself (a tablet's report, an edit on the hub): provisional
    until a pull brings the centre's merged state of the record and the hub adopts it."""

    entity_list: EntityList
    entity: Entity
    version: EntityVersion
    report: str | None  # the instanceID of the report that made it; None for an edit


def provisional_changes(session: Session, project_id: int) -> list[ProvisionalChange]:
    """Every provisional version of the project's records, newest first. A hub's history is
    short (adopting the centre's state replaces it), so all of it is read."""
    rows = session.execute(
        select(EntityVersion, Entity, EntityList)
        .join(Entity, Entity.id == EntityVersion.entity_id)
        .join(EntityList, EntityList.id == Entity.list_id)
        .where(EntityList.project_id == project_id, Entity.deleted_at.is_(None))
        .order_by(EntityVersion.id.desc())
    ).all()
    return [
        ProvisionalChange(
            entity_list,
            entity,
            version,
            version.update_id if version.source_submission_version_id is not None else None,
        )
        for version, entity, entity_list in rows
        if not version.update.get(ADOPTED)
    ]
