"""The policy file: the bundled one loads, malformed declarations fail with a clear message,
and properties or lists that are not declared get the defaults.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from server.entities.policies import (
    LABEL,
    ListPolicy,
    MergePolicy,
    PolicyError,
    PropertyPolicy,
    ValueType,
    load_policies,
    loads_policies,
)

POLICY_FILE = Path(__file__).resolve().parents[2] / "forms" / "entity_policies.toml"

HAZARD_PROPERTIES = {
    "ha_code",
    "hazard_type",
    "status",
    "contamination_types",
    "evidence",
    "estimated_area_m2",
    "remaining_area_m2",
    "cleared_area_m2",
    "land_use",
    "blockages",
    "priority",
    "landowner",
    "admin_area",
    "date_of_information",
    # Form library v2: land release that adds up, marking, places by P-code, geometry.
    "cancelled_area_m2",
    "reduced_area_m2",
    "marking_status",
    "marking_type",
    "landowner_type",
    "admin1_pcode",
    "admin2_pcode",
    "admin3_pcode",
    "village",
    "benchmark",
    "perimeter",
    "cancelled_shape",
    "reduced_shape",
    "cleared_shape",
}
SURVIVOR_PROPERTIES = {
    "survivor_code",
    "sex",
    "year_of_birth",
    "admin_area",
    "admin1_pcode",
    "admin2_pcode",
    "admin3_pcode",
    "village",
    "open_referrals",
    "open_referral_needs",
    "case_status",
    "next_followup_date",
    "disability_status",
    "needs",
    "referral_status",
    "consent_followup",
    "consent_sharing",
    "last_contact_date",
    "date_of_information",
}


def test_bundled_file_declares_every_shared_property() -> None:
    policies = load_policies(POLICY_FILE)

    assert set(policies.lists) == {"hazard_areas", "survivors"}
    assert set(policies.lists["hazard_areas"].properties) == HAZARD_PROPERTIES
    assert set(policies.lists["survivors"].properties) == SURVIVOR_PROPERTIES


def test_bundled_hazard_policies() -> None:
    hazard_areas = load_policies(POLICY_FILE).for_list("hazard_areas")
    props = hazard_areas.properties

    assert props["status"].policy is MergePolicy.STATE_MACHINE
    assert props["cleared_area_m2"].policy is MergePolicy.MONOTONIC_MAX
    assert props["remaining_area_m2"].policy is MergePolicy.THREE_WAY
    assert props["date_of_information"].policy is MergePolicy.LATEST
    for name in ("contamination_types", "land_use", "blockages"):
        assert props[name].policy is MergePolicy.SET_UNION
        assert props[name].value_type is ValueType.SELECT_MULTIPLE
    assert props["contamination_types"].choices == ("ap_mine", "at_mine", "cmr", "uxo", "ao", "ied")
    # Declared without a policy: the default.
    assert props["priority"].policy is MergePolicy.THREE_WAY


def test_bundled_status_moves_forward_only() -> None:
    status = load_policies(POLICY_FILE).for_list("hazard_areas").properties["status"]

    assert set(status.choices) == {
        "suspected",
        "confirmed",
        "in_clearance",
        "cleared",
        "handed_over",
        "cancelled",
        "reduced",
    }
    for old, new in [
        ("suspected", "confirmed"),
        ("confirmed", "in_clearance"),
        ("in_clearance", "reduced"),
        ("reduced", "in_clearance"),
        ("in_clearance", "cleared"),
        ("cleared", "handed_over"),
        ("suspected", "cleared"),  # a chain of steps in one report
        ("suspected", "cancelled"),
        ("cleared", "cleared"),
        (None, "cleared"),
    ]:
        assert status.allows(old, new), (old, new)
    for old, new in [
        ("cleared", "suspected"),
        ("handed_over", "cleared"),
        ("cleared", "in_clearance"),
        ("cancelled", "confirmed"),
        ("cleared", "cancelled"),
        ("confirmed", "suspected"),
    ]:
        assert not status.allows(old, new), (old, new)
    assert status.rank("handed_over") > status.rank("cleared") > status.rank("suspected")
    assert status.rank("cleared") == status.rank("cancelled")


def test_value_checks() -> None:
    hazard_areas = load_policies(POLICY_FILE).for_list("hazard_areas")

    def problem(name: str, value: str) -> str | None:
        policy = hazard_areas.policy_for(name)
        assert policy is not None
        return policy.problem(value)

    assert problem("cleared_area_m2", "1250.5") is None
    assert problem("cleared_area_m2", "1,250") is not None
    assert problem("cleared_area_m2", "") is not None  # a running total cannot be blank
    assert problem("estimated_area_m2", "") is None  # a plain number can be left blank
    assert problem("status", "destroyed") is not None
    assert problem("contamination_types", "cmr uxo") is None
    assert problem("contamination_types", "cmr mortar") is not None
    assert problem("date_of_information", "2024-02-30") is not None
    assert problem("date_of_information", "2024-02-29") is None
    assert problem("landowner", "anything at all") is None
    survivors = load_policies(POLICY_FILE).for_list("survivors")
    year = survivors.policy_for("year_of_birth")
    assert year is not None
    assert year.problem("1987") is None
    assert year.problem("1987.5") is not None


def test_multi_select_values_compare_as_sets_and_join_in_choice_order() -> None:
    policy = load_policies(POLICY_FILE).for_list("hazard_areas").properties["land_use"]

    assert policy.same("grazing agriculture", "agriculture grazing")
    assert policy.same(None, "")
    assert policy.join({"other", "agriculture", "housing"}) == "agriculture housing other"


def test_numbers_compare_by_value() -> None:
    policy = PropertyPolicy("area", value_type=ValueType.DECIMAL)

    assert policy.same("1500", "1500.00")
    assert not policy.same("1500", "1501")
    assert not policy.same(None, "0")


def test_undeclared_and_unknown_properties() -> None:
    hazard_areas = load_policies(POLICY_FILE).for_list("hazard_areas")

    assert hazard_areas.policy_for("colour") is None
    label = hazard_areas.policy_for(LABEL)
    assert label is not None and label.policy is MergePolicy.THREE_WAY


def test_lists_not_in_the_file_get_three_way_for_everything() -> None:
    policies = load_policies(POLICY_FILE)

    anything = policies.for_list("eore_sessions")
    declared = policies.for_list("accidents", declared_properties=["place", "device"])

    village = anything.policy_for("village")
    assert village is not None and village.policy is MergePolicy.THREE_WAY
    place = declared.policy_for("place")
    assert place is not None and place.value_type is ValueType.TEXT
    assert declared.policy_for("village") is None
    # A declared list is used as declared, whatever the form says.
    assert policies.for_list("hazard_areas", ["colour"]).policy_for("colour") is None


def test_accept_undeclared_opens_a_list() -> None:
    policies = loads_policies(
        """
        [devices]
        accept_undeclared = true
        [devices.quantity]
        type = "integer"
        """
    )
    devices = policies.for_list("devices")

    colour = devices.policy_for("colour")
    assert colour is not None and colour.value_type is ValueType.TEXT
    quantity = devices.policy_for("quantity")
    assert quantity is not None and quantity.value_type is ValueType.INTEGER


STATE_MACHINE = """
[areas.status]
policy = "state_machine"
stages = [["open"], ["closed"]]
[areas.status.transitions]
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[areas.size]\npolicy = "biggest_wins"\n', "unknown policy: 'biggest_wins'"),
        (STATE_MACHINE + 'open = ["archived"]\n', "undeclared state 'archived'"),
        (STATE_MACHINE + 'archived = ["open"]\n', "undeclared state 'archived'"),
        (STATE_MACHINE + 'closed = ["open"]\n', "earlier stage"),
        ('[areas.size]\ntype = "number"\n', "'number'"),
        ('[areas.kind]\ntype = "select_one"\n', "needs a list of choices"),
        ('[areas.size]\npolicy = "monotonic_max"\ntype = "text"\n', "cannot merge type text"),
        ('[areas.tags]\npolicy = "set_union"\ntype = "integer"\n', "cannot merge type integer"),
        ('[areas.size]\npolcy = "three_way"\n', "unknown keys \\['polcy'\\]"),
        ('[areas.kind]\ntype = "select_one"\nchoices = ["a", "a"]\n', "listed twice"),
        ('[areas.kind]\ntype = "select_one"\nchoices = ["a b"]\n', "spaces"),
        ('[areas.kind]\nprefer = ["x"]\npolicy = "latest"\ntype = "date"\n', "only for"),
        ('[areas.status]\npolicy = "state_machine"\n', "needs stages"),
        (
            '[areas.status]\npolicy = "state_machine"\nstages = [["a"], ["a"]]\n',
            "more than one stage",
        ),
        ('[areas.size]\nstages = [["a"]]\n', "need policy state_machine"),
        ("[areas]\nowner = 'me'\n", "unknown list option"),
        ("format = 2\n", "format 2"),
        ("[areas.size\n", "not valid TOML"),
    ],
)
def test_malformed_declarations_are_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        loads_policies(text)


def test_error_names_the_list_and_property(tmp_path: Path) -> None:
    path = tmp_path / "entity_policies.toml"
    path.write_text(
        '[hazard_areas.status]\npolicy = "state_machine"\nstages = [["x"]]\n'
        '[hazard_areas.status.transitions]\nx = ["y"]\n'
    )

    with pytest.raises(PolicyError) as error:
        load_policies(path)

    assert "hazard_areas.status" in str(error.value)
    assert str(path) in str(error.value)


def test_list_keys_must_match_property_names() -> None:
    with pytest.raises(PolicyError):
        ListPolicy("areas", {"size": PropertyPolicy("area")})
