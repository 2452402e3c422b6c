"""The derivation engine of the merge core: one entity's state from the set of its updates.

Orders the updates causally, evaluates each against the state its author saw, settles every
property by its policy and builds the conflicts; :mod:`server.entities.merge` calls `state_of`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from server.entities.merge_causal import CausalHistory
from server.entities.merge_types import (
    DECISIONS,
    Assertion,
    Conflict,
    ConflictKind,
    DateOfInformation,
    EntityState,
    EntityUpdate,
    UpdateKind,
)
from server.entities.policies import ListPolicy, MergePolicy, PropertyPolicy

__all__ = ["state_of"]


def state_of(policies: ListPolicy, updates: Mapping[str, EntityUpdate]) -> EntityState:
    """The state derived from `updates` (by update_id). Raises CausalCycleError."""
    return _Merge(policies, updates).state()


# -- the merge ------------------------------------------------------------------------------

# Per property, per slot, the latest updates (pairwise concurrent) that changed the slot.
# A slot is the property itself (None) or, for set_union, one member of the set: a set is
# merged member by member, and a member is present when one of its latest changes added it,
# which is the add-wins observed-remove set.
_Latest = dict[str, dict[str | None, frozenset[str]]]
_ANY = "\x00any"  # pseudo-property tracking the latest updates that changed anything


@dataclass
class _Effect:
    """What one update does given the state its author saw."""

    update: EntityUpdate
    base: dict[str, str | None] = field(default_factory=dict)
    held_by: str | None = None  # the status property that holds the whole update back
    scalars: dict[str, str] = field(default_factory=dict)
    members: dict[str, dict[str, bool]] = field(default_factory=dict)
    sets_sent: set[str] = field(default_factory=set)
    problems: list[tuple[ConflictKind, str, str]] = field(default_factory=list)

    @property
    def changed(self) -> frozenset[str]:
        return frozenset(self.scalars) | frozenset(self.members)


class _Merge:
    """One derivation: causal order, each update's effect on the state it saw, the result.

    Updates are evaluated in causal order, so the state an update's author saw is built from
    its predecessors' latest-change sets instead of being derived again from scratch.
    """

    def __init__(self, policies: ListPolicy, updates: Mapping[str, EntityUpdate]) -> None:
        self.policies = policies
        self.updates = updates
        self._policy_cache: dict[str, PropertyPolicy | None] = {}
        self.causal = CausalHistory(updates)
        self.effects: dict[str, _Effect] = {}
        self.latest: dict[str, _Latest] = {}
        for uid in self.causal.order:
            inherited = self._merge_latest(self.causal.parents[uid])
            effect = self._evaluate(updates[uid], inherited)
            self.effects[uid] = effect
            self.latest[uid] = self._advance(inherited, effect, uid)
        seen = {b for u in updates.values() for b in u.base_ids}
        self.missing = frozenset(seen - set(updates))
        self.heads = tuple(sorted(set(updates) - seen))
        self.final = self._merge_latest(self.heads)

    def policy(self, name: str) -> PropertyPolicy | None:
        if name not in self._policy_cache:
            self._policy_cache[name] = self.policies.policy_for(name)
        return self._policy_cache[name]

    def _merge_latest(self, parents: Iterable[str]) -> _Latest:
        sources = [self.latest[p] for p in parents]
        if not sources:
            return {}
        if len(sources) == 1:
            return sources[0]
        merged: _Latest = {}
        for source in sources:
            for name, slots in source.items():
                target = merged.setdefault(name, {})
                for item, candidates in slots.items():
                    known = target.get(item)
                    target[item] = candidates if known is None else known | candidates
        for slots in merged.values():
            for item, candidates in slots.items():
                slots[item] = self.causal.maximal(candidates)
        return merged

    # -- evaluating one update ----------------------------------------------------------------

    def _evaluate(self, update: EntityUpdate, seen: _Latest) -> _Effect:
        effect = _Effect(update)
        valid: dict[str, tuple[PropertyPolicy, str]] = {}
        for name in sorted(update.values):
            value = update.values[name]
            policy = self.policy(name)
            effect.base[name] = self._value(seen, name) if policy is not None else None
            if policy is None:
                reason = f"{name!r} is not a property of list {self.policies.list_name!r}"
                effect.problems.append((ConflictKind.INVALID, name, reason))
            elif (why := policy.problem(value)) is not None:
                effect.problems.append((ConflictKind.INVALID, name, why))
            else:
                valid[name] = (policy, value)
        for name, (policy, value) in valid.items():
            if update.kind is not UpdateKind.REOPEN and not policy.allows(effect.base[name], value):
                # A report contradicting the status its author saw is likely about a stale
                # picture as a whole, so none of its values is applied until reviewed.
                effect.held_by = name
                effect.problems = [
                    (
                        ConflictKind.STATUS_REGRESSION,
                        name,
                        f"{name} {effect.base[name]!r} -> {value!r} is not a forward move; only "
                        "a reopen with a reason may move it back; no value of this update "
                        "was applied",
                    )
                ]
                return effect
        decision = update.kind in DECISIONS
        for name, (policy, value) in valid.items():
            base = effect.base[name]
            if policy.policy is MergePolicy.SET_UNION:
                effect.sets_sent.add(name)
                sent, had = policy.items(value), policy.items(base)
                added = sent if decision else sent - had
                changes = {item: True for item in added}
                changes.update((item, False) for item in had - sent)
                if changes:
                    effect.members[name] = changes
            elif decision or not policy.same(value, base):
                if not decision and base is not None and policy.goes_back(base, value):
                    reason = f"{name} would go from {base} to {value}; it only moves one way"
                    effect.problems.append((ConflictKind.REGRESSION, name, reason))
                else:
                    effect.scalars[name] = value
        return effect

    def _advance(self, seen: _Latest, effect: _Effect, uid: str) -> _Latest:
        if not effect.changed:
            return seen
        only = frozenset({uid})
        latest = dict(seen)
        for name in effect.scalars:
            latest[name] = {**latest.get(name, {}), None: only}
        for name, changes in effect.members.items():
            latest[name] = {**latest.get(name, {}), **dict.fromkeys(changes, only)}
        latest[_ANY] = {None: only}
        return latest

    # -- settling values ----------------------------------------------------------------------

    def _value(self, latest: _Latest, name: str) -> str | None:
        slots = latest.get(name)
        policy = self.policy(name)
        if not slots or policy is None:
            return None
        if policy.policy is MergePolicy.SET_UNION:
            return policy.join(
                m for m, c in slots.items() if m is not None and self._present(name, m, c)
            )
        return self.effects[self._winner(name, slots[None])].scalars[name]

    def _present(self, name: str, member: str, candidates: frozenset[str]) -> bool:
        return any(self.effects[c].members[name][member] for c in candidates)

    def _winner(self, name: str, candidates: frozenset[str]) -> str:
        if len(candidates) == 1:
            return next(iter(candidates))
        policy = self.policy(name)
        assert policy is not None

        def key(uid: str) -> tuple[object, ...]:
            effect = self.effects[uid]
            update = effect.update
            return (
                # A deliberate reopen is shown over concurrent field reports until reviewed.
                update.kind is UpdateKind.REOPEN,
                policy.order_key(effect.scalars[name]),
                _date_key(update.date_of_information),
                uid,
            )

        return max(candidates, key=key)

    def _value_within(self, members: frozenset[str], name: str) -> str | None:
        """The value of a property in the state derived from a downset `members`."""
        policy = self.policy(name)
        assert policy is not None
        if policy.policy is MergePolicy.SET_UNION:
            by_member: dict[str, set[str]] = {}
            for uid in members:
                for member in self.effects[uid].members.get(name, ()):
                    by_member.setdefault(member, set()).add(uid)
            present = [
                m
                for m, c in by_member.items()
                if self._present(name, m, self.causal.maximal(frozenset(c)))
            ]
            return policy.join(present) if by_member else None
        candidates = frozenset(m for m in members if name in self.effects[m].scalars)
        if not candidates:
            return None
        return self.effects[self._winner(name, self.causal.maximal(candidates))].scalars[name]

    # -- the result ---------------------------------------------------------------------------

    def state(self) -> EntityState:
        values: dict[str, str] = {}
        set_by: dict[str, tuple[str, ...]] = {}
        conflicts: list[Conflict] = []
        sets_sent = {n for e in self.effects.values() if e.held_by is None for n in e.sets_sent}
        for name in sorted(set(self.final) | sets_sent):
            if name == _ANY:
                continue
            policy = self.policy(name)
            assert policy is not None
            slots = self.final.get(name, {})
            if policy.policy is MergePolicy.SET_UNION:
                values[name] = self._value(self.final, name) or ""
                set_by[name] = tuple(
                    sorted(
                        {
                            c
                            for m, cs in slots.items()
                            if m is not None
                            for c in cs
                            if self.effects[c].members[name][m]
                        }
                    )
                )
                conflicts.extend(self._set_conflicts(name, slots, values[name]))
                continue
            candidates = slots[None]
            shown = self.effects[self._winner(name, candidates)].scalars[name]
            values[name] = shown
            set_by[name] = tuple(
                sorted(c for c in candidates if policy.same(self.effects[c].scalars[name], shown))
            )
            if len(set_by[name]) < len(candidates):
                conflicts.append(self._disagreement(name, policy, candidates, shown))
        conflicts.extend(self._update_conflicts(values))
        soft = self._soft_merge()
        if soft is not None:
            conflicts.append(soft)
        conflicts.sort(key=lambda c: (c.property_name or "", c.kind, c.conflict_id))
        return EntityState(
            values=MappingProxyType(values),
            set_by=MappingProxyType(set_by),
            conflicts=tuple(conflicts),
            update_ids=frozenset(self.updates),
            held_update_ids=frozenset(u for u, e in self.effects.items() if e.held_by),
            missing_base_ids=self.missing,
        )

    def _assertion(self, uid: str, name: str) -> Assertion:
        effect = self.effects[uid]
        return Assertion(
            update_id=uid,
            property_name=name,
            value=effect.update.values[name],
            base_value=effect.base.get(name),
            source=effect.update.source,
            date_of_information=effect.update.date_of_information,
        )

    def _common_base(self, name: str, uids: Iterable[str]) -> str | None:
        return self._value_within(
            frozenset.intersection(*(self.causal.past[u] for u in uids)), name
        )

    def _disagreement(
        self, name: str, policy: PropertyPolicy, candidates: frozenset[str], shown: str
    ) -> Conflict:
        latest = policy.policy is MergePolicy.LATEST
        kind = ConflictKind.SOFT if latest else ConflictKind.HARD
        reason = (
            "concurrent reports give different values; the latest is shown"
            if latest
            else "updates made without seeing each other set different values"
        )
        return Conflict(
            conflict_id=_conflict_id(kind, name, candidates),
            kind=kind,
            property_name=name,
            base_value=self._common_base(name, candidates),
            provisional_value=shown,
            assertions=tuple(self._assertion(c, name) for c in sorted(candidates)),
            reason=reason,
        )

    def _set_conflicts(
        self, name: str, slots: Mapping[str | None, frozenset[str]], shown: str
    ) -> list[Conflict]:
        involved: set[str] = set()
        notes: list[str] = []
        # In the order shown, not set order: that varies with the hash seed from one process
        # to the next, and the reason must read the same wherever the state is derived.
        for member in shown.split():
            candidates = slots.get(member, frozenset())
            changes = {c: self.effects[c].members[name][member] for c in candidates}
            removers = sorted(c for c, present in changes.items() if not present)
            if removers:
                adders = sorted(c for c, present in changes.items() if present)
                involved.update(candidates)
                notes.append(
                    f"{member!r} removed by {', '.join(removers)} but added at the same time "
                    f"by {', '.join(adders)}; it is kept"
                )
        if not involved:
            return []
        kind = ConflictKind.HARD
        return [
            Conflict(
                conflict_id=_conflict_id(kind, name, involved),
                kind=kind,
                property_name=name,
                base_value=self._common_base(name, involved),
                provisional_value=shown,
                assertions=tuple(self._assertion(c, name) for c in sorted(involved)),
                reason="; ".join(notes),
            )
        ]

    def _update_conflicts(self, values: Mapping[str, str]) -> list[Conflict]:
        decisions = [
            e.update
            for e in self.effects.values()
            if e.held_by is None and e.update.kind in DECISIONS and e.update.resolves
        ]
        conflicts: list[Conflict] = []
        for uid, effect in sorted(self.effects.items()):
            for kind, name, reason in effect.problems:
                conflict_id = _conflict_id(kind, name, (uid,))
                resolved = any(
                    conflict_id in d.resolves and uid in self.causal.past[d.update_id]
                    for d in decisions
                )
                if resolved:
                    continue
                # A held update is shown whole, so a reviewer can take any of its values.
                carried = sorted(effect.update.values) if effect.held_by else [name]
                conflicts.append(
                    Conflict(
                        conflict_id=conflict_id,
                        kind=kind,
                        property_name=name,
                        base_value=effect.base.get(name),
                        provisional_value=values.get(name),
                        assertions=tuple(self._assertion(uid, n) for n in carried),
                        reason=reason,
                    )
                )
        return conflicts

    def _soft_merge(self) -> Conflict | None:
        """Concurrent updates whose changes were merged without overlap: visible, no review.
        Only the latest changing updates count, so this closes once someone builds on both."""
        heads = sorted(self.final.get(_ANY, {}).get(None, frozenset()))
        if len(heads) < 2:
            return None
        changed = [self.effects[h].changed for h in heads]
        if all(c == changed[0] for c in changed):
            return None
        kind = ConflictKind.SOFT
        return Conflict(
            conflict_id=_conflict_id(kind, None, heads),
            kind=kind,
            property_name=None,
            base_value=None,
            provisional_value=None,
            assertions=tuple(
                self._assertion(h, n)
                for h, c in zip(heads, changed, strict=True)
                for n in sorted(c)
            ),
            reason="updates made without seeing each other changed different properties; "
            "all changes were applied",
        )


def _conflict_id(kind: ConflictKind, name: str | None, uids: Iterable[str]) -> str:
    text = "\x1f".join([kind.value, name or "", *sorted(uids)])
    return "cf-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _date_key(value: DateOfInformation) -> tuple[bool, dt.datetime]:
    # Dates and datetimes (naive or not) must compare, so all become naive UTC datetimes.
    if value is None:
        return (False, dt.datetime.min)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return (True, value)
    return (True, dt.datetime(value.year, value.month, value.day))
