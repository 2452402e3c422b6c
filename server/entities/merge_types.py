"""The plain data of the merge core: updates, conflicts and derived states of a shared record.

Frozen dataclasses and enums only; :mod:`server.entities.merge_engine` derives states from them
and :mod:`server.entities.merge` is the entry point that other packages import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "DECISIONS",
    "Assertion",
    "CausalCycleError",
    "Conflict",
    "ConflictKind",
    "DateOfInformation",
    "EntityState",
    "EntityUpdate",
    "MergeResult",
    "UpdateIdClash",
    "UpdateKind",
]

DateOfInformation = dt.date | dt.datetime | None


class UpdateKind(StrEnum):
    """What an update is: a field report (create/update) or a coordinator's decision."""

    CREATE = "create"
    UPDATE = "update"
    REOPEN = "reopen"
    RESOLUTION = "resolution"


# Decisions assert every value they send, even one equal to what their author saw, so that
# choosing the value already shown still settles a disagreement.
DECISIONS = frozenset({UpdateKind.REOPEN, UpdateKind.RESOLUTION})


class UpdateIdClash(ValueError):
    """Two different updates carry the same update_id (a resend must be identical)."""


class CausalCycleError(ValueError):
    """Updates name each other as seen: the causal history is not a history."""


@dataclass(frozen=True)
class EntityUpdate:
    """One immutable arrival for an entity: a submission's entity block or a decision.

    `base_ids` are the updates its author had seen (direct predecessors are enough; the
    causal past is closed transitively over the updates known). `values` are the properties
    it sent, the entity label included under "label". The constructor raises ValueError when
    a reopen or resolution has no reason, or the update names itself as seen.
    """

    update_id: str
    kind: UpdateKind = UpdateKind.UPDATE
    base_ids: frozenset[str] = frozenset()
    values: Mapping[str, str] = field(default_factory=dict, hash=False)
    date_of_information: DateOfInformation = None
    source: str = ""
    reason: str | None = None
    resolves: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.update_id:
            raise ValueError("an update needs an update_id")
        set_ = object.__setattr__
        set_(self, "kind", UpdateKind(self.kind))
        set_(self, "base_ids", frozenset(self.base_ids))
        set_(self, "resolves", frozenset(self.resolves))
        set_(self, "values", MappingProxyType(dict(self.values)))
        if self.update_id in self.base_ids:
            raise ValueError(f"update {self.update_id!r} names itself as seen")
        if self.kind in DECISIONS and not (self.reason and self.reason.strip()):
            raise ValueError(f"a {self.kind} needs a reason")
        if self.resolves and self.kind not in DECISIONS:
            raise ValueError("only a resolution or a reopen can resolve conflicts")


class ConflictKind(StrEnum):
    """Why a conflict exists. All but SOFT wait for a person's review."""

    HARD = "hard"
    SOFT = "soft"
    STATUS_REGRESSION = "status_regression"
    REGRESSION = "regression"
    INVALID = "invalid"

    @property
    def requires_review(self) -> bool:
        return self is not ConflictKind.SOFT


@dataclass(frozen=True)
class Assertion:
    """One value an update sent for a property, with what its author saw before."""

    update_id: str
    property_name: str
    value: str
    base_value: str | None
    source: str
    date_of_information: DateOfInformation


@dataclass(frozen=True)
class Conflict:
    """A disagreement or a refused value, kept for display and review.

    `conflict_id` depends only on the kind, the property and the updates involved, so the
    same conflict gets the same id whatever the arrival order. `provisional_value` is what
    the record shows meanwhile; for conflicts about one update it follows the record.
    `property_name` is None for a soft conflict spanning several properties.
    """

    conflict_id: str
    kind: ConflictKind
    property_name: str | None
    base_value: str | None
    provisional_value: str | None
    assertions: tuple[Assertion, ...]
    reason: str

    @property
    def update_ids(self) -> frozenset[str]:
        return frozenset(a.update_id for a in self.assertions)

    @property
    def requires_review(self) -> bool:
        return self.kind.requires_review


@dataclass(frozen=True)
class EntityState:
    """The current record derived from a set of updates, with its open conflicts."""

    values: Mapping[str, str]
    #: per property, the updates whose value is shown
    set_by: Mapping[str, tuple[str, ...]]
    conflicts: tuple[Conflict, ...]
    update_ids: frozenset[str]
    #: updates held whole because they would move a status back
    held_update_ids: frozenset[str]
    #: updates named as seen that have not arrived (yet)
    missing_base_ids: frozenset[str]

    def conflict(self, conflict_id: str) -> Conflict | None:
        return next((c for c in self.conflicts if c.conflict_id == conflict_id), None)

    @property
    def review_needed(self) -> tuple[Conflict, ...]:
        return tuple(c for c in self.conflicts if c.requires_review)


@dataclass(frozen=True)
class MergeResult:
    """What one arrival did to an entity."""

    state: EntityState
    duplicate: bool
    conflicts_opened: tuple[Conflict, ...]
    conflicts_closed: tuple[Conflict, ...]
    changed_properties: frozenset[str]
