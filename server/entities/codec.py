"""The JSON forms of the entity step's values: an inbox entry's payload, a field hub's context,
a merge update and a conflict's details.

Rows store JSON (``entity_inbox.payload``, ``entity_versions.update``, ``entity_conflicts.
details``); the code works with the typed values below. The JSON keys are the stored format and
the one the backlog API shows, so they do not change; reading tolerates rows written before a
key existed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from server.entities import merge

LABEL = "label"


def parse_date(raw: Any) -> dt.date | dt.datetime | None:
    """An ISO date or date-time, or None when it is missing or not one."""
    if not raw:
        return None
    text_value = str(raw)
    try:
        if len(text_value) == 10:
            return dt.date.fromisoformat(text_value)
        return dt.datetime.fromisoformat(text_value)
    except ValueError:
        return None


@dataclass(frozen=True)
class HubContext:
    """What a tablet had seen, in the centre's terms, when a field hub received its report: the
    centre version the hub had adopted (``trunk_version``) and the reports the hub received and
    applied provisionally that the tablet had seen (``seen_updates``). See ADR 0006."""

    trunk_version: int | None = None
    seen_updates: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"trunk_version": self.trunk_version, "seen_updates": list(self.seen_updates)}

    @classmethod
    def from_json(cls, data: Any) -> HubContext | None:
        """The context a hub sent, or None when there is none or it is malformed (a report with
        an unreadable context is merged as if it came from a tablet directly)."""
        if not data or not isinstance(data, dict):
            return None
        trunk = data.get("trunk_version")
        seen = data.get("seen_updates") or []
        if not (trunk is None or isinstance(trunk, int)) or not isinstance(seen, list):
            return None
        return cls(trunk, tuple(str(s) for s in seen))


@dataclass(frozen=True)
class InboxPayload:
    """An entity block as received, kept with its inbox entry until it is applied."""

    create: bool = False
    update: bool = False
    label: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    base_version: int | None = None
    trunk_version: int | None = None
    branch_id: str | None = None
    date_of_information: str | None = None
    reason: str | None = None
    # Who sent it: "submission <instanceID> (app user n, device d)".
    source: str = ""
    # An edit of a sent form supersedes the update of the version it replaces.
    replaces_update: str | None = None
    problems: tuple[str, ...] = ()
    # Forwarded by a field hub: what the tablet had seen, in the centre's terms.
    hub: HubContext | None = None
    # Recorded on a field hub (``on_hub``): the same, for the centre, when the hub forwards it
    # (None when the tablet's base is not known in the centre's terms).
    on_hub: bool = False
    export_context: HubContext | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "create": self.create,
            "update": self.update,
            "label": self.label,
            "values": dict(self.values),
            "base_version": self.base_version,
            "trunk_version": self.trunk_version,
            "branch_id": self.branch_id,
            "date_of_information": self.date_of_information,
            "reason": self.reason,
            "source": self.source,
            "replaces_update": self.replaces_update,
            "problems": list(self.problems),
        }
        if self.hub is not None:
            data["hub_trunk_version"] = self.hub.trunk_version
            data["hub_seen_updates"] = list(self.hub.seen_updates)
            data["hub_context"] = True
        if self.on_hub:
            data["export_context"] = self.export_context.to_json() if self.export_context else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InboxPayload:
        base = data.get("base_version")
        trunk = data.get("trunk_version")
        hub = None
        if data.get("hub_context"):
            hub_trunk = data.get("hub_trunk_version")
            hub = HubContext(
                int(hub_trunk) if hub_trunk is not None else None,
                tuple(str(s) for s in data.get("hub_seen_updates") or []),
            )
        return cls(
            create=bool(data.get("create")),
            update=bool(data.get("update")),
            label=data.get("label"),
            values=dict(data.get("values") or {}),
            base_version=int(base) if base is not None else None,
            trunk_version=int(trunk) if trunk is not None else None,
            branch_id=data.get("branch_id"),
            date_of_information=data.get("date_of_information"),
            reason=data.get("reason"),
            source=str(data.get("source") or ""),
            replaces_update=data.get("replaces_update"),
            problems=tuple(data.get("problems") or ()),
            hub=hub,
            on_hub="export_context" in data,
            export_context=HubContext.from_json(data.get("export_context")),
        )


def update_to_json(update: merge.EntityUpdate) -> dict[str, Any]:
    date = update.date_of_information
    return {
        "update_id": update.update_id,
        "kind": update.kind.value,
        "base_ids": sorted(update.base_ids),
        "values": dict(update.values),
        "date_of_information": date.isoformat() if date else None,
        "source": update.source,
        "reason": update.reason,
        "resolves": sorted(update.resolves),
    }


def update_from_json(data: dict[str, Any]) -> merge.EntityUpdate:
    return merge.EntityUpdate(
        update_id=data["update_id"],
        kind=merge.UpdateKind(data["kind"]),
        base_ids=frozenset(data.get("base_ids") or []),
        values=data.get("values") or {},
        date_of_information=parse_date(data.get("date_of_information")),
        source=data.get("source") or "",
        reason=data.get("reason"),
        resolves=frozenset(data.get("resolves") or []),
    )


def conflict_details(conflict: merge.Conflict) -> dict[str, Any]:
    return {
        "kind": conflict.kind.value,
        "property": conflict.property_name,
        "base_value": conflict.base_value,
        "provisional_value": conflict.provisional_value,
        "reason": conflict.reason,
        "values": [
            {
                "update_id": a.update_id,
                "property": a.property_name,
                "value": a.value,
                "base_value": a.base_value,
                "source": a.source,
                "date_of_information": (
                    a.date_of_information.isoformat() if a.date_of_information else None
                ),
            }
            for a in conflict.assertions
        ],
    }
