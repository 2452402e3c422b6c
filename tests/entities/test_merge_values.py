"""Values of the pure merge core in detail: what a record shows and who set it, for sets and held
reports, which date of information is later, running totals that only shrink, and what apply
reports for a repeat.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

from server.entities.merge import (
    CausalCycleError,
    ConflictKind,
    EntityUpdate,
    UpdateIdClash,
    UpdateKind,
    apply,
    derive,
)
from server.entities.policies import loads_policies
from tests.entities.test_merge import CREATE, HAZARD_AREAS, clearance_chain, in_every_order, report

# -- sets -------------------------------------------------------------------------------------


def test_set_by_names_the_updates_whose_members_are_shown() -> None:
    team_a = report("a1", "c0", contamination_types="cmr uxo")
    team_b = report("b1", "c0", contamination_types="cmr ap_mine")
    removal = report("b2", "b1", contamination_types="ap_mine")

    state = in_every_order(HAZARD_AREAS, [CREATE, team_a, team_b, removal])

    # b2 removed cmr, which only c0 had added (a1 and b1 kept it, which is no addition); uxo
    # from a1 and ap_mine from b1 stay. The create and the removal set nothing shown.
    assert state.values["contamination_types"] == "ap_mine uxo"
    assert state.set_by["contamination_types"] == ("a1", "b1")
    # Both latest changes touched the same property: no soft conflict, and nothing to review.
    assert state.conflicts == ()


def test_a_set_emptied_by_everyone_is_shown_blank_not_missing() -> None:
    added = report("a1", "c0", blockages="school")
    removed = report("a2", "a1", blockages="")

    state = derive(HAZARD_AREAS, [CREATE, added, removed])

    assert state.values["blockages"] == ""
    assert state.set_by["blockages"] == ()
    # Sending an empty set nobody had filled still shows the property, blank.
    empty = derive(HAZARD_AREAS, [CREATE, report("e1", "c0", land_use="")])
    assert empty.values["land_use"] == "" and empty.set_by["land_use"] == ()
    assert empty.conflicts == ()


def test_a_held_report_shows_none_of_its_sets() -> None:
    stale = report("old", "s3", status="suspected", blockages="school", land_use="")

    state = derive(HAZARD_AREAS, [*clearance_chain(), stale])

    assert state.held_update_ids == {"old"}
    assert "blockages" not in state.values and "blockages" not in state.set_by
    assert "land_use" not in state.values
    [held] = state.conflicts
    assert {(a.property_name, a.value) for a in held.assertions} == {
        ("status", "suspected"),
        ("blockages", "school"),
        ("land_use", ""),
    }


def test_a_decision_asserts_every_member_it_sends() -> None:
    # A resolution re-sending a member it saw still counts as adding it: against a concurrent
    # removal, the member stays.
    added = report("a1", "c0", contamination_types="cmr uxo")
    removal = report("b1", "a1", contamination_types="cmr")
    confirm = report(
        "v1",
        "a1",
        kind=UpdateKind.RESOLUTION,
        reason="uxo seen on site",
        contamination_types="cmr uxo",
    )

    state = in_every_order(HAZARD_AREAS, [CREATE, added, removal, confirm])

    assert state.values["contamination_types"] == "cmr uxo"
    assert state.set_by["contamination_types"] == ("v1",)
    [hard] = state.review_needed
    assert hard.update_ids == {"b1", "v1"}


# -- dates of information ---------------------------------------------------------------------


def dated(update_id: str, when: dt.date | dt.datetime | None, priority: str) -> EntityUpdate:
    return EntityUpdate(
        update_id,
        base_ids=frozenset({"c0"}),
        values={"priority": priority},
        date_of_information=when,
    )


def test_a_later_plain_date_is_after_an_earlier_datetime() -> None:
    morning = dated("a1", dt.datetime(2024, 3, 5, 10, 30), "high")
    next_day = dated("b1", dt.date(2024, 3, 6), "medium")

    assert in_every_order(HAZARD_AREAS, [CREATE, morning, next_day]).values["priority"] == "medium"


def test_a_dated_report_is_after_an_undated_one() -> None:
    undated = dated("zz", None, "high")  # the greater id, which would win a tie
    earliest = dated("aa", dt.date.min, "medium")

    assert in_every_order(HAZARD_AREAS, [CREATE, undated, earliest]).values["priority"] == "medium"


@pytest.fixture
def server_in_vientiane(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The server's local time is UTC+7 for the test."""
    monkeypatch.setenv("TZ", "ICT-7")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("server_in_vientiane")
def test_datetimes_compare_in_utc_whatever_the_servers_timezone() -> None:
    # 03:00 at UTC+7 is 20:00 UTC the day before: before midnight of the plain date.
    early_local = dated(
        "a1", dt.datetime(2024, 3, 5, 3, tzinfo=dt.timezone(dt.timedelta(hours=7))), "high"
    )
    plain = dated("b1", dt.date(2024, 3, 5), "medium")
    # 23:00 at UTC-5 is 04:00 UTC the next day: after a naive (UTC) 02:00 that day.
    late_west = dated(
        "c1", dt.datetime(2024, 3, 4, 23, tzinfo=dt.timezone(dt.timedelta(hours=-5))), "high"
    )
    naive = dated("d1", dt.datetime(2024, 3, 5, 2), "medium")

    assert in_every_order(HAZARD_AREAS, [CREATE, early_local, plain]).values["priority"] == "medium"
    assert in_every_order(HAZARD_AREAS, [CREATE, late_west, naive]).values["priority"] == "high"


# -- monotonic_min ----------------------------------------------------------------------------

SHRINKING = loads_policies(
    """
    [areas.remaining_m2]
    policy = "monotonic_min"
    type = "decimal"
    """
).for_list("areas")


def measured(update_id: str, *seen: str, day: int, m2: str, **kwargs: object) -> EntityUpdate:
    return EntityUpdate(
        update_id,
        base_ids=frozenset(seen),
        values={"remaining_m2": m2},
        date_of_information=dt.date(2024, 3, day),
        **kwargs,  # type: ignore[arg-type]
    )


def test_monotonic_min_refuses_a_larger_value_and_shows_the_smaller_of_concurrent_ones() -> None:
    start = measured("m0", day=1, m2="12000", kind=UpdateKind.CREATE)
    shrank = measured("m1", "m0", day=2, m2="8000")
    grew = measured("m2", "m1", day=3, m2="9000")

    state = in_every_order(SHRINKING, [start, shrank, grew])

    assert state.values["remaining_m2"] == "8000"
    [regression] = state.conflicts
    assert regression.kind is ConflictKind.REGRESSION
    assert (regression.base_value, regression.provisional_value) == ("8000", "8000")
    assert regression.reason == "remaining_m2 would go from 8000 to 9000; it only moves one way"

    team_a = measured("a1", "m0", day=9, m2="7000")
    team_b = measured("b1", "m0", day=2, m2="5000")
    state = in_every_order(SHRINKING, [start, team_a, team_b])
    assert state.values["remaining_m2"] == "5000"  # smaller first, though reported earlier
    [hard] = state.review_needed
    assert hard.kind is ConflictKind.HARD and hard.update_ids == {"a1", "b1"}
    # A resolution may set any value, larger included.
    fix = measured(
        "v1", "a1", "b1", day=10, m2="7500", kind=UpdateKind.RESOLUTION, reason="remeasured"
    )
    settled = derive(SHRINKING, [start, team_a, team_b, fix])
    assert settled.values["remaining_m2"] == "7500" and settled.conflicts == ()


# -- apply ------------------------------------------------------------------------------------


def test_a_repeat_returns_the_state_passed_in_and_changes_nothing() -> None:
    update = report("a1", "c0", priority="high")
    first = apply(HAZARD_AREAS, [CREATE], update)

    again = apply(HAZARD_AREAS, [CREATE, update], update, previous=first.state)

    assert again.duplicate
    assert again.state is first.state  # not derived again
    assert again.changed_properties == frozenset()
    assert again.conflicts_opened == () and again.conflicts_closed == ()


def test_a_clash_names_the_update() -> None:
    update = report("a1", "c0", priority="high")

    with pytest.raises(UpdateIdClash, match=r"^update 'a1' was received with other content$"):
        apply(HAZARD_AREAS, [CREATE, update], report("a1", "c0", priority="low"))
    with pytest.raises(UpdateIdClash, match=r"^two different updates carry the id 'a1'$"):
        derive(HAZARD_AREAS, [update, report("a1", "c0", priority="low")])


# -- updates ----------------------------------------------------------------------------------


def test_an_update_keeps_its_own_read_only_copy_of_what_it_was_given() -> None:
    values = {"priority": "high"}
    seen = ["c0"]
    update = EntityUpdate(
        "r1",
        kind="reopen",  # type: ignore[arg-type]  # as decoded from JSON
        base_ids=seen,  # type: ignore[arg-type]
        values=values,
        reason="device found",
        resolves=["cf-1"],  # type: ignore[arg-type]
    )
    values["priority"] = "low"
    seen.append("x")

    assert update.kind is UpdateKind.REOPEN
    assert update.base_ids == frozenset({"c0"}) and isinstance(update.base_ids, frozenset)
    assert update.resolves == frozenset({"cf-1"}) and isinstance(update.resolves, frozenset)
    assert update.values == {"priority": "high"}
    with pytest.raises(TypeError):
        update.values["priority"] = "low"  # type: ignore[index]
    # Built from plain lists and strings, it is the same update as one built from sets.
    assert update == EntityUpdate(
        "r1",
        kind=UpdateKind.REOPEN,
        base_ids=frozenset({"c0"}),
        values={"priority": "high"},
        reason="device found",
        resolves=frozenset({"cf-1"}),
    )


def test_malformed_updates_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match=r"^an update needs an update_id$"):
        EntityUpdate("")
    with pytest.raises(ValueError, match=r"^update 'u1' names itself as seen$"):
        EntityUpdate("u1", base_ids=frozenset({"u1"}))
    with pytest.raises(ValueError, match=r"^a reopen needs a reason$"):
        EntityUpdate("u1", kind=UpdateKind.REOPEN, reason=" ")
    with pytest.raises(ValueError, match=r"^only a resolution or a reopen can resolve conflicts$"):
        EntityUpdate("u1", resolves=frozenset({"cf-1"}))
    with pytest.raises(CausalCycleError, match=r"^update 'x1' is in its own causal past$"):
        derive(HAZARD_AREAS, [report("x1", "x2"), report("x2", "x1")])


def test_a_held_report_says_why_and_that_nothing_was_applied() -> None:
    stale = report("old", "s3", status="confirmed", priority="high")

    [held] = derive(HAZARD_AREAS, [*clearance_chain(), stale]).conflicts

    assert held.reason == (
        "status 'cleared' -> 'confirmed' is not a forward move; only a reopen with a reason may "
        "move it back; no value of this update was applied"
    )


def test_a_conflict_over_several_properties_is_listed_first() -> None:
    sessions = loads_policies("").for_list("eore_sessions")
    create = report("e0", kind=UpdateKind.CREATE, Attendees="40", Village="Ban Na")
    team_a = report("e1", "e0", Attendees="42", Village="Ban Phon")
    team_b = report("e2", "e0", Attendees="38")

    state = in_every_order(sessions, [create, team_a, team_b])

    assert [(c.kind, c.property_name) for c in state.conflicts] == [
        (ConflictKind.SOFT, None),
        (ConflictKind.HARD, "Attendees"),
    ]
