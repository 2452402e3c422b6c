"""The policy file: the bundled one loads, malformed declarations fail with a clear message,
and properties or lists that are not declared get the defaults.
"""

from __future__ import annotations

from decimal import Decimal
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
    parse_policies,
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


def test_monotonic_min_only_shrinks() -> None:
    # Declared in the policy file's guide for a quantity that only shrinks; no bundled list
    # uses it yet, so it is pinned here.
    policy = (
        loads_policies('[areas.remaining]\npolicy = "monotonic_min"\ntype = "decimal"\n')
        .for_list("areas")
        .properties["remaining"]
    )

    assert policy.policy is MergePolicy.MONOTONIC_MIN
    assert policy.problem("") == "remaining: a blank value is not allowed"
    assert policy.problem("120.5") is None
    assert policy.goes_back("100", "150")
    assert not policy.goes_back("100", "50")
    assert not policy.goes_back("100", "100.0")
    # The smaller of concurrent values is shown first.
    assert policy.order_key("50") > policy.order_key("100")
    assert policy.order_key("-1") > policy.order_key("0")


def test_monotonic_max_only_grows() -> None:
    policy = PropertyPolicy("cleared", MergePolicy.MONOTONIC_MAX, ValueType.INTEGER)

    assert policy.goes_back("100", "50")
    assert not policy.goes_back("100", "150")
    assert not policy.goes_back("100", "100")
    assert policy.order_key("150") > policy.order_key("100")
    # Not numbers (never accepted, so never a base): no move is called a regression.
    assert not policy.goes_back("", "5")
    assert not policy.goes_back("5", "x")


def test_only_monotonic_policies_go_back() -> None:
    for policy in (
        PropertyPolicy("total", MergePolicy.THREE_WAY, ValueType.DECIMAL),
        PropertyPolicy("total", MergePolicy.LATEST, ValueType.DECIMAL),
    ):
        assert not policy.goes_back("100", "50")
        assert not policy.goes_back("50", "100")


def test_latest_numbers_allow_a_blank_and_rank_it_lowest() -> None:
    policy = PropertyPolicy("count", MergePolicy.LATEST, ValueType.INTEGER)

    assert policy.problem("") is None
    assert policy.order_key("") == (Decimal("-Infinity"),)
    assert policy.order_key("-5") > policy.order_key("")
    assert policy.order_key("10") > policy.order_key("9")  # by value, not as text
    dates = PropertyPolicy("seen", MergePolicy.LATEST, ValueType.DATE)
    assert dates.order_key("2024-03-04") > dates.order_key("2024-03-02")


def test_blank_is_refused_only_for_statuses_and_running_totals() -> None:
    status = PropertyPolicy(
        "status", MergePolicy.STATE_MACHINE, ValueType.SELECT_ONE, stages=(("a",), ("b",))
    )

    assert status.problem("") == "status: a blank value is not allowed"
    for policy in (
        PropertyPolicy("note"),
        PropertyPolicy("size", value_type=ValueType.DECIMAL),
        PropertyPolicy("kind", value_type=ValueType.SELECT_ONE, choices=("x",)),
        PropertyPolicy("seen", MergePolicy.LATEST, ValueType.DATE),
    ):
        assert policy.problem("") is None, policy.name


def test_value_problems_name_the_property_and_the_value() -> None:
    count = PropertyPolicy("count", value_type=ValueType.INTEGER)
    size = PropertyPolicy("size", value_type=ValueType.DECIMAL)
    seen = PropertyPolicy("seen", value_type=ValueType.DATE)
    kind = PropertyPolicy("kind", value_type=ValueType.SELECT_ONE, choices=("sha", "cha"))
    tags = PropertyPolicy("tags", value_type=ValueType.SELECT_MULTIPLE, choices=("a", "b"))

    assert count.problem(12) == "count: value is not text"  # type: ignore[arg-type]
    assert count.problem("1.5") == "count: '1.5' is not a whole number"
    assert count.problem("-3") is None
    assert size.problem("1e3") == "size: '1e3' is not a number"
    assert size.problem("-.5") is None and size.problem("7.") is None
    assert seen.problem("2024-13-01") == "seen: '2024-13-01' is not a date (YYYY-MM-DD)"
    assert kind.problem("tha") == "kind: 'tha' is not one of the choices ['sha', 'cha']"
    assert tags.problem("b z y") == "tags: ['y', 'z'] not among the choices ['a', 'b']"
    assert tags.problem("b a") is None


@pytest.mark.parametrize("value", ["5/3/2024", "2024-3-5", "20240305", "2024-03-05T10:00", "x"])
def test_dates_must_be_iso(value: str) -> None:
    seen = PropertyPolicy("seen", MergePolicy.LATEST, ValueType.DATE)

    assert seen.problem(value) == f"seen: {value!r} is not a date (YYYY-MM-DD)"


def test_text_that_looks_like_a_number_is_compared_as_text() -> None:
    code = PropertyPolicy("code")
    size = PropertyPolicy("size", value_type=ValueType.DECIMAL)

    assert not code.same("1.0", "1")
    assert not code.same("007", "7")
    assert code.same("007", "007")
    assert size.same("007", "7") and size.same("1.0", "1")
    assert not size.same("", "0")
    assert size.same("", "")
    assert code.same(None, None)
    assert not code.same(None, "") and not code.same("", None)


def test_prefer_ranks_its_entries_in_order_before_the_rest() -> None:
    policy = PropertyPolicy(
        "consent",
        value_type=ValueType.SELECT_ONE,
        choices=("yes", "no", "unknown"),
        prefer=("no", "unknown"),
    )

    assert policy.order_key("no") > policy.order_key("unknown") > policy.order_key("yes")
    assert policy.order_key("yes") == (0,)
    # Without prefer, three_way leaves the choice to the date of information.
    assert PropertyPolicy("note").order_key("anything") == ()
    # On free text, prefer may name any value.
    text = PropertyPolicy("answer", prefer=("refused", "unknown"))
    assert text.order_key("refused") == (2,) and text.order_key("unknown") == (1,)


def test_prefer_must_name_declared_choices() -> None:
    with pytest.raises(PolicyError) as error:
        loads_policies(
            '[people.consent]\ntype = "select_one"\nchoices = ["yes", "no"]\n'
            'prefer = ["no", "maybe"]\n'
        )

    assert str(error.value) == (
        "<policies>: people.consent: property 'consent': prefer names undeclared choices ['maybe']"
    )


def test_state_machine_with_explicit_choices_keeps_their_order() -> None:
    policy = (
        loads_policies(
            '[areas.status]\npolicy = "state_machine"\nchoices = ["closed", "open"]\n'
            'stages = [["open"], ["closed"]]\n[areas.status.transitions]\nopen = ["closed"]\n'
        )
        .for_list("areas")
        .properties["status"]
    )

    assert policy.choices == ("closed", "open")
    assert policy.value_type is ValueType.SELECT_ONE
    assert policy.allows("open", "closed") and not policy.allows("closed", "open")
    assert (policy.rank("open"), policy.rank("closed"), policy.rank("lost")) == (0, 1, -1)
    with pytest.raises(PolicyError, match="choices and the states in stages differ"):
        PropertyPolicy(
            "status",
            MergePolicy.STATE_MACHINE,
            ValueType.SELECT_ONE,
            choices=("open",),
            stages=(("open",), ("shut",)),
        )


def test_state_machine_choices_default_to_the_states_in_stage_order() -> None:
    policy = PropertyPolicy(
        "status",
        MergePolicy.STATE_MACHINE,
        ValueType.SELECT_ONE,
        stages=(("new",), ("open", "held"), ("done",)),
        transitions={"new": ["open", "held"], "open": ["done"], "held": ["done"]},
    )

    assert policy.choices == ("new", "open", "held", "done")
    assert policy.transitions == {
        "new": frozenset({"open", "held"}),
        "open": frozenset({"done"}),
        "held": frozenset({"done"}),
    }
    # A chain of steps is a forward move; a state of the same stage without a step is not.
    assert policy.allows("new", "done")
    assert not policy.allows("open", "held")
    assert not policy.allows("done", "new")
    assert policy.allows(None, "held")
    assert policy.problem("held") is None and policy.problem("lost") is not None


def test_non_state_machines_allow_any_move() -> None:
    policy = PropertyPolicy("kind", value_type=ValueType.SELECT_ONE, choices=("a", "b"))

    assert policy.allows("b", "a") and policy.allows(None, "a")
    assert policy.transitions == {}
    assert policy.rank("a") == -1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("areas = 3\n", "<policies>: 'areas' must be a table named after an entity list"),
        (
            '["my areas".size]\ntype = "text"\n',
            "<policies>: 'my areas' must be a table named after an entity list",
        ),
        (
            '[areas."size m2"]\ntype = "text"\n',
            "<policies>: areas.size m2: property 'size m2': not a valid property name",
        ),
        (
            '[areas."2nd"]\ntype = "text"\n',
            "<policies>: areas.2nd: property '2nd': not a valid property name",
        ),
        (
            "[areas]\naccept_undeclared = 'yes'\n",
            "<policies>: areas.accept_undeclared must be true or false",
        ),
        (
            '[areas.kind]\ntype = "select_one"\nchoices = "a b"\n',
            "<policies>: areas.kind: choices: expected a list",
        ),
        (
            '[areas.kind]\ntype = "select_one"\nchoices = ["a", 2]\n',
            "<policies>: areas.kind: choices: expected a list of names",
        ),
        (
            '[areas.status]\npolicy = "state_machine"\nstages = ["a"]\n',
            "<policies>: areas.status: stages: expected a list",
        ),
        (
            '[areas.status]\npolicy = "state_machine"\nstages = [["a"]]\ntransitions = 1\n',
            "<policies>: areas.status: transitions must be a table of state = [next states]",
        ),
        (
            '[areas.status]\npolicy = "state_machine"\nstages = [["a"]]\n'
            "[areas.status.transitions]\na = 'a'\n",
            "<policies>: areas.status: transitions.a: expected a list",
        ),
        (
            "[areas.size]\npolicy = 3\n",
            "<policies>: areas.size: unknown policy: 3 (expected one of: three_way, "
            "state_machine, set_union, monotonic_max, monotonic_min, latest)",
        ),
        (
            '[areas.size]\ntype = "number"\n',
            "<policies>: areas.size: unknown type: 'number' (expected one of: text, integer, "
            "decimal, date, select_one, select_multiple)",
        ),
        (
            '[areas.kind]\ntype = "text"\nchoices = ["a"]\n',
            "<policies>: areas.kind: property 'kind': choices are only for select_one or "
            "select_multiple",
        ),
        (
            '[areas.tags]\npolicy = "set_union"\ntype = "integer"\n',
            "<policies>: areas.tags: property 'tags': policy set_union cannot merge type "
            "integer (allowed: select_multiple, text)",
        ),
        ('format = "1"\n', "<policies>: format '1' is not supported"),
    ],
)
def test_malformed_declarations_are_refused_with_the_exact_message(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        loads_policies(text)

    assert str(error.value) == message


def test_a_property_declared_under_another_name_is_refused() -> None:
    with pytest.raises(PolicyError) as error:
        ListPolicy("areas", {"size": PropertyPolicy("area")})

    assert str(error.value) == "list 'areas': 'size' declared as 'area'"


def test_the_format_line_is_optional_and_version_one_reads() -> None:
    with_format = loads_policies('format = 1\n[areas.size]\ntype = "decimal"\n')
    without = loads_policies('[areas.size]\ntype = "decimal"\n')

    assert set(with_format.lists) == set(without.lists) == {"areas"}
    assert with_format.lists["areas"].properties["size"].value_type is ValueType.DECIMAL
    assert without.for_list("areas").accept_undeclared is False


def test_the_origin_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "policies.toml"
    path.write_text("[areas.size\n", encoding="utf-8")

    with pytest.raises(PolicyError) as error:
        load_policies(path)

    assert str(error.value).startswith(f"{path}: not valid TOML: ")


def test_undeclared_names_are_refused_even_on_an_open_list() -> None:
    open_list = ListPolicy.open("notes")

    assert open_list.list_name == "notes" and open_list.accept_undeclared
    assert open_list.properties == {}
    assert open_list.policy_for("size m2") is None
    assert open_list.policy_for("2nd") is None
    size = open_list.policy_for("size")
    assert size == PropertyPolicy("size")
    closed = ListPolicy("notes", {})
    assert closed.policy_for("size") is None
    assert closed.policy_for(LABEL) == PropertyPolicy(LABEL)
    assert closed.policy_for("bad label") is None


def test_lists_and_properties_read_from_a_file_cannot_be_changed_afterwards() -> None:
    policies = loads_policies('[areas.size]\ntype = "decimal"\n')

    with pytest.raises(TypeError):
        policies.lists["other"] = ListPolicy("other")  # type: ignore[index]
    with pytest.raises(TypeError):
        policies.lists["areas"].properties["x"] = PropertyPolicy("x")  # type: ignore[index]


def test_a_state_is_ordered_by_its_stage() -> None:
    policy = load_policies(POLICY_FILE).for_list("hazard_areas").properties["status"]

    for state in [*policy.choices, "destroyed"]:
        assert policy.order_key(state) == (policy.rank(state),), state
    assert policy.rank("destroyed") == -1


def test_a_property_declared_without_policy_or_type_is_three_way_text() -> None:
    areas = loads_policies("[areas.note]\n").for_list("areas")

    note = areas.properties["note"]
    assert (note.policy, note.value_type, note.choices) == (
        MergePolicy.THREE_WAY,
        ValueType.TEXT,
        (),
    )
    status = loads_policies(
        '[areas.status]\npolicy = "state_machine"\nstages = [["a"]]\n'
    ).for_list("areas")
    assert status.properties["status"].value_type is ValueType.SELECT_ONE


def test_lists_know_their_names() -> None:
    policies = loads_policies('[areas.size]\ntype = "decimal"\n')

    assert policies.lists["areas"].list_name == "areas"
    assert policies.for_list("areas").list_name == "areas"
    assert policies.for_list("eore_sessions").list_name == "eore_sessions"
    declared = policies.for_list("accidents", ["place"])
    assert declared.list_name == "accidents"
    assert declared.accept_undeclared is False
    assert set(declared.properties) == {"place"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[areas.status]\npolicy = "state_machine"\nstages = "a"\n',
            "<policies>: areas.status: stages: expected a list",
        ),
        (
            '[areas.status]\npolicy = "state_machine"\nstages = [["a", 1]]\n',
            "<policies>: areas.status: stages: expected a list of names",
        ),
        ('[areas.answer]\nprefer = "no"\n', "<policies>: areas.answer: prefer: expected a list"),
    ],
)
def test_malformed_lists_name_their_place(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        loads_policies(text)

    assert str(error.value) == message


def test_decoded_data_is_checked_like_a_file() -> None:
    assert set(parse_policies({"format": 1, "areas": {"size": {}}}).lists) == {"areas"}
    with pytest.raises(PolicyError) as error:
        parse_policies({"areas": []})

    assert str(error.value) == "<policies>: 'areas' must be a table named after an entity list"


def test_a_declaration_from_plain_strings_and_lists_is_normalised() -> None:
    plain = PropertyPolicy(
        "status",
        policy="state_machine",  # type: ignore[arg-type]
        value_type="select_one",  # type: ignore[arg-type]
        choices=["new", "done"],  # type: ignore[arg-type]
        stages=[["new"], ["done"]],  # type: ignore[arg-type]
        transitions={"new": ["done"]},  # type: ignore[dict-item]
    )
    answer = PropertyPolicy("answer", prefer=["refused"])  # type: ignore[arg-type]

    assert plain.policy is MergePolicy.STATE_MACHINE
    assert plain.value_type is ValueType.SELECT_ONE
    assert plain.choices == ("new", "done")
    assert plain.stages == (("new",), ("done",))
    assert answer.prefer == ("refused",)
    assert plain == PropertyPolicy(
        "status",
        MergePolicy.STATE_MACHINE,
        ValueType.SELECT_ONE,
        choices=("new", "done"),
        stages=(("new",), ("done",)),
        transitions={"new": frozenset({"done"})},
    )
    assert plain.allows("new", "done")


def test_a_declaration_cannot_be_changed_afterwards() -> None:
    status = PropertyPolicy(
        "status", MergePolicy.STATE_MACHINE, ValueType.SELECT_ONE, stages=(("a",), ("b",))
    )
    plain = PropertyPolicy("note")

    for policy in (status, plain):
        with pytest.raises(TypeError):
            policy.transitions["a"] = frozenset()  # type: ignore[index]


def test_declaration_errors_name_the_property() -> None:
    cases = [
        (
            {"policy": "biggest_wins"},
            "property 'size': unknown policy: 'biggest_wins' (expected one of: three_way, "
            "state_machine, set_union, monotonic_max, monotonic_min, latest)",
        ),
        (
            {"value_type": "number"},
            "property 'size': unknown type: 'number' (expected one of: text, integer, decimal, "
            "date, select_one, select_multiple)",
        ),
        (
            {"policy": MergePolicy.STATE_MACHINE, "value_type": ValueType.SELECT_ONE},
            "property 'size': state_machine needs stages",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(PolicyError) as error:
            PropertyPolicy("size", **kwargs)  # type: ignore[arg-type]
        assert str(error.value) == message


def test_no_move_from_an_unknown_state_is_forward() -> None:
    status = load_policies(POLICY_FILE).for_list("hazard_areas").properties["status"]

    assert not status.allows("destroyed", "cleared")
    assert status.allows("destroyed", "destroyed")  # no move at all


def test_numbers_that_do_not_parse_compare_as_text() -> None:
    size = PropertyPolicy("size", value_type=ValueType.DECIMAL)

    assert size.same("n/a", "n/a")
    assert not size.same("n/a", "N/A")
