"""Merge policies of entity lists: how each property of a shared record settles edits made
offline and concurrently. Declared in forms/entity_policies.toml so that an information
management officer can read and change them; plain data, no framework.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

#: The entity label is merged like any other property under this name.
LABEL = "label"

#: Version of the policy file layout this module reads.
FORMAT_VERSION = 1


class PolicyError(ValueError):
    """A policy file or declaration is malformed; the message names the list and property."""


class MergePolicy(StrEnum):
    """How concurrent edits of one property settle (see forms/entity_policies.toml)."""

    THREE_WAY = "three_way"
    STATE_MACHINE = "state_machine"
    SET_UNION = "set_union"
    MONOTONIC_MAX = "monotonic_max"
    MONOTONIC_MIN = "monotonic_min"
    LATEST = "latest"


class ValueType(StrEnum):
    """The kind of value a property holds, used to refuse malformed values."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    SELECT_ONE = "select_one"
    SELECT_MULTIPLE = "select_multiple"


_NUMERIC = frozenset({ValueType.INTEGER, ValueType.DECIMAL})
_SELECT = frozenset({ValueType.SELECT_ONE, ValueType.SELECT_MULTIPLE})
_MONOTONIC = frozenset({MergePolicy.MONOTONIC_MAX, MergePolicy.MONOTONIC_MIN})
_INTEGER_RE = re.compile(r"-?\d+\Z")
_DECIMAL_RE = re.compile(r"-?(\d+(\.\d*)?|\.\d+)\Z")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")

# Which value types each policy can work on; a mismatch is a declaration error.
_POLICY_TYPES: Mapping[MergePolicy, frozenset[ValueType]] = {
    MergePolicy.THREE_WAY: frozenset(ValueType),
    MergePolicy.STATE_MACHINE: frozenset({ValueType.SELECT_ONE}),
    MergePolicy.SET_UNION: frozenset({ValueType.SELECT_MULTIPLE, ValueType.TEXT}),
    MergePolicy.MONOTONIC_MAX: _NUMERIC,
    MergePolicy.MONOTONIC_MIN: _NUMERIC,
    MergePolicy.LATEST: frozenset({ValueType.DATE, ValueType.INTEGER, ValueType.DECIMAL}),
}


@dataclass(frozen=True)
class PropertyPolicy:
    """The declared policy and value type of one property of an entity list.

    Raises PolicyError from the constructor when the declaration is inconsistent.
    """

    name: str
    policy: MergePolicy = MergePolicy.THREE_WAY
    value_type: ValueType = ValueType.TEXT
    choices: tuple[str, ...] = ()
    #: state_machine only: groups of states from first to last; states in one stage are
    #: equally far along.
    stages: tuple[tuple[str, ...], ...] = ()
    #: state_machine only: the direct steps allowed from each state.
    transitions: Mapping[str, frozenset[str]] = field(default_factory=dict, hash=False)
    #: three_way only: values shown first while a disagreement waits for review.
    prefer: tuple[str, ...] = ()
    _rank: Mapping[str, int] = field(init=False, repr=False, compare=False, hash=False)
    _forward: Mapping[str, frozenset[str]] = field(
        init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        where = f"property {self.name!r}"
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise PolicyError(f"{where}: not a valid property name")
        set_ = object.__setattr__
        set_(self, "policy", _enum(MergePolicy, self.policy, f"{where}: unknown policy"))
        set_(self, "value_type", _enum(ValueType, self.value_type, f"{where}: unknown type"))
        set_(self, "choices", tuple(self.choices))
        set_(self, "stages", tuple(tuple(stage) for stage in self.stages))
        set_(self, "prefer", tuple(self.prefer))
        if self.policy is MergePolicy.STATE_MACHINE:
            self._check_state_machine(where)
        else:
            if self.stages or self.transitions:
                raise PolicyError(f"{where}: stages and transitions need policy state_machine")
            set_(self, "transitions", MappingProxyType({}))
            set_(self, "_rank", MappingProxyType({}))
            set_(self, "_forward", MappingProxyType({}))
        if self.value_type not in _POLICY_TYPES[self.policy]:
            allowed = ", ".join(sorted(_POLICY_TYPES[self.policy]))
            raise PolicyError(
                f"{where}: policy {self.policy} cannot merge type {self.value_type} "
                f"(allowed: {allowed})"
            )
        if self.value_type in _SELECT and not self.choices:
            raise PolicyError(f"{where}: type {self.value_type} needs a list of choices")
        if self.value_type not in _SELECT and self.choices:
            raise PolicyError(f"{where}: choices are only for select_one or select_multiple")
        if len(set(self.choices)) != len(self.choices):
            raise PolicyError(f"{where}: a choice is listed twice")
        if any(not c or " " in c for c in self.choices):
            raise PolicyError(f"{where}: choice names cannot be empty or contain spaces")
        if self.prefer:
            if self.policy is not MergePolicy.THREE_WAY:
                raise PolicyError(f"{where}: prefer is only for policy three_way")
            unknown = [v for v in self.prefer if self.choices and v not in self.choices]
            if unknown:
                raise PolicyError(f"{where}: prefer names undeclared choices {unknown}")

    def _check_state_machine(self, where: str) -> None:
        if not self.stages:
            raise PolicyError(f"{where}: state_machine needs stages")
        rank: dict[str, int] = {}
        for index, stage in enumerate(self.stages):
            for state in stage:
                if state in rank:
                    raise PolicyError(f"{where}: state {state!r} is in more than one stage")
                rank[state] = index
        if self.choices and set(self.choices) != set(rank):
            raise PolicyError(f"{where}: choices and the states in stages differ")
        if not self.choices:
            object.__setattr__(self, "choices", tuple(s for stage in self.stages for s in stage))
        steps: dict[str, frozenset[str]] = {}
        for source, targets in self.transitions.items():
            if source not in rank:
                raise PolicyError(f"{where}: transition from undeclared state {source!r}")
            for target in targets:
                if target not in rank:
                    raise PolicyError(
                        f"{where}: transition from {source!r} to undeclared state {target!r}"
                    )
                if rank[target] < rank[source]:
                    raise PolicyError(
                        f"{where}: transition {source!r} -> {target!r} goes to an earlier "
                        "stage; only a reopen may move a status back"
                    )
            steps[source] = frozenset(targets)
        object.__setattr__(self, "transitions", MappingProxyType(steps))
        object.__setattr__(self, "_rank", MappingProxyType(rank))
        object.__setattr__(self, "_forward", MappingProxyType(_reachable(steps, rank)))

    # -- values -----------------------------------------------------------------------------

    def problem(self, value: str) -> str | None:
        """Why `value` cannot be accepted for this property, or None when it can."""
        if not isinstance(value, str):
            return f"{self.name}: value is not text"
        if value == "":
            # A blank answer clears a plain value; a status or a running total cannot be blank.
            if self.policy is MergePolicy.STATE_MACHINE or self.policy in _MONOTONIC:
                return f"{self.name}: a blank value is not allowed"
            return None
        if self.value_type is ValueType.INTEGER and not _INTEGER_RE.match(value):
            return f"{self.name}: {value!r} is not a whole number"
        if self.value_type is ValueType.DECIMAL and not _DECIMAL_RE.match(value):
            return f"{self.name}: {value!r} is not a number"
        if self.value_type is ValueType.DATE and not _is_date(value):
            return f"{self.name}: {value!r} is not a date (YYYY-MM-DD)"
        if self.value_type is ValueType.SELECT_ONE and value not in self.choices:
            return f"{self.name}: {value!r} is not one of the choices {list(self.choices)}"
        if self.value_type is ValueType.SELECT_MULTIPLE:
            unknown = sorted(set(value.split()) - set(self.choices))
            if unknown:
                return f"{self.name}: {unknown} not among the choices {list(self.choices)}"
        return None

    def same(self, a: str | None, b: str | None) -> bool:
        """Whether two values mean the same (numbers by value, multi-selects as sets)."""
        if self.policy is MergePolicy.SET_UNION:
            return self.items(a) == self.items(b)
        if a is None or b is None:
            return a is b
        if self.value_type in _NUMERIC and a and b:
            try:
                return Decimal(a) == Decimal(b)
            except InvalidOperation:
                return a == b
        return a == b

    def items(self, value: str | None) -> frozenset[str]:
        """The members of a space-separated multi-select value (None: no members)."""
        return frozenset(value.split()) if value else frozenset()

    def join(self, items: Iterable[str]) -> str:
        """A multi-select value from its members, in the declared order of the choices."""
        members = set(items)
        ordered = [c for c in self.choices if c in members]
        ordered += sorted(members.difference(self.choices))
        return " ".join(ordered)

    def number(self, value: str) -> Decimal:
        """The numeric value of a valid integer or decimal value."""
        return Decimal(value)

    def goes_back(self, base: str, value: str) -> bool:
        """Whether `value` would undo progress recorded in `base` (monotonic policies only)."""
        if self.policy not in _MONOTONIC:
            return False
        try:
            old, new = Decimal(base), Decimal(value)
        except InvalidOperation:
            return False
        return new < old if self.policy is MergePolicy.MONOTONIC_MAX else new > old

    def order_key(self, value: str) -> tuple[int | str | Decimal, ...]:
        """Policy part of the order that picks the value shown among concurrent ones
        (greater first)."""
        if self.policy is MergePolicy.STATE_MACHINE:
            return (self._rank.get(value, -1),)
        if self.policy in _MONOTONIC:
            number = self.number(value)
            return (number if self.policy is MergePolicy.MONOTONIC_MAX else -number,)
        if self.policy is MergePolicy.LATEST:
            if self.value_type in _NUMERIC:
                return (self.number(value),) if value else (Decimal("-Infinity"),)
            return (value,)
        if self.prefer:
            return (len(self.prefer) - self.prefer.index(value) if value in self.prefer else 0,)
        return ()

    # -- state machine ------------------------------------------------------------------------

    def rank(self, state: str) -> int:
        """The stage index of a state (state_machine only); -1 for an unknown state."""
        return self._rank.get(state, -1)

    def allows(self, old: str | None, new: str) -> bool:
        """Whether moving from `old` to `new` is forward (or no move) without a reopen:
        `new` is reachable from `old` through declared steps. Any state may start a record."""
        if self.policy is not MergePolicy.STATE_MACHINE:
            return True
        return old is None or old == new or new in self._forward.get(old, frozenset())


@dataclass(frozen=True)
class ListPolicy:
    """The policies of one entity list. Properties not declared are refused as unknown
    unless `accept_undeclared` is set, in which case they merge three_way as text."""

    list_name: str
    properties: Mapping[str, PropertyPolicy] = field(default_factory=dict, hash=False)
    accept_undeclared: bool = False

    def __post_init__(self) -> None:
        for key, prop in self.properties.items():
            if key != prop.name:
                raise PolicyError(f"list {self.list_name!r}: {key!r} declared as {prop.name!r}")
        object.__setattr__(self, "properties", MappingProxyType(dict(self.properties)))

    @classmethod
    def open(cls, list_name: str) -> ListPolicy:
        """A list without declarations: every property is text merged three_way."""
        return cls(list_name, {}, accept_undeclared=True)

    def policy_for(self, name: str) -> PropertyPolicy | None:
        """The policy of a property, or None when the list does not know that property."""
        declared = self.properties.get(name)
        if declared is not None:
            return declared
        if (name == LABEL or self.accept_undeclared) and _NAME_RE.match(name):
            return PropertyPolicy(name)
        return None


@dataclass(frozen=True)
class EntityPolicies:
    """All declared entity lists, as read from the policy file."""

    lists: Mapping[str, ListPolicy] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lists", MappingProxyType(dict(self.lists)))

    def for_list(
        self, list_name: str, declared_properties: Iterable[str] | None = None
    ) -> ListPolicy:
        """The policies of a list. A list absent from the file merges every property three_way
        as text: only the `declared_properties` (e.g. those a published form saves to) when
        given, any property otherwise."""
        if list_name in self.lists:
            return self.lists[list_name]
        if declared_properties is None:
            return ListPolicy.open(list_name)
        return ListPolicy(list_name, {name: PropertyPolicy(name) for name in declared_properties})


# -- reading the file ---------------------------------------------------------------------------

_LIST_OPTIONS = frozenset({"accept_undeclared"})
# What a list shares with devices and partners: read by server.personal.policy.
_SHARING_OPTIONS = frozenset(
    {"devices", "device_access", "followup_consent", "sharing_consent", "personal"}
)
_PROPERTY_KEYS = frozenset({"policy", "type", "choices", "stages", "transitions", "prefer"})


def load_policies(path: str | Path) -> EntityPolicies:
    """Read and check a policy file (TOML). Raises PolicyError if it is malformed and OSError
    if it cannot be read."""
    text = Path(path).read_text(encoding="utf-8")
    return loads_policies(text, origin=str(path))


def loads_policies(text: str, origin: str = "<policies>") -> EntityPolicies:
    """Parse and check policy declarations from TOML text. Raises PolicyError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{origin}: not valid TOML: {exc}") from exc
    return parse_policies(data, origin=origin)


def parse_policies(data: Mapping[str, Any], origin: str = "<policies>") -> EntityPolicies:
    """Build policies from already-decoded data (top level: `format` and one table per list).
    Raises PolicyError naming the offending list and property."""
    lists: dict[str, ListPolicy] = {}
    for list_name, table in data.items():
        if list_name == "format":
            if table != FORMAT_VERSION:
                raise PolicyError(f"{origin}: format {table!r} is not supported")
            continue
        if not isinstance(table, dict) or not _NAME_RE.match(list_name):
            raise PolicyError(f"{origin}: {list_name!r} must be a table named after an entity list")
        lists[list_name] = _parse_list(list_name, table, origin)
    return EntityPolicies(lists)


def _parse_list(list_name: str, table: Mapping[str, Any], origin: str) -> ListPolicy:
    properties: dict[str, PropertyPolicy] = {}
    options: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            properties[key] = _parse_property(key, value, f"{origin}: {list_name}.{key}")
        elif key in _LIST_OPTIONS:
            options[key] = value
        elif key in _SHARING_OPTIONS:
            continue
        else:
            raise PolicyError(f"{origin}: {list_name}.{key}: unknown list option")
    accept = options.get("accept_undeclared", False)
    if not isinstance(accept, bool):
        raise PolicyError(f"{origin}: {list_name}.accept_undeclared must be true or false")
    return ListPolicy(list_name, properties, accept_undeclared=accept)


def _parse_property(name: str, table: Mapping[str, Any], where: str) -> PropertyPolicy:
    unknown = sorted(set(table) - _PROPERTY_KEYS)
    if unknown:
        raise PolicyError(f"{where}: unknown keys {unknown} (allowed: {sorted(_PROPERTY_KEYS)})")
    policy = _enum(
        MergePolicy, table.get("policy", MergePolicy.THREE_WAY), f"{where}: unknown policy"
    )
    default_type = ValueType.SELECT_ONE if policy is MergePolicy.STATE_MACHINE else ValueType.TEXT
    value_type = _enum(ValueType, table.get("type", default_type), f"{where}: unknown type")
    transitions = table.get("transitions", {})
    if not isinstance(transitions, dict):
        raise PolicyError(f"{where}: transitions must be a table of state = [next states]")
    # Read outside the try below: these errors name their place already.
    choices = tuple(_strings(table.get("choices", []), f"{where}: choices"))
    stages = tuple(
        tuple(_strings(stage, f"{where}: stages"))
        for stage in _list(table.get("stages", []), f"{where}: stages")
    )
    steps = {
        source: frozenset(_strings(targets, f"{where}: transitions.{source}"))
        for source, targets in transitions.items()
    }
    prefer = tuple(_strings(table.get("prefer", []), f"{where}: prefer"))
    try:
        return PropertyPolicy(
            name=name,
            policy=policy,
            value_type=value_type,
            choices=choices,
            stages=stages,
            transitions=steps,
            prefer=prefer,
        )
    except PolicyError as exc:
        raise PolicyError(f"{where}: {exc}") from exc


_E = TypeVar("_E", bound=StrEnum)


def _enum(kind: type[_E], value: object, where: str) -> _E:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise PolicyError(f"{where}: {value!r} (expected one of: {allowed})") from None


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise PolicyError(f"{where}: expected a list")
    return value


def _strings(value: object, where: str) -> list[str]:
    items = _list(value, where)
    if not all(isinstance(item, str) for item in items):
        raise PolicyError(f"{where}: expected a list of names")
    return items


def _is_date(value: str) -> bool:
    if not _DATE_RE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _reachable(
    steps: Mapping[str, frozenset[str]], rank: Mapping[str, int]
) -> dict[str, frozenset[str]]:
    # Skipping intermediate states is a forward move (a team may clear an area in one visit),
    # so what is allowed is everything reachable through the declared steps.
    reachable: dict[str, frozenset[str]] = {}
    for start in rank:
        seen: set[str] = set()
        frontier = list(steps.get(start, ()))
        while frontier:
            state = frontier.pop()
            if state not in seen:
                seen.add(state)
                frontier.extend(steps.get(state, ()))
        reachable[start] = frozenset(seen)
    return reachable
