"""Conflicts of the pure merge core in detail: their ids (stored in the database, so pinned
here to exact values), what they show meanwhile, the common past they name, their reasons, and
which decisions close them.
"""

from __future__ import annotations

import hashlib

from server.entities.merge import (
    Conflict,
    ConflictKind,
    EntityState,
    EntityUpdate,
    UpdateKind,
    apply,
    derive,
)
from tests.entities.test_merge import CREATE, HAZARD_AREAS, clearance_chain, in_every_order, report


def by_property(state: EntityState) -> dict[str | None, Conflict]:
    conflicts = {c.property_name: c for c in state.conflicts}
    assert len(conflicts) == len(state.conflicts), state.conflicts
    return conflicts


def resolution(
    update_id: str, *seen: str, resolves: tuple[str, ...] = (), **values: str
) -> EntityUpdate:
    return report(
        update_id,
        *seen,
        day=20,
        kind=UpdateKind.RESOLUTION,
        source="reviewer",
        reason="asked the team leader",
        resolves=resolves,
        **values,
    )


# -- ids --------------------------------------------------------------------------------------


def test_each_invalid_value_of_one_update_has_its_own_conflict() -> None:
    update = report("a1", "c0", priority="urgent", cleared_area_m2="about 300", hazard_type="big")
    updates = [CREATE, update]

    state = derive(HAZARD_AREAS, updates)

    invalid = by_property(state)
    assert {n: c.conflict_id for n, c in invalid.items()} == {
        "cleared_area_m2": "cf-14337b4c43168b825172",
        "hazard_type": "cf-4f79b0fc82df43cc40b4",
        "priority": "cf-9d3819072e26dedfcb94",
    }
    assert all(c.kind is ConflictKind.INVALID for c in invalid.values())
    assert {n: (c.base_value, c.provisional_value) for n, c in invalid.items()} == {
        "cleared_area_m2": ("0", "0"),
        "hazard_type": (None, None),
        "priority": ("low", "low"),
    }
    assert [(a.property_name, a.value) for a in invalid["priority"].assertions] == [
        ("priority", "urgent")
    ]
    assert invalid["hazard_type"].reason == (
        "hazard_type: 'big' is not one of the choices ['sha', 'cha']"
    )
    # Resolving any one of them, first, middle or last, leaves the others open.
    for name, conflict in invalid.items():
        result = apply(
            HAZARD_AREAS, updates, resolution("v1", "a1", resolves=(conflict.conflict_id,))
        )
        assert result.conflicts_closed == (conflict,), name
        assert set(by_property(result.state)) == set(invalid) - {name}
        assert result.state.conflict(conflict.conflict_id) is None
    # Two of three: the third stays.
    both = resolution(
        "v2",
        "a1",
        resolves=(invalid["cleared_area_m2"].conflict_id, invalid["hazard_type"].conflict_id),
    )
    assert derive(HAZARD_AREAS, [*updates, both]).conflicts == (invalid["priority"],)


def test_conflict_ids_are_pinned_for_every_kind() -> None:
    # Hard and soft (latest) disagreements on one property each.
    team_a = report("a1", "c0", day=3, priority="high", date_of_information="2024-03-03")
    team_b = report("b1", "c0", day=5, priority="medium", date_of_information="2024-03-05")
    state = in_every_order(HAZARD_AREAS, [CREATE, team_a, team_b])
    conflicts = by_property(state)
    assert {n: (c.kind, c.conflict_id) for n, c in conflicts.items()} == {
        "priority": (ConflictKind.HARD, "cf-491f2dd16db099bed626"),
        "date_of_information": (ConflictKind.SOFT, "cf-127ab6097b16ff4051b6"),
    }

    # A soft conflict over several properties has no property name in its id.
    team_a = report("a1", "c0", day=3, priority="high")
    team_b = report("b1", "c0", day=2, landowner="Village council")
    [soft] = in_every_order(HAZARD_AREAS, [CREATE, team_a, team_b]).conflicts
    assert (soft.kind, soft.property_name, soft.conflict_id) == (
        ConflictKind.SOFT,
        None,
        "cf-1a09fc240a1a9112c933",
    )

    # A report held for moving the status back.
    stale = report("old", "s3", status="suspected", remaining_area_m2="12000")
    [held] = derive(HAZARD_AREAS, [*clearance_chain(), stale]).conflicts
    assert (held.kind, held.conflict_id) == (
        ConflictKind.STATUS_REGRESSION,
        "cf-89873c0335d82e892a1e",
    )

    # A lowered running total.
    grew = report("a1", "c0", day=2, cleared_area_m2="3000")
    lower = report("a2", "a1", day=3, cleared_area_m2="2500")
    [regression] = derive(HAZARD_AREAS, [CREATE, grew, lower]).conflicts
    assert (regression.kind, regression.conflict_id) == (
        ConflictKind.REGRESSION,
        "cf-d0b3820897370cb7e4d0",
    )


def test_a_conflict_id_is_a_digest_of_kind_property_and_updates() -> None:
    # The recipe, for anyone who must recompute stored ids: sha256 over the kind, the property
    # (empty for a soft conflict over several) and the sorted update ids, joined by U+001F.
    text = "\x1f".join(["hard", "priority", "a1", "b1"])
    expected = "cf-" + hashlib.sha256(text.encode()).hexdigest()[:20]
    team_a = report("b1", "c0", day=3, priority="high")
    team_b = report("a1", "c0", day=5, priority="medium")

    [hard] = derive(HAZARD_AREAS, [CREATE, team_a, team_b]).conflicts

    assert hard.conflict_id == expected == "cf-491f2dd16db099bed626"


def test_set_conflict_id_value_shown_and_reason() -> None:
    found = report("a1", "c0", contamination_types="cmr uxo", source="team A")
    removed = report("b1", "a1", contamination_types="cmr", source="team B")
    found_again = report("d1", "c0", contamination_types="cmr uxo", source="team D")

    [hard] = in_every_order(HAZARD_AREAS, [CREATE, found, removed, found_again]).conflicts

    assert hard.conflict_id == "cf-dfede26b496a12b1044e"
    assert hard.kind is ConflictKind.HARD and hard.property_name == "contamination_types"
    assert (hard.base_value, hard.provisional_value) == ("cmr", "cmr uxo")
    assert [(a.update_id, a.value, a.base_value, a.source) for a in hard.assertions] == [
        ("b1", "cmr", "cmr uxo", "team B"),
        ("d1", "cmr uxo", "cmr", "team D"),
    ]
    assert hard.reason == "'uxo' removed by b1 but added at the same time by d1; it is kept"


def test_set_conflict_over_several_members_lists_them_in_the_order_shown() -> None:
    # Four members: their order in the reason must not follow set order, which changes with
    # the hash seed from one process to the next.
    everything = "access_road water_source school farmland"
    added = report("a1", "c0", day=2, blockages=everything)
    cleared = report("b1", "a1", day=3, blockages="")
    reduced = report("e1", "a1", day=3, blockages="access_road")
    found = report("d1", "c0", day=4, blockages=everything)
    school = report("f1", "c0", day=4, blockages="school")

    state = in_every_order(HAZARD_AREAS, [CREATE, added, cleared, reduced, found, school])

    assert state.values["blockages"] == everything
    assert state.set_by["blockages"] == ("d1", "f1")
    [hard] = state.conflicts
    assert hard.conflict_id == "cf-6a96c30a8f44528ad678"
    assert hard.update_ids == {"b1", "d1", "e1", "f1"}
    # Nobody in the common past (the create) had set blockages.
    assert (hard.base_value, hard.provisional_value) == (None, everything)
    assert hard.reason == (
        "'access_road' removed by b1 but added at the same time by d1; it is kept; "
        "'water_source' removed by b1, e1 but added at the same time by d1; it is kept; "
        "'school' removed by b1, e1 but added at the same time by d1, f1; it is kept; "
        "'farmland' removed by b1, e1 but added at the same time by d1; it is kept"
    )


# -- what a conflict shows --------------------------------------------------------------------


def test_disagreements_show_the_value_shown_and_say_why() -> None:
    team_a = report("a1", "c0", day=3, priority="high", date_of_information="2024-03-03")
    team_b = report("b1", "c0", day=5, priority="medium", date_of_information="2024-03-05")

    conflicts = by_property(derive(HAZARD_AREAS, [CREATE, team_a, team_b]))

    hard, soft = conflicts["priority"], conflicts["date_of_information"]
    assert hard.reason == "updates made without seeing each other set different values"
    assert (hard.base_value, hard.provisional_value) == ("low", "medium")
    assert soft.reason == "concurrent reports give different values; the latest is shown"
    assert (soft.base_value, soft.provisional_value) == (None, "2024-03-05")
    assert not soft.requires_review and hard.requires_review


def test_soft_conflict_over_several_properties_shows_every_change() -> None:
    team_a = report("a1", "c0", day=3, source="team A", priority="high")
    team_b = report("b1", "c0", day=2, source="team B", landowner="Village council")

    [soft] = derive(HAZARD_AREAS, [CREATE, team_a, team_b]).conflicts

    assert (soft.base_value, soft.provisional_value) == (None, None)
    assert [(a.update_id, a.property_name, a.value, a.base_value) for a in soft.assertions] == [
        ("a1", "priority", "high", "low"),
        ("b1", "landowner", "Village council", None),
    ]
    assert soft.reason == (
        "updates made without seeing each other changed different properties; "
        "all changes were applied"
    )


def test_set_conflict_whose_common_past_holds_a_report_that_left_the_set_alone() -> None:
    found = report("a1", "c0", day=2, contamination_types="cmr uxo")
    priority = report("p1", "c0", day=2, priority="high")  # sets no contamination type
    removed = report("b1", "a1", "p1", day=3, contamination_types="cmr")
    found_again = report("d1", "p1", day=4, contamination_types="cmr uxo")

    state = in_every_order(HAZARD_AREAS, [CREATE, found, priority, removed, found_again])

    assert state.values["contamination_types"] == "cmr uxo"
    assert state.values["priority"] == "high"
    [hard] = state.conflicts
    assert hard.update_ids == {"b1", "d1"}
    assert hard.base_value == "cmr"  # what c0 and p1 show together


def test_set_conflict_built_after_a_removal_has_the_removal_in_its_base() -> None:
    removed = report("r1", "c0", day=2, contamination_types="")
    added = report("b1", "r1", day=3, contamination_types="uxo")
    removed_again = report("b2", "b1", day=4, contamination_types="")
    added_concurrently = report("d1", "r1", day=5, contamination_types="uxo")

    state = in_every_order(
        HAZARD_AREAS, [CREATE, removed, added, removed_again, added_concurrently]
    )

    [hard] = state.conflicts
    assert hard.update_ids == {"b2", "d1"}
    # cmr was removed by r1, which both had seen: the common base no longer holds it.
    assert (hard.base_value, hard.provisional_value) == ("", "uxo")


def test_conflict_built_on_an_unresolved_one_has_the_value_then_shown_as_base() -> None:
    # The create carries the latest date, so only the causal order keeps it out of the base.
    create = report("c0", kind=UpdateKind.CREATE, day=20, label="HA-1", priority="low")
    team_a = report("a1", "c0", day=3, priority="high")
    team_b = report("b1", "c0", day=5, priority="medium")
    after_a = report("a2", "a1", "b1", day=6, priority="low")
    after_k = report("k1", "a1", "b1", day=7, priority="high")

    state = in_every_order(HAZARD_AREAS, [create, team_a, team_b, after_a, after_k])

    [hard] = state.conflicts
    assert hard.update_ids == {"a2", "k1"}
    # a1 and b1 disagreed; b1 (the later report) was shown to both authors.
    assert hard.base_value == "medium"
    assert [a.base_value for a in hard.assertions] == ["medium", "medium"]
    assert hard.provisional_value == state.values["priority"] == "high"


# -- which decisions close a conflict ---------------------------------------------------------


def test_a_held_resolution_does_not_close_the_conflicts_it_names() -> None:
    invalid = report("x1", "s3", day=10, priority="urgent")
    updates = [*clearance_chain(), invalid]
    [conflict] = derive(HAZARD_AREAS, updates).conflicts
    # It names the conflict, had seen it, but would move the status back without a reopen.
    backwards = resolution("v1", "x1", resolves=(conflict.conflict_id,), status="confirmed")

    result = apply(HAZARD_AREAS, updates, backwards)

    assert result.state.held_update_ids == {"v1"}
    assert result.conflicts_closed == ()
    assert result.state.conflict(conflict.conflict_id) == conflict
    [held] = result.conflicts_opened
    assert held.kind is ConflictKind.STATUS_REGRESSION and held.update_ids == {"v1"}
    assert result.state.values["status"] == "cleared"
    # The same decision without the status closes it.
    plain = resolution("v2", "x1", resolves=(conflict.conflict_id,))
    assert apply(HAZARD_AREAS, updates, plain).conflicts_closed == (conflict,)


def test_a_reopen_can_close_what_it_names() -> None:
    invalid = report("x1", "s3", day=10, priority="urgent")
    updates = [*clearance_chain(), invalid]
    [conflict] = derive(HAZARD_AREAS, updates).conflicts
    reopen = report(
        "r1",
        "x1",
        day=20,
        kind=UpdateKind.REOPEN,
        reason="device found inside",
        resolves=(conflict.conflict_id,),
        status="suspected",
    )

    result = apply(HAZARD_AREAS, updates, reopen)

    assert result.conflicts_closed == (conflict,)
    assert result.state.conflicts == ()
    assert result.state.values["status"] == "suspected"


def test_state_finds_a_conflict_by_id() -> None:
    team_a = report("a1", "c0", day=3, priority="high", date_of_information="2024-03-03")
    team_b = report("b1", "c0", day=5, priority="medium", date_of_information="2024-03-05")
    state = derive(HAZARD_AREAS, [CREATE, team_a, team_b])

    for conflict in state.conflicts:
        assert state.conflict(conflict.conflict_id) is conflict
    assert state.conflict("cf-00000000000000000000") is None
    assert [c.property_name for c in state.review_needed] == ["priority"]
