"""Casualties as the Landmine and Cluster Munition Monitor counts them, the Washington Group
Short Set as published, survivors created only with consent to follow-up, and referrals
followed to their outcome by their referral_id.
"""

from __future__ import annotations

from .test_form_logic import SURVIVOR, WG_DOMAINS, consented_survivor
from .xform_eval import TODAY, FilledForm


def accident() -> FilledForm:
    return FilledForm("accident_report").answer(
        date_of_information=TODAY,
        accident_date="2026-11-20",
        admin1="LA09",
        admin2="LA0901",
        place_name="rice field north of Ban Na",
    )


# --- accident report -----------------------------------------------------------------------------


def test_a_casualty_with_unknown_age_is_counted_without_a_guess() -> None:
    # Fault: age was required, which forced a guess.
    form = accident()
    form.set_repeat(
        "casualties",
        [
            {"casualty_id": "c-1", "casualty_outcome": "injured", "age_known": "no"},
            {"casualty_id": "c-2", "casualty_outcome": "unknown", "sex": "unknown"},
        ],
    )
    item = form.root.find("casualties")
    assert item.findtext("age_band") == ""
    item.find("age_group").text = "unknown"
    second = form.root.findall("casualties")[1]
    second.find("age_known").text = "no"
    second.find("age_group").text = "child"
    form.recalculate()
    assert form.value("age_unknown_total") == "1"
    assert form.value("children_total") == "1"
    assert form.value("outcome_unknown_total") == "1"
    assert form.value("casualties_total") == "2"


def test_casualty_groups_as_the_monitor_counts_them() -> None:
    form = accident()
    form.set_repeat(
        "casualties",
        [
            {"casualty_id": "c-1", "casualty_group": "civilian"},
            {"casualty_id": "c-2", "casualty_group": "deminer"},
            {"casualty_id": "c-3", "casualty_group": "military_security"},
            {"casualty_id": "c-4", "casualty_group": "civilian"},
        ],
    )
    assert form.value("civilian_total") == "2"
    assert form.value("deminer_total") == "1"
    assert form.value("military_total") == "1"


def test_accident_type_and_cluster_munition_strike_or_remnant() -> None:
    form = accident().answer(accident_type="mine_erw_accident", device_category="uxo")
    assert not form.is_relevant("cm_event")
    form.answer(device_category="cmr")
    assert form.is_required("cm_event")


def test_an_injured_casualty_is_linked_to_a_survivor_code() -> None:
    form = accident()
    form.set_repeat(
        "casualties", [{"casualty_id": "c-1", "casualty_outcome": "injured", "age_known": "no"}]
    )
    item = form.root.find("casualties")
    path = "/data/casualties/survivor_code"
    relevant = form._bind_attribute(path, "relevant")
    constraint = form._bind_attribute(path, "constraint")
    assert relevant and constraint
    assert form.condition(relevant, item.find("survivor_code"))
    item.find("survivor_code").text = "SV-0012"
    assert form.condition(constraint, item.find("survivor_code"))
    item.find("survivor_code").text = "Somchai"
    assert not form.condition(constraint, item.find("survivor_code"))
    item.find("casualty_outcome").text = "killed"
    assert not form.condition(relevant, item.find("survivor_code"))


# --- Washington Group Short Set ------------------------------------------------------------------


def test_dont_know_or_refused_gives_an_unknown_disability_status() -> None:
    form = consented_survivor().answer(wg_hearing="dont_know")
    assert form.value("disability_status") == "unknown"
    form.answer(wg_hearing="refused")
    assert form.value("disability_status") == "unknown"
    form.answer(wg_walking="cannot_do_at_all")  # one domain is enough
    assert form.value("disability_status") == "yes"


def test_a_caregiver_answers_the_proxy_wording() -> None:
    form = consented_survivor().answer(respondent="caregiver", pii_full_name="Noy")
    assert not form.is_relevant("wg_seeing")
    assert form.is_relevant("wg_seeing_proxy")
    for domain in WG_DOMAINS:
        form.answer(**{f"{domain}_proxy": "no_difficulty"})
    form.answer(wg_selfcare_proxy="a_lot_of_difficulty")
    assert form.value("wg_selfcare_answer") == "a_lot_of_difficulty"
    assert form.value("disability_status") == "yes"


def test_the_short_set_is_not_asked_under_five() -> None:
    form = consented_survivor().answer(date_of_information=TODAY, year_of_birth="2023")
    assert form.value("age_years") == "3"
    assert not form.is_relevant("washington_group")
    assert form.is_relevant("wg_not_asked")
    assert form.value("disability_status") == "unknown"
    form.answer(year_of_birth="2021")
    assert form.is_relevant("washington_group")


# --- survivor records and referrals --------------------------------------------------------------


def test_no_survivor_record_without_consent_to_follow_up() -> None:
    # Fault: a record was created with consent to the interview alone.
    form = consented_survivor().answer(consent_followup="no")
    assert form.entity()["create"] == "false"
    assert not form.is_relevant("next_followup_date")
    form.answer(consent_followup="yes")
    assert form.entity()["create"] == "true"
    assert form.is_required("next_followup_date")


def test_survivor_list_carries_places_by_p_code_and_open_referrals() -> None:
    form = consented_survivor().answer(needs="medical prosthesis")
    form.set_repeat(
        "referrals",
        [
            {"referral_id": "r-1", "referral_need": "medical", "referral_item_status": "open"},
            {
                "referral_id": "r-2",
                "referral_need": "prosthesis",
                "referral_item_status": "waiting_list",
            },
            {
                "referral_id": "r-3",
                "referral_need": "prosthesis",
                "referral_item_status": "service_not_available",
            },
        ],
    )
    assert form.value("open_referrals") == "r-1 r-2"
    assert form.value("open_referral_needs") == "medical prosthesis"
    assert form.value("case_status") == "active"
    assert form.value("admin_area") == "Pek, Xiengkhuang"
    assert (form.value("admin1"), form.value("admin2")) == ("LA09", "LA0901")


def followup(**changes: str) -> FilledForm:
    survivor = {
        **SURVIVOR,
        "open_referrals": "r-1 r-2",
        "open_referral_needs": "medical prosthesis",
        "case_status": "active",
        **changes,
    }
    form = FilledForm("survivor_followup", {"survivors": [survivor]})
    return form.answer(date_of_information=TODAY, survivor=SURVIVOR["name"])


def test_a_referral_is_followed_to_its_outcome_by_its_referral_id() -> None:
    form = followup().answer(contact_made="reached", consent_continue="yes")
    form.set_repeat("new_referrals", [])
    form.set_repeat("referral_updates", [{}, {}])  # one item per open referral (repeat_count)
    items = form.root.find("followup").findall("referral_updates")
    assert [i.findtext("referral_id") for i in items] == ["r-1", "r-2"]
    assert [i.findtext("referral_need") for i in items] == ["medical", "prosthesis"]
    items[0].find("referral_item_status").text = "completed"
    items[1].find("referral_item_status").text = "waiting_list"
    form.recalculate()
    assert form.value("open_referrals") == "r-2"
    assert form.value("open_referral_needs") == "prosthesis"
    form.set_repeat(
        "new_referrals",
        [
            {
                "new_referral_id": "r-9",
                "new_referral_need": "livelihood",
                "new_referral_status": "open",
            }
        ],
    )
    items = form.root.find("followup").findall("referral_updates")
    assert [i.findtext("referral_id") for i in items] == ["r-1", "r-2"]
    assert form.value("open_referrals") == "r-2 r-9"
    assert form.value("open_referral_needs") == "prosthesis livelihood"


def test_a_referral_outcome_is_asked_once_it_is_no_longer_open() -> None:
    form = followup().answer(contact_made="reached", consent_continue="yes")
    form.set_repeat("referral_updates", [{"referral_item_status": "rejected_by_provider"}])
    item = form.root.find("followup").find("referral_updates")
    relevant = form._bind_attribute("/data/followup/referral_updates/referral_outcome", "relevant")
    assert relevant and form.condition(relevant, item.find("referral_outcome"))
    item.find("referral_item_status").text = "in_progress"
    assert not form.condition(relevant, item.find("referral_outcome"))


def test_case_outcomes_and_the_next_follow_up_date() -> None:
    form = followup().answer(contact_made="reached", consent_continue="yes")
    assert form.value("case_status_now") == "active"
    assert form.is_required("next_followup_date_now")
    assert not form.accepts("next_followup_date_now", TODAY)
    assert form.accepts("next_followup_date_now", "2027-01-15")
    assert form.value("next_followup_date") == "2027-01-15"
    form.answer(case_status_now="deceased")
    assert not form.is_relevant("next_followup_date_now")
    assert form.value("case_status") == "deceased"
    assert form.value("next_followup_date") == ""


def test_a_person_not_reached_keeps_the_open_referrals_and_may_be_lost_to_follow_up() -> None:
    form = followup().answer(contact_made="not_reached", case_status_now="lost_to_follow_up")
    assert form.value("open_referrals") == "r-1 r-2"
    assert form.value("case_status") == "lost_to_follow_up"
    assert form.value("last_contact_date") == SURVIVOR["last_contact_date"]


def test_withdrawn_consent_closes_an_active_case() -> None:
    form = followup().answer(contact_made="reached", consent_continue="no")
    assert form.value("consent_followup") == "no"
    assert form.value("case_status") == "closed"
