"""Properties of the merge over random histories of concurrent offline edits: random causal
graphs, delivered in random orders with repeats. The state must not depend on the order, and
no value may disappear without being shown, superseded by someone who saw it, or kept in a
conflict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.entities.merge import (
    ConflictKind,
    EntityState,
    EntityUpdate,
    UpdateKind,
    apply,
    derive,
)
from server.entities.policies import ListPolicy, MergePolicy, loads_policies

POLICIES: ListPolicy = loads_policies(
    """
    [things.status]
    policy = "state_machine"
    stages = [["new"], ["open"], ["done", "dropped"], ["archived"]]

    [things.status.transitions]
    new = ["open", "dropped"]
    open = ["done", "dropped"]
    done = ["archived"]
    dropped = ["archived"]

    [things.colour]
    type = "select_one"
    choices = ["red", "green", "blue"]

    [things.tags]
    policy = "set_union"
    type = "select_multiple"
    choices = ["a", "b", "c"]

    [things.count]
    policy = "monotonic_max"
    type = "integer"

    [things.seen]
    policy = "latest"
    type = "date"

    [things.note]
    """
).for_list("things")

# Each property's valid values and, for those that have one, an invalid value.
VALID: Mapping[str, list[str]] = {
    "status": ["new", "open", "done", "dropped", "archived"],
    "colour": ["red", "green", "blue"],
    "tags": ["", "a", "b", "a b", "a b", "a c"],
    "count": ["0", "1", "2", "3", "5"],
    "seen": ["2024-01-01", "2024-01-02", "2024-01-03"],
    "note": ["", "x", "y"],
    "label": ["T-1", "T-2"],
}
INVALID = {
    "status": "lost",
    "colour": "purple",
    "tags": "a z",
    "count": "many",
    "seen": "yesterday",
    "note": None,
    "label": None,
}

# How often the generator takes each branch; test_generator_rates_match_what_they_say measures
# them over many histories.
INVALID_ONE_IN = 8  # a value of a property that has an invalid one is invalid
LOST_BASE_ONE_IN = 10  # an update names a predecessor that never arrives
DECISION_ONE_IN = 4  # an update after the first is a resolution or a reopen (half each)


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True about one time in `n`. The true outcome is a value in the middle of the range:
    Hypothesis favours the smallest choice (it tries simple examples on purpose), so a test
    of `== 0` comes out far more often than one in `n`."""
    middle = n // 2 + 1
    return st.integers(1, n).map(lambda drawn: drawn == middle)


def values_of(name: str) -> st.SearchStrategy[str]:
    if name == "weight":  # not a property of the list
        return st.just("12")
    valid = st.sampled_from(VALID[name])
    invalid = INVALID[name]
    if invalid is None:
        return valid
    return one_in(INVALID_ONE_IN).flatmap(lambda bad: st.just(invalid) if bad else valid)


# Sets and statuses are drawn more often: they have the most rules.
NAMES = ["status", "status", "tags", "tags", "tags", "colour", "count", "seen", "note", "label"]
NAMES += ["weight"]
DECISION_KINDS = [UpdateKind.RESOLUTION, UpdateKind.REOPEN]
DATES = st.none() | st.sampled_from([dt.date(2024, 1, d) for d in (1, 2, 3)])
DECISIONS = {UpdateKind.REOPEN, UpdateKind.RESOLUTION}


def closure(updates: Mapping[str, EntityUpdate], seen: set[str]) -> set[str]:
    """Everything `seen` had seen, transitively, among known updates (ids kept as given)."""
    result = set(seen)
    frontier = list(seen)
    while frontier:
        uid = frontier.pop()
        if uid in updates:
            for base in updates[uid].base_ids - result:
                result.add(base)
                frontier.append(base)
    return result


@st.composite
def histories(draw: st.DrawFn) -> list[EntityUpdate]:
    """A random causal graph of updates: each may have seen any of the earlier ones."""
    updates: dict[str, EntityUpdate] = {}
    for index in range(draw(st.integers(1, 8))):
        uid = f"u{index}"
        seen = set(draw(st.sets(st.sampled_from(sorted(updates)))) if updates else set())
        if draw(st.booleans()):
            seen = closure(updates, seen)  # servers may send the whole past, tablets a parent
        if draw(one_in(LOST_BASE_ONE_IN)):
            seen.add("lost-on-the-way")
        kind = UpdateKind.CREATE
        if index > 0:
            decision = draw(one_in(DECISION_ONE_IN))
            kind = draw(st.sampled_from(DECISION_KINDS)) if decision else UpdateKind.UPDATE
        names = draw(st.sets(st.sampled_from(NAMES), min_size=1, max_size=3))
        updates[uid] = EntityUpdate(
            update_id=uid,
            kind=kind,
            base_ids=frozenset(seen),
            values={name: draw(values_of(name)) for name in sorted(names)},
            date_of_information=draw(DATES),
            source=draw(st.sampled_from(["team A", "team B", "coordinator"])),
            reason="checked on site" if kind in DECISIONS else None,
        )
    return list(updates.values())


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[EntityUpdate], list[EntityUpdate]]:
    """A history and the order it reached the server in, with some updates sent twice."""
    updates = draw(histories())
    repeats = draw(st.lists(st.sampled_from(updates), max_size=3))
    return updates, draw(st.permutations(updates + repeats))


SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def checked(state: EntityState) -> EntityState:
    """`state`, after checking what holds of every state: no two conflicts share an id (the
    id is the key of a conflict in the database)."""
    ids = [c.conflict_id for c in state.conflicts]
    assert len(set(ids)) == len(ids), ids
    return state


def derive_checked(updates: list[EntityUpdate]) -> EntityState:
    return checked(derive(POLICIES, updates))


@SETTINGS
@given(deliveries())
def test_arrival_order_and_repeats_do_not_change_the_state(
    delivery: tuple[list[EntityUpdate], list[EntityUpdate]],
) -> None:
    updates, arrivals = delivery
    expected = derive_checked(updates)

    assert derive_checked(arrivals) == expected
    assert derive_checked(updates + updates) == expected

    known: list[EntityUpdate] = []
    state = derive_checked([])
    for update in arrivals:
        result = apply(POLICIES, known, update, previous=state)
        assert result.duplicate == (update in known)
        if not result.duplicate:
            known.append(update)
        state = result.state
        checked(state)
    assert state == expected


def set_items(value: str | None) -> set[str]:
    return set(value.split()) if value else set()


def check_accounted(updates: list[EntityUpdate], state: EntityState) -> None:
    by_id = {u.update_id: u for u in updates}
    pasts = {uid: closure(by_id, set(u.base_ids)) & set(by_id) for uid, u in by_id.items()}
    bases = {uid: derive_checked([by_id[p] for p in past]).values for uid, past in pasts.items()}
    in_conflicts = {
        (a.update_id, a.property_name, a.value) for c in state.conflicts for a in c.assertions
    }
    refused = {
        (a.update_id, a.property_name)
        for c in state.conflicts
        if c.kind in (ConflictKind.REGRESSION, ConflictKind.INVALID)
        for a in c.assertions
    }

    def applied(uid: str, name: str) -> bool:
        """Whether update `uid` sent a value for `name` that was not refused."""
        return (
            name in by_id[uid].values
            and uid not in state.held_update_ids
            and (uid, name) not in refused
        )

    def later(uid: str, name: str) -> list[str]:
        return [w for w in by_id if uid in pasts[w] and applied(w, name)]

    for uid, update in by_id.items():
        for name, value in update.values.items():
            if (uid, name, value) in in_conflicts:
                continue
            assert applied(uid, name), (uid, name, value, "refused but not shown")
            policy = POLICIES.policy_for(name)
            assert policy is not None
            base = bases[uid].get(name)
            decision = update.kind in DECISIONS
            if policy.policy is not MergePolicy.SET_UNION:
                if policy.same(state.values.get(name), value):
                    continue
                if not decision and policy.same(base, value):
                    continue
                superseded = [
                    w
                    for w in later(uid, name)
                    if by_id[w].kind in DECISIONS
                    or not policy.same(by_id[w].values[name], bases[w].get(name))
                ]
                assert superseded, (uid, name, value, "dropped without a conflict")
                continue
            shown = set_items(state.values.get(name))
            sent, had = set_items(value), set_items(base)
            for item in sent if decision else sent - had:
                removed_later = any(
                    item in set_items(bases[w].get(name))
                    and item not in set_items(by_id[w].values[name])
                    for w in later(uid, name)
                )
                assert item in shown or removed_later, (uid, name, item, "addition lost")
            for item in had - sent:
                added_later = any(
                    item in set_items(by_id[w].values[name])
                    and (by_id[w].kind in DECISIONS or item not in set_items(bases[w].get(name)))
                    for w in later(uid, name)
                )
                assert item not in shown or added_later, (uid, name, item, "removal lost")


@SETTINGS
@given(histories())
def test_every_received_value_is_shown_superseded_unchanged_or_in_a_conflict(
    updates: list[EntityUpdate],
) -> None:
    check_accounted(updates, derive_checked(updates))


@SETTINGS
@given(histories())
def test_status_never_falls_behind_what_anyone_saw_without_a_reopen(
    updates: list[EntityUpdate],
) -> None:
    updates = [u for u in updates if u.kind is not UpdateKind.REOPEN]
    by_id = {u.update_id: u for u in updates}
    status = POLICIES.policy_for("status")
    assert status is not None
    final = derive_checked(updates).values.get("status")

    for uid in by_id:
        seen = derive_checked([by_id[p] for p in closure(by_id, {uid}) if p in by_id])
        shown_then = seen.values.get("status")
        if shown_then is not None:
            assert final is not None
            assert status.rank(final) >= status.rank(shown_then)


@SETTINGS
@given(histories())
def test_a_resolution_confirming_what_is_shown_settles_everything_and_changes_nothing(
    updates: list[EntityUpdate],
) -> None:
    state = derive_checked(updates)
    resolution = EntityUpdate(
        update_id="review",
        kind=UpdateKind.RESOLUTION,
        base_ids=state.update_ids,
        values=dict(state.values),
        source="reviewer",
        reason="reviewed every conflict",
        resolves=frozenset(c.conflict_id for c in state.conflicts),
    )

    result = apply(POLICIES, updates, resolution, previous=state)
    checked(result.state)

    assert result.state.conflicts == ()
    assert result.state.values == state.values
    assert {c.conflict_id for c in result.conflicts_closed} == {
        c.conflict_id for c in state.conflicts
    }
