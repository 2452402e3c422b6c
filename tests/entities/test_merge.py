"""The classic cases of offline edits to a shared record, merged by the pure core against the
real policy file: concurrent teams, stale tablets, late and repeated arrivals, decisions.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from pathlib import Path

import pytest

from server.entities.merge import (
    CausalCycleError,
    ConflictKind,
    EntityState,
    EntityUpdate,
    UpdateIdClash,
    UpdateKind,
    apply,
    derive,
)
from server.entities.policies import EntityPolicies, ListPolicy, load_policies

POLICY_FILE = Path(__file__).resolve().parents[2] / "forms" / "entity_policies.toml"
POLICIES: EntityPolicies = load_policies(POLICY_FILE)
HAZARD_AREAS: ListPolicy = POLICIES.for_list("hazard_areas")
SURVIVORS: ListPolicy = POLICIES.for_list("survivors")


def report(
    update_id: str,
    *seen: str,
    day: int = 1,
    kind: UpdateKind = UpdateKind.UPDATE,
    source: str = "team",
    reason: str | None = None,
    resolves: tuple[str, ...] = (),
    **values: str,
) -> EntityUpdate:
    return EntityUpdate(
        update_id=update_id,
        kind=kind,
        base_ids=frozenset(seen),
        values=values,
        date_of_information=dt.date(2024, 3, day),
        source=source,
        reason=reason,
        resolves=frozenset(resolves),
    )


CREATE = report(
    "c0",
    kind=UpdateKind.CREATE,
    label="HA-0145 Phonsavan",
    ha_code="HA-0145",
    status="suspected",
    priority="low",
    contamination_types="cmr",
    cleared_area_m2="0",
    remaining_area_m2="12000",
)


def in_every_order(policies: ListPolicy, updates: list[EntityUpdate]) -> EntityState:
    """Derive the state from every arrival order (a fixed sample of them past five updates),
    incrementally, and check they all agree."""
    expected = derive(policies, updates)
    orders = list(itertools.permutations(updates))
    if len(updates) > 5:
        orders = [*random.Random(len(updates)).sample(orders, 100), orders[-1]]
    for order in orders:
        known: list[EntityUpdate] = []
        for update in order:
            known.append(update)
            result = apply(policies, known[:-1], update)
        assert result.state == expected
    return expected


def conflicts_of(state: EntityState, kind: ConflictKind) -> list:
    return [c for c in state.conflicts if c.kind is kind]


def test_teams_changing_different_properties_both_apply_with_a_soft_conflict() -> None:
    team_a = report("a1", "c0", day=3, source="team A", priority="high")
    team_b = report("b1", "c0", day=2, source="team B", landowner="Village council")

    state = in_every_order(HAZARD_AREAS, [CREATE, team_a, team_b])

    assert state.values["priority"] == "high"
    assert state.values["landowner"] == "Village council"
    assert state.review_needed == ()
    [soft] = state.conflicts
    assert soft.kind is ConflictKind.SOFT and not soft.requires_review
    assert soft.update_ids == {"a1", "b1"}
    assert {(a.update_id, a.property_name, a.value) for a in soft.assertions} == {
        ("a1", "priority", "high"),
        ("b1", "landowner", "Village council"),
    }


def test_soft_conflict_closes_once_someone_builds_on_both() -> None:
    team_a = report("a1", "c0", priority="high")
    team_b = report("b1", "c0", landowner="Village council")
    coordinator = report("k1", "a1", "b1", admin_area="Phonsavan")

    result = apply(HAZARD_AREAS, [CREATE, team_a, team_b], coordinator)

    assert result.state.conflicts == ()
    assert [c.kind for c in result.conflicts_closed] == [ConflictKind.SOFT]
    assert result.changed_properties == {"admin_area"}


def test_same_property_gives_hard_conflict_with_every_value_kept() -> None:
    team_a = report("a1", "c0", day=3, source="team A", priority="high")
    team_b = report("b1", "c0", day=5, source="team B", priority="medium")

    state = in_every_order(HAZARD_AREAS, [CREATE, team_a, team_b])

    # The later date of information is shown while the disagreement waits for review.
    assert state.values["priority"] == "medium"
    [hard] = state.review_needed
    assert hard.kind is ConflictKind.HARD and hard.property_name == "priority"
    assert hard.base_value == "low"
    assert hard.provisional_value == "medium"
    assert [(a.update_id, a.value, a.source, a.date_of_information) for a in hard.assertions] == [
        ("a1", "high", "team A", dt.date(2024, 3, 3)),
        ("b1", "medium", "team B", dt.date(2024, 3, 5)),
    ]
    assert state.set_by["priority"] == ("b1",)


def test_hard_conflict_with_equal_dates_is_settled_by_update_id_in_any_order() -> None:
    team_a = report("zz", "c0", day=4, priority="high")
    team_b = report("aa", "c0", day=4, priority="medium")

    state = in_every_order(HAZARD_AREAS, [CREATE, team_a, team_b])

    assert state.values["priority"] == "high"
    assert (
        state.conflicts[0].conflict_id
        == derive(HAZARD_AREAS, [team_b, CREATE, team_a]).conflicts[0].conflict_id
    )


def test_two_teams_agreeing_is_no_conflict() -> None:
    team_a = report("a1", "c0", priority="high")
    team_b = report("b1", "c0", priority="high")

    state = derive(HAZARD_AREAS, [CREATE, team_a, team_b])

    assert state.values["priority"] == "high"
    assert state.conflicts == ()
    assert state.set_by["priority"] == ("a1", "b1")


def clearance_chain() -> list[EntityUpdate]:
    return [
        CREATE,
        report("s1", "c0", day=2, status="confirmed"),
        report("s2", "s1", day=5, status="in_clearance", cleared_area_m2="4000"),
        report("s3", "s2", day=9, status="cleared", cleared_area_m2="12000", remaining_area_m2="0"),
    ]


def test_stale_device_never_moves_a_cleared_area_back() -> None:
    stale = report(
        "old",
        "s3",
        day=10,
        source="tablet 7",
        status="suspected",
        remaining_area_m2="12000",
        contamination_types="cmr uxo",
    )

    state = in_every_order(HAZARD_AREAS, [*clearance_chain(), stale])

    assert state.values["status"] == "cleared"
    # None of its values is applied: the report as a whole contradicts what its author saw.
    assert state.values["remaining_area_m2"] == "0"
    assert state.values["contamination_types"] == "cmr"
    assert state.held_update_ids == {"old"}
    [regression] = state.conflicts
    assert regression.kind is ConflictKind.STATUS_REGRESSION and regression.requires_review
    assert regression.property_name == "status"
    assert regression.base_value == "cleared"
    assert regression.provisional_value == "cleared"
    assert {(a.property_name, a.value, a.base_value) for a in regression.assertions} == {
        ("status", "suspected", "cleared"),
        ("remaining_area_m2", "12000", "0"),
        ("contamination_types", "cmr uxo", "cmr"),
    }
    assert all(a.source == "tablet 7" for a in regression.assertions)


def test_device_that_never_saw_the_clearance_does_not_undo_it() -> None:
    # It resends the status it downloaded: no change, so nothing to merge on status.
    unchanged = report("t1", "c0", day=12, status="suspected", priority="high")
    # It reports a confirmation made before it knew of the clearance: the clearance stays.
    behind = report("t2", "c0", day=12, status="confirmed")

    state = in_every_order(HAZARD_AREAS, [*clearance_chain(), unchanged, behind])

    assert state.values["status"] == "cleared"
    assert state.values["priority"] == "high"
    [hard] = [c for c in state.conflicts if c.property_name == "status"]
    assert hard.kind is ConflictKind.HARD
    assert hard.provisional_value == "cleared"
    assert {(a.update_id, a.value) for a in hard.assertions} == {
        ("s3", "cleared"),
        ("t2", "confirmed"),
    }


def test_moving_back_from_what_the_author_saw_holds_the_report() -> None:
    confirmed = [CREATE, report("s1", "c0", status="confirmed")]
    back = report("t1", "s1", status="suspected", priority="high")

    state = derive(HAZARD_AREAS, [*confirmed, back])

    assert state.values["status"] == "confirmed"
    assert state.values["priority"] == "low"
    assert [c.kind for c in state.conflicts] == [ConflictKind.STATUS_REGRESSION]


def test_forward_skips_are_allowed() -> None:
    state = derive(HAZARD_AREAS, [CREATE, report("s1", "c0", status="cleared")])

    assert state.values["status"] == "cleared"
    assert state.conflicts == ()


def test_offline_chain_arriving_in_reverse_equals_in_order() -> None:
    chain = [
        CREATE,
        report("d1", "c0", day=2, status="confirmed", priority="medium"),
        report("d2", "d1", day=3, status="in_clearance", cleared_area_m2="500"),
        report("d3", "d2", day=4, cleared_area_m2="900", land_use="agriculture"),
    ]
    in_order = derive(HAZARD_AREAS, chain)

    known: list[EntityUpdate] = []
    for update in reversed(chain):
        result = apply(HAZARD_AREAS, known, update)
        known.append(update)
    assert result.state == in_order
    assert in_order.values["cleared_area_m2"] == "900"
    assert in_order.values["status"] == "in_clearance"
    assert in_order.conflicts == ()
    # Before its predecessors arrive, a late update says what it is waiting for.
    assert derive(HAZARD_AREAS, chain[2:]).missing_base_ids == {"d1"}


def test_the_same_update_twice_changes_nothing() -> None:
    update = report("a1", "c0", priority="high")
    first = apply(HAZARD_AREAS, [CREATE], update)

    again = apply(HAZARD_AREAS, [CREATE, update], update, previous=first.state)

    assert again.duplicate and not first.duplicate
    assert again.state == first.state
    assert again.conflicts_opened == again.conflicts_closed == ()
    assert derive(HAZARD_AREAS, [CREATE, update, update, CREATE]) == first.state


def test_same_id_with_other_content_is_refused() -> None:
    update = report("a1", "c0", priority="high")
    changed = report("a1", "c0", priority="medium")

    with pytest.raises(UpdateIdClash):
        apply(HAZARD_AREAS, [CREATE, update], changed)
    with pytest.raises(UpdateIdClash):
        derive(HAZARD_AREAS, [CREATE, update, changed])


def test_reopen_with_reason_moves_status_back() -> None:
    chain = clearance_chain()
    reopen = report(
        "r1",
        "s3",
        day=20,
        kind=UpdateKind.REOPEN,
        source="coordinator",
        reason="BLU-26 found by a farmer inside the cleared area",
        status="suspected",
    )

    result = apply(HAZARD_AREAS, chain, reopen)

    assert result.state.values["status"] == "suspected"
    assert result.state.conflicts == ()
    assert result.changed_properties == {"status"}
    # From there the area moves forward again as usual.
    after = report("s4", "r1", day=21, status="confirmed")
    assert derive(HAZARD_AREAS, [*chain, reopen, after]).values["status"] == "confirmed"


def test_reopen_and_resolution_need_a_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        report("r1", "s3", kind=UpdateKind.REOPEN, status="suspected")
    with pytest.raises(ValueError, match="reason"):
        report("r2", "s3", kind=UpdateKind.RESOLUTION, reason="  ", status="cleared")
    with pytest.raises(ValueError, match="resolve"):
        report("u1", "s3", resolves=("cf-1",), status="cleared")


def test_resolution_without_reopen_cannot_move_status_back() -> None:
    resolution = report(
        "v1", "s3", kind=UpdateKind.RESOLUTION, reason="checked", status="confirmed"
    )

    state = derive(HAZARD_AREAS, [*clearance_chain(), resolution])

    assert state.values["status"] == "cleared"
    assert state.held_update_ids == {"v1"}


def test_reopen_is_shown_over_a_concurrent_field_report_until_reviewed() -> None:
    chain = clearance_chain()
    reopen = report(
        "r1", "s3", day=20, kind=UpdateKind.REOPEN, reason="new evidence", status="suspected"
    )
    handover = report("h1", "s3", day=22, status="handed_over")

    state = in_every_order(HAZARD_AREAS, [*chain, reopen, handover])

    assert state.values["status"] == "suspected"
    [hard] = state.review_needed
    assert hard.update_ids == {"r1", "h1"}


def test_resolution_choosing_the_shown_value_closes_the_conflict() -> None:
    team_a = report("a1", "c0", day=3, priority="high")
    team_b = report("b1", "c0", day=5, priority="medium")
    before = derive(HAZARD_AREAS, [CREATE, team_a, team_b])
    [hard] = before.review_needed
    resolution = report(
        "v1",
        "a1",
        "b1",
        day=6,
        kind=UpdateKind.RESOLUTION,
        source="reviewer",
        reason="confirmed with both team leaders",
        priority="medium",
    )

    result = apply(HAZARD_AREAS, [CREATE, team_a, team_b], resolution)

    assert result.conflicts_closed == (hard,)
    assert result.state.conflicts == ()
    assert result.state.values["priority"] == "medium"
    assert result.state.set_by["priority"] == ("v1",)


def test_a_report_having_seen_both_but_not_touching_the_property_keeps_the_conflict() -> None:
    team_a = report("a1", "c0", day=3, priority="high")
    team_b = report("b1", "c0", day=5, priority="medium")
    later = report("k1", "a1", "b1", day=6, priority="medium", landowner="State")

    state = derive(HAZARD_AREAS, [CREATE, team_a, team_b, later])

    assert [c.property_name for c in state.review_needed] == ["priority"]


def test_resolution_closes_the_status_regression_it_names() -> None:
    stale = report("old", "s3", status="suspected", remaining_area_m2="12000")
    updates = [*clearance_chain(), stale]
    [regression] = derive(HAZARD_AREAS, updates).conflicts

    unnamed = report("v0", "old", kind=UpdateKind.RESOLUTION, reason="looked at it")
    blind = report(
        "v1", "s3", kind=UpdateKind.RESOLUTION, reason="x", resolves=(regression.conflict_id,)
    )
    named = report(
        "v2",
        "old",
        kind=UpdateKind.RESOLUTION,
        reason="stale tablet; the clearance stands",
        resolves=(regression.conflict_id,),
        remaining_area_m2="0",
    )

    assert derive(HAZARD_AREAS, [*updates, unnamed]).conflicts == (regression,)
    # A resolution closes only what its author had seen.
    assert derive(HAZARD_AREAS, [*updates, blind]).conflicts == (regression,)
    result = apply(HAZARD_AREAS, updates, named)
    assert result.state.conflicts == ()
    assert result.conflicts_closed == (regression,)
    assert result.state.values["status"] == "cleared"


def test_set_union_keeps_both_teams_additions() -> None:
    team_a = report("a1", "c0", contamination_types="cmr uxo", land_use="agriculture")
    team_b = report("b1", "c0", contamination_types="cmr ap_mine", land_use="grazing")

    state = in_every_order(HAZARD_AREAS, [CREATE, team_a, team_b])

    assert state.values["contamination_types"] == "ap_mine cmr uxo"
    assert state.values["land_use"] == "agriculture grazing"
    assert state.review_needed == ()


def test_set_union_removal_needs_to_have_seen_the_addition() -> None:
    added = report("a1", "c0", contamination_types="cmr uxo")
    removed_after = report("a2", "a1", contamination_types="uxo")
    removed_concurrently = report("b1", "c0", contamination_types="")

    sequential = derive(HAZARD_AREAS, [CREATE, added, removed_after])
    assert sequential.values["contamination_types"] == "uxo"

    state = in_every_order(HAZARD_AREAS, [CREATE, added, removed_concurrently])
    # b1 removes cmr (which it saw) but not uxo (which it did not see).
    assert state.values["contamination_types"] == "uxo"
    assert state.review_needed == ()


def test_set_union_concurrent_add_and_remove_of_one_item_keeps_it_for_review() -> None:
    found = report("a1", "c0", contamination_types="cmr uxo", source="team A")
    # Team B saw team A's report and removed uxo; team D, not having seen either, found uxo.
    removed = report("b1", "a1", contamination_types="cmr", source="team B")
    found_again = report("d1", "c0", contamination_types="cmr uxo", source="team D")

    state = in_every_order(HAZARD_AREAS, [CREATE, found, removed, found_again])

    assert state.values["contamination_types"] == "cmr uxo"
    [hard] = state.review_needed
    assert hard.property_name == "contamination_types"
    assert hard.update_ids == {"b1", "d1"}
    assert hard.base_value == "cmr"
    assert "'uxo' removed by b1" in hard.reason
    # Without team D's report the removal simply applies.
    assert derive(HAZARD_AREAS, [CREATE, found, removed]).values["contamination_types"] == "cmr"

    settle = report(
        "v1", "b1", "d1", kind=UpdateKind.RESOLUTION, reason="QA visit", contamination_types="cmr"
    )
    settled = derive(HAZARD_AREAS, [CREATE, found, removed, found_again, settle])
    assert settled.values["contamination_types"] == "cmr"
    assert settled.review_needed == ()


def test_monotonic_max_takes_the_largest_and_shows_a_lower_value() -> None:
    grew = report("a1", "c0", day=2, cleared_area_m2="3000")
    lower = report("a2", "a1", day=3, cleared_area_m2="2500", priority="medium")

    state = in_every_order(HAZARD_AREAS, [CREATE, grew, lower])

    assert state.values["cleared_area_m2"] == "3000"
    assert state.values["priority"] == "medium"  # only the lowered total is refused
    [regression] = state.conflicts
    assert regression.kind is ConflictKind.REGRESSION
    assert (regression.property_name, regression.base_value) == ("cleared_area_m2", "3000")
    assert [a.value for a in regression.assertions] == ["2500"]


def test_monotonic_max_concurrent_totals_show_the_largest_and_ask_for_review() -> None:
    team_a = report("a1", "c0", day=2, cleared_area_m2="3000")
    team_b = report("b1", "c0", day=9, cleared_area_m2="1500.0")

    state = in_every_order(HAZARD_AREAS, [CREATE, team_a, team_b])

    assert state.values["cleared_area_m2"] == "3000"
    [hard] = state.review_needed
    assert hard.kind is ConflictKind.HARD and hard.base_value == "0"
    correction = report(
        "v1",
        "a1",
        "b1",
        kind=UpdateKind.RESOLUTION,
        reason="different parts",
        cleared_area_m2="4500",
    )
    assert (
        derive(HAZARD_AREAS, [CREATE, team_a, team_b, correction]).values["cleared_area_m2"]
        == "4500"
    )
    lowered = report(
        "v2", "a1", "b1", kind=UpdateKind.RESOLUTION, reason="typo", cleared_area_m2="1500"
    )
    assert (
        derive(HAZARD_AREAS, [CREATE, team_a, team_b, lowered]).values["cleared_area_m2"] == "1500"
    )


def test_same_number_written_differently_is_no_change() -> None:
    state = derive(HAZARD_AREAS, [CREATE, report("a1", "c0", cleared_area_m2="0.0")])

    assert state.values["cleared_area_m2"] == "0"
    assert state.set_by["cleared_area_m2"] == ("c0",)


def test_invalid_values_are_kept_as_conflicts_and_the_rest_applies() -> None:
    update = report(
        "a1",
        "c0",
        source="tablet 3",
        priority="urgent",
        cleared_area_m2="about 300",
        colour="red",
        landowner="Mr K.",
    )

    state = derive(HAZARD_AREAS, [CREATE, update])

    assert state.values["landowner"] == "Mr K."
    assert state.values["priority"] == "low"
    invalid = {c.property_name: c for c in conflicts_of(state, ConflictKind.INVALID)}
    assert set(invalid) == {"priority", "cleared_area_m2", "colour"}
    assert "not a property" in invalid["colour"].reason
    assert "not a number" in invalid["cleared_area_m2"].reason
    assert invalid["priority"].assertions[0].value == "urgent"
    assert all(c.requires_review for c in invalid.values())


def test_latest_dates_need_no_review() -> None:
    team_a = report("a1", "c0", date_of_information="2024-03-04", priority="high")
    team_b = report("b1", "c0", date_of_information="2024-03-02", landowner="State")

    state = in_every_order(HAZARD_AREAS, [CREATE, team_a, team_b])

    assert state.values["date_of_information"] == "2024-03-04"
    assert state.review_needed == ()
    [dates] = [c for c in state.conflicts if c.property_name == "date_of_information"]
    assert dates.kind is ConflictKind.SOFT
    assert {a.value for a in dates.assertions} == {"2024-03-04", "2024-03-02"}


def test_consent_disagreement_shows_consent_withheld() -> None:
    create = report("s0", kind=UpdateKind.CREATE, survivor_code="SV-0012")
    withdrawn = report("f1", "s0", day=2, consent_sharing="no")
    confirmed = report("f2", "s0", day=9, consent_sharing="yes", needs="prosthesis")

    state = in_every_order(SURVIVORS, [create, withdrawn, confirmed])

    assert state.values["consent_sharing"] == "no"
    assert [c.property_name for c in state.review_needed] == ["consent_sharing"]


def test_list_without_declarations_merges_everything_three_way() -> None:
    policies = POLICIES.for_list("eore_sessions")
    create = report("e0", kind=UpdateKind.CREATE, village="Ban Na", attendees="40")
    team_a = report("e1", "e0", attendees="42")
    team_b = report("e2", "e0", attendees="38")

    state = derive(policies, [create, team_a, team_b])

    assert state.values["village"] == "Ban Na"
    assert [c.kind for c in state.conflicts] == [ConflictKind.HARD]


def test_datetimes_and_dates_order_together() -> None:
    aware = EntityUpdate(
        "a1",
        base_ids=frozenset({"c0"}),
        values={"priority": "high"},
        date_of_information=dt.datetime(2024, 3, 5, 8, tzinfo=dt.timezone(dt.timedelta(hours=7))),
    )
    plain = EntityUpdate(
        "b1",
        base_ids=frozenset({"c0"}),
        values={"priority": "medium"},
        date_of_information=dt.date(2024, 3, 5),
    )

    # 08:00 at UTC+7 is 01:00 UTC, after midnight of the plain date.
    assert derive(HAZARD_AREAS, [CREATE, aware, plain]).values["priority"] == "high"


def test_causal_cycle_is_refused() -> None:
    first = report("x1", "x2", priority="high")
    second = report("x2", "x1", priority="low")

    with pytest.raises(CausalCycleError):
        derive(HAZARD_AREAS, [first, second])
    with pytest.raises(ValueError, match="itself"):
        report("x3", "x3")


def test_apply_reports_what_an_arrival_opened() -> None:
    team_a = report("a1", "c0", day=3, priority="high")
    team_b = report("b1", "c0", day=5, priority="medium")

    result = apply(HAZARD_AREAS, [CREATE, team_a], team_b)

    assert [c.kind for c in result.conflicts_opened] == [ConflictKind.HARD]
    assert result.conflicts_closed == ()
    assert result.changed_properties == {"priority"}
    assert result.state == derive(HAZARD_AREAS, [team_b, team_a, CREATE])
