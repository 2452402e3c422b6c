"""What each entity list shares, read from the list's table in ``forms/entity_policies.toml``:

    [survivors]
    devices = ["survivor_code", "village", ...]   # the only properties devices download
    device_access = "assigned"                    # only devices assigned to the list's forms
    followup_consent = "consent_followup"         # "yes" needed before devices get a record;
                                                  # "no" withdraws consent (a tombstone)
    sharing_consent = "consent_sharing"           # "yes" needed before partners see a record
    personal = ["phone"]                          # personal besides those saved from pii_ fields

A list without these keys is shared as before: every property, every record, every device.
The merge policies in the same table are :mod:`server.entities.policies`'.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from server.settings import BUNDLED_FORMS_DIR, Settings

# The list options this module reads; server.entities.policies leaves them to it.
LIST_OPTIONS = frozenset(
    {"devices", "device_access", "followup_consent", "sharing_consent", "personal"}
)
YES = "yes"
NO = "no"


class SharingPolicyError(ValueError):
    """A list's sharing options in the policy file are malformed."""


@dataclass(frozen=True)
class ListSharing:
    """How one entity list is shared."""

    list_name: str
    devices: tuple[str, ...] | None = None  # None: every property
    assigned_only: bool = False
    consent_followup: str | None = None
    consent_sharing: str | None = None
    personal: tuple[str, ...] = ()

    def device_columns(self, properties: Collection[str]) -> list[str]:
        """The list's properties devices get, in the list's order."""
        if self.devices is None:
            return list(properties)
        return [p for p in properties if p in self.devices]

    def followup_consented(self, values: Mapping[str, str]) -> bool:
        return self.consent_followup is None or values.get(self.consent_followup) == YES

    def sharing_consented(self, values: Mapping[str, str]) -> bool:
        return self.consent_sharing is None or values.get(self.consent_sharing) == YES

    def withdraws(self, values: Mapping[str, str]) -> bool:
        """An answer that withdraws consent (a follow-up that says no)."""
        return self.consent_followup is not None and values.get(self.consent_followup) == NO

    @property
    def consent_bound(self) -> bool:
        return self.consent_followup is not None or self.consent_sharing is not None


def sharing(session: Session, list_name: str) -> ListSharing:
    """The sharing options of a list (the defaults for a list the file does not name)."""
    settings: Settings | None = session.info.get("settings")
    path = Path(
        settings.entity_policies_path if settings else BUNDLED_FORMS_DIR / "entity_policies.toml"
    )
    return _load(str(path), path.stat().st_mtime).get(list_name, ListSharing(list_name))


@lru_cache(maxsize=8)
def _load(path: str, _mtime: float) -> dict[str, ListSharing]:
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    return {
        name: parse_list(name, table) for name, table in data.items() if isinstance(table, dict)
    }


def parse_list(name: str, table: Mapping[str, Any]) -> ListSharing:
    """Raises: SharingPolicyError naming the list and option."""

    def names(key: str) -> tuple[str, ...] | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SharingPolicyError(f"{name}.{key} must be a list of property names")
        return tuple(value)

    def one(key: str) -> str | None:
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise SharingPolicyError(f"{name}.{key} must be a property name")
        return value

    access = table.get("device_access", "all")
    if access not in ("all", "assigned"):
        raise SharingPolicyError(f'{name}.device_access must be "all" or "assigned"')
    return ListSharing(
        list_name=name,
        devices=names("devices"),
        assigned_only=access == "assigned",
        consent_followup=one("followup_consent"),
        consent_sharing=one("sharing_consent"),
        personal=names("personal") or (),
    )


def redact_values(values: Mapping[str, str], personal: Collection[str]) -> dict[str, str]:
    """An entity's properties without the personal ones."""
    return {k: v for k, v in values.items() if k not in personal}
