"""Order-independent merge of offline edits to one shared record (entity).

The state of an entity is a pure function of the *set* of updates received for it. Each
property settles concurrent edits by its declared policy, and every value an update sent is
either shown, superseded by a later update whose author had seen it, or kept in a conflict.
"""

from __future__ import annotations

from collections.abc import Iterable

from server.entities.merge_engine import state_of
from server.entities.merge_types import (
    Assertion,
    CausalCycleError,
    Conflict,
    ConflictKind,
    EntityState,
    EntityUpdate,
    MergeResult,
    UpdateIdClash,
    UpdateKind,
)
from server.entities.policies import ListPolicy

__all__ = [
    "Assertion",
    "CausalCycleError",
    "Conflict",
    "ConflictKind",
    "EntityState",
    "EntityUpdate",
    "MergeResult",
    "UpdateIdClash",
    "UpdateKind",
    "apply",
    "derive",
]


def derive(policies: ListPolicy, updates: Iterable[EntityUpdate]) -> EntityState:
    """The state of an entity from the set of its updates; repeats of an update are ignored.

    Raises UpdateIdClash when two different updates share an id and CausalCycleError when
    updates name each other as seen.
    """
    return state_of(policies, _index(updates))


def apply(
    policies: ListPolicy,
    known_updates: Iterable[EntityUpdate],
    incoming: EntityUpdate,
    previous: EntityState | None = None,
) -> MergeResult:
    """The effect of one arrival on the entity whose updates so far are `known_updates`.

    `previous` may pass the already derived state of `known_updates` to save work. Raises
    UpdateIdClash when `incoming` reuses a known update_id with different content, and
    CausalCycleError as derive does.
    """
    known = _index(known_updates)
    before = previous if previous is not None else state_of(policies, known)
    existing = known.get(incoming.update_id)
    if existing is not None:
        if existing != incoming:
            raise UpdateIdClash(f"update {incoming.update_id!r} was received with other content")
        return MergeResult(before, True, (), (), frozenset())
    after = state_of(policies, {**known, incoming.update_id: incoming})
    old = {c.conflict_id: c for c in before.conflicts}
    new = {c.conflict_id: c for c in after.conflicts}
    names = set(before.values) | set(after.values)
    return MergeResult(
        state=after,
        duplicate=False,
        conflicts_opened=tuple(c for i, c in new.items() if i not in old),
        conflicts_closed=tuple(c for i, c in old.items() if i not in new),
        changed_properties=frozenset(
            n for n in names if before.values.get(n) != after.values.get(n)
        ),
    )


def _index(updates: Iterable[EntityUpdate]) -> dict[str, EntityUpdate]:
    index: dict[str, EntityUpdate] = {}
    for update in updates:
        seen = index.setdefault(update.update_id, update)
        if seen != update:
            raise UpdateIdClash(f"two different updates carry the id {update.update_id!r}")
    return index
