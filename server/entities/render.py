"""The JSON the entity API answers with: lists, entities, versions, conflicts, backlog rows."""

from __future__ import annotations

from typing import Any

from server.entities.codec import LABEL
from server.entities.models import Entity, EntityInbox, EntityList, EntityVersion
from server.entities.records import Arrivals, ConflictRow, ListSummary


def list_json(summary: ListSummary) -> dict[str, Any]:
    lst = summary.entity_list
    return {
        "name": lst.name,
        "properties": lst.properties,
        "entities": summary.entities,
        "entities_in_conflict": summary.entities_in_conflict,
        "approval_required": lst.approval_required,
    }


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


def conflict_json(row: ConflictRow, arrivals: Arrivals) -> dict[str, Any]:
    """A conflict with every competing value, when it reached the server and from which
    submission (``arrivals`` from :func:`server.entities.records.arrivals`)."""
    conflict, entity, entity_list = row.conflict, row.entity, row.entity_list
    incoming = [dict(v) for v in conflict.details.get("values", [])]
    for value in incoming:
        arrival = arrivals.get((entity.id, str(value["update_id"])))
        value["received_at"] = arrival.received_at.isoformat() if arrival else None
        value["submission_instance_id"] = (
            value["update_id"] if arrival and arrival.from_submission else None
        )
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


def version_json(version: EntityVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "base_version": version.base_version,
        "kind": version.kind,
        "update_id": version.update_id,
        "sent": version.update.get("values", {}),
        "source": version.update.get("source"),
        "reason": version.update.get("reason"),
        "date_of_information": version.update.get("date_of_information"),
        "result": version.result,
        "conflicts_opened": version.conflicts_opened,
        "conflicts_closed": version.conflicts_closed,
        "forced": version.forced,
        "created_at": version.created_at.isoformat(),
    }


def inbox_json(row: EntityInbox) -> dict[str, Any]:
    return {
        "id": row.id,
        "list": row.list_name,
        "entity": row.entity_uuid,
        "update_id": row.update_id,
        "status": row.status,
        "reason": row.reason,
        "received_at": row.received_at.isoformat(),
        "payload": row.payload,
    }
