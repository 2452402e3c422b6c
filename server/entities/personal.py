"""The entity API's answers as one caller may see them (server.personal): records without
consent left out of partners' views, personal properties only for survivor caseworkers, and
every read of them audited."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from server.entities.models import Entity, EntityList
from server.personal.access import Access, caller_access, record_read
from server.personal.guard import ListGuard, list_guard

HIDDEN = None  # what a personal value is shown as to a caller who may not read it
# The keys of a competing value in a conflict that hold the property's value.
_VALUE_KEYS = frozenset({"value", "base_value", "provisional_value", "values"})


def guard_for(session: Session, entity_list: EntityList, access: Access | None = None) -> ListGuard:
    who = access if access is not None else caller_access(entity_list.project_id)
    return list_guard(
        session, who, entity_list.name, entity_list.properties, entity_list.personal_properties
    )


def visible(guard: ListGuard, entities: Iterable[Entity]) -> list[Entity]:
    return [e for e in entities if guard.shown(e.uuid, e.values)]


def entity_body(guard: ListGuard, entity: Entity, body: dict[str, Any]) -> dict[str, Any]:
    """An entity's JSON (``values``) as the guard's caller may see it."""
    body["values"] = guard.values(entity.uuid, entity.values)
    if guard.withdrawn(entity.uuid):
        body["consent_withdrawn"] = True
    return body


def version_body(guard: ListGuard, uuid: str, body: dict[str, Any]) -> dict[str, Any]:
    """A version's JSON (``sent``, ``result.values``) as the guard's caller may see it."""
    body["sent"] = {k: v for k, v in body["sent"].items() if guard.property_shown(uuid, k)}
    result = dict(body.get("result") or {})
    if "values" in result:
        result["values"] = {
            k: v for k, v in result["values"].items() if guard.property_shown(uuid, k)
        }
    body["result"] = result
    return body


def conflict_body(guard: ListGuard, uuid: str, body: dict[str, Any]) -> dict[str, Any]:
    """A conflict on a personal property keeps its story (who, when) but not the values."""
    if guard.property_shown(uuid, body.get("property")):
        return body
    for key in ("base_value", "current_value", "provisional_value"):
        body[key] = HIDDEN
    body["incoming"] = [
        {k: (HIDDEN if k in _VALUE_KEYS else x) for k, x in v.items()}
        for v in body.get("incoming", [])
    ]
    if body.get("resolution"):
        body["resolution"] = {**body["resolution"], "values": HIDDEN}
    return body


def payload_body(guard: ListGuard, payload: Any) -> Any:
    """A held update as it was received, without personal properties (at any depth) unless
    the caller is a survivor caseworker."""
    if guard.access.may_read or not guard.personal:
        return payload
    if isinstance(payload, dict):
        return {k: payload_body(guard, v) for k, v in payload.items() if k not in guard.personal}
    if isinstance(payload, list):
        return [payload_body(guard, v) for v in payload]
    return payload


def audit_reads(
    session: Session, guard: ListGuard, entity_list: EntityList, uuids: Iterable[str]
) -> None:
    """Audit the caseworker's read of these records' personal properties."""
    shown = [u for u in uuids if guard.shows_personal(u)]
    if shown:
        record_read(session, guard.access, "entity", [f"{entity_list.name}/{u}" for u in shown])


def feed_json(session: Session, project_id: int, changes: Iterable[Any]) -> list[dict[str, Any]]:
    """Change-feed entries (``server.feed.service.Change``) as the caller may see them: an
    entity version of a record consent keeps from them says only that the record changed
    (no label, no values); personal properties are left out for everyone else but survivor
    caseworkers, whose reads are audited."""
    from server.entities.store import find_list
    from server.feed.service import ChangeKind

    access = caller_access(project_id)
    guards: dict[str, ListGuard | None] = {}
    body: list[dict[str, Any]] = []
    read: list[str] = []
    for change in changes:
        item = change.to_json()
        if change.kind == ChangeKind.ENTITY_VERSION.value:
            name = str(change.data.get("list", ""))
            if name not in guards:
                found = find_list(session, project_id, name)
                guards[name] = guard_for(session, found, access) if found else None
            guard = guards[name]
            if guard is not None:
                data = dict(change.data)
                uuid = str(data.get("uuid", ""))
                values = dict(data.get("values") or {})
                if not guard.shown(uuid, values):
                    data.update(label="", values={}, hidden=True)
                else:
                    data["values"] = guard.values(uuid, values)
                    if guard.shows_personal(uuid):
                        read.append(f"{name}/{uuid}")
                item["data"] = data
        body.append(item)
    if read:
        record_read(session, access, "entity", read)
    return body
