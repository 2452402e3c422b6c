"""Form logic evaluated on the compiled XForms: calculations, relevance, constraints, entities.

Each test fills a form the way a field worker would (answers, repeat items, a chosen record from
the entity list CSV) and reads what the device would submit.
"""

from __future__ import annotations

import pytest

from .xform_eval import TODAY, FilledForm

WG_DOMAINS = (
    "wg_seeing",
    "wg_hearing",
    "wg_walking",
    "wg_remembering",
    "wg_selfcare",
    "wg_communicating",
)
HAZARD_AREA = {
    "name": "7f0c5a52-2d7b-4a38-9c61-3f3c1c0e9a10",
    "label": "HA-0145 Pek, Xiengkhuang",
    "__version": "4",
    "__trunkVersion": "3",
    "__branchId": "5d7a4c0e-1b2f-4c38-8a0e-2f6a1c9d3b77",
    "ha_code": "HA-0145",
    "hazard_type": "sha",
    "status": "in_clearance",
    "contamination_types": "cmr",
    "evidence": "indirect",
    "estimated_area_m2": "8000",
    "remaining_area_m2": "5000",
    "cleared_area_m2": "1200",
    "land_use": "agriculture grazing",
    "blockages": "farmland",
    "priority": "high",
    "landowner_type": "community",
    "marking_status": "partly_marked",
    "marking_type": "temporary_signs",
    "admin1_pcode": "LA09",
    "admin2_pcode": "LA0901",
    "village": "Ban Na",
    "admin_area": "Pek, Xiengkhuang",
    "benchmark": "19.45 103.18 1100 4",
    "date_of_information": "2026-10-02",
}
SURVIVOR = {
    "name": "0b6a9c1e-8f0d-4e55-b4c9-6d1f2a3e4b5c",
    "label": "SV-0012 Pek, Xiengkhuang",
    "__version": "2",
    "__trunkVersion": "2",
    "__branchId": "",
    "survivor_code": "SV-0012",
    "consent_followup": "yes",
    "consent_sharing": "yes",
    "needs": "medical prosthesis livelihood",
    "referral_status": "open",
    "last_contact_date": "2026-06-01",
}


def hazard_areas(**changes: str) -> dict[str, list[dict[str, str]]]:
    return {"hazard_areas": [{**HAZARD_AREA, **changes}]}


def consented_survivor() -> FilledForm:
    form = FilledForm("survivor_needs_assessment")
    return form.answer(
        purpose_explained="yes",
        respondent="survivor",
        consent_given="yes",
        consent_followup="yes",
        consent_sharing="yes",
        survivor_code="SV-0012",
        admin1="LA09",
        admin2="LA0901",
        village="Ban Na",
        year_of_birth="1990",
        **dict.fromkeys(WG_DOMAINS, "no_difficulty"),
    )


# --- survivor needs assessment -------------------------------------------------------------


@pytest.mark.parametrize("domain", WG_DOMAINS)
def test_disability_status_follows_the_washington_group_cut_off(domain: str) -> None:
    form = consented_survivor()
    assert form.value("disability_status") == "no"
    expected = {
        "no_difficulty": "no",
        "some_difficulty": "no",
        "a_lot_of_difficulty": "yes",
        "cannot_do_at_all": "yes",
    }
    for answer, status in expected.items():
        form.answer(**{domain: answer})
        assert form.value("disability_status") == status, (domain, answer)


def test_some_difficulty_everywhere_is_not_a_disability() -> None:
    form = consented_survivor().answer(**dict.fromkeys(WG_DOMAINS, "some_difficulty"))
    assert form.value("disability_status") == "no"


def test_without_consent_nothing_is_asked_and_no_survivor_is_created() -> None:
    form = FilledForm("survivor_needs_assessment").answer(
        date_of_information=TODAY, purpose_explained="yes", consent_given="no"
    )
    for group in (
        "demographics",
        "washington_group",
        "event",
        "injuries",
        "rehabilitation",
        "psychological",
        "socio_economic",
        "accessibility",
        "needs_and_referrals",
        "consent_followup",
        "consent_sharing",
        "pii_full_name",
    ):
        assert not form.is_relevant(group), group
    assert form.is_relevant("no_consent")
    assert form.entity()["create"] == "false"
    assert form.root.findtext("meta/instanceName") == f"No consent {TODAY}"


def test_consent_opens_the_interview_and_creates_a_pseudonymous_survivor() -> None:
    form = consented_survivor().answer(date_of_information=TODAY, survivor_category="injured")
    for group in ("demographics", "washington_group", "injuries", "needs_and_referrals"):
        assert form.is_relevant(group), group
    assert not form.is_relevant("no_consent")
    entity = form.entity()
    assert entity["create"] == "true"
    assert entity["dataset"] == "survivors"
    assert entity["id"] == "uuid-from-device"
    assert entity["label"] == "SV-0012 Pek, Xiengkhuang"
    assert form.value("last_contact_date") == TODAY
    assert form.root.findtext("meta/instanceName") == f"SV-0012 needs assessment {TODAY}"


def test_referrals_need_consent_to_share() -> None:
    form = consented_survivor().answer(needs="medical prosthesis")
    assert form.is_relevant("referrals")
    form.answer(consent_sharing="no")
    assert not form.is_relevant("referrals")
    assert form.is_relevant("no_referral")


@pytest.mark.parametrize(
    ("statuses", "summary"),
    [
        ([], "none"),
        (["declined"], "declined"),
        (["completed", "declined"], "completed"),
        (["completed", "in_progress"], "in_progress"),
        (["in_progress", "open", "completed"], "open"),
    ],
)
def test_referral_status_summarises_the_referrals(statuses: list[str], summary: str) -> None:
    form = consented_survivor().answer(needs="medical prosthesis")
    form.set_repeat(
        "referrals",
        [
            {"referral_id": f"r-{i}", "referral_need": "medical", "referral_item_status": s}
            for i, s in enumerate(statuses)
        ],
    )
    assert form.value("referral_status") == summary


def test_survivor_code_and_year_of_birth_are_checked() -> None:
    form = consented_survivor().answer(date_of_information=TODAY)
    assert form.accepts("survivor_code", "SV-0012")
    assert not form.accepts("survivor_code", "Somchai")
    assert form.accepts("year_of_birth", "1961")
    assert not form.accepts("year_of_birth", "2031")


# --- survivor follow-up ------------------------------------------------------------------------


def followup() -> FilledForm:
    form = FilledForm("survivor_followup", {"survivors": [SURVIVOR]})
    return form.answer(date_of_information=TODAY, survivor=SURVIVOR["name"])


def test_followup_updates_the_chosen_survivor_and_adds_new_needs() -> None:
    form = followup().answer(
        contact_made="reached", consent_continue="yes", needs_met="medical", new_needs="education"
    )
    assert form.value("consent_sharing_now") == "yes"  # filled in from the entity list
    assert form.value("needs") == "prosthesis livelihood education"
    assert form.value("last_contact_date") == TODAY
    assert form.value("referral_status") == "open"
    form.answer(referral_status_now="completed")
    assert form.value("referral_status") == "completed"
    entity = form.entity()
    assert entity["id"] == SURVIVOR["name"]
    assert (entity["baseVersion"], entity["trunkVersion"]) == ("2", "2")
    assert form.root.findtext("meta/instanceName") == f"SV-0012 follow-up {TODAY}"


def test_followup_that_does_not_reach_the_person_keeps_the_record() -> None:
    form = followup().answer(contact_made="not_reached")
    assert not form.is_relevant("followup")
    assert form.value("needs") == SURVIVOR["needs"]
    assert form.value("last_contact_date") == SURVIVOR["last_contact_date"]
    assert form.value("consent_followup") == "yes"
    assert form.value("consent_sharing") == "yes"


def test_followup_records_a_withdrawn_consent() -> None:
    form = followup().answer(contact_made="reached", consent_continue="no")
    assert not form.is_relevant("followup")
    assert form.value("consent_followup") == "no"
    assert form.value("last_contact_date") == TODAY


# --- hazard report -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "new", "moves_back"),
    [
        ("cleared", "cleared", False),
        ("cleared", "confirmed", True),
        ("cancelled", "suspected", True),
        ("in_clearance", "reduced", False),  # the same stage of land release
        ("in_clearance", "confirmed", True),
        ("suspected", "confirmed", False),
        ("confirmed", "cancelled", False),
    ],
)
def test_moving_a_status_back_needs_a_reason(current: str, new: str, moves_back: bool) -> None:
    form = FilledForm("hazard_report", hazard_areas(status=current)).answer(
        report_mode="existing_area", existing_ha=HAZARD_AREA["name"]
    )
    assert form.value("status") == current
    assert not form.is_relevant("reopen_reason")
    assert form.accepts("status", new)
    assert form.is_relevant("reopen_reason") is moves_back


def test_clearance_report_also_asks_why_a_status_moves_back() -> None:
    form = clearance(status="cleared", remaining_area_m2="0")
    assert not form.is_relevant("reopen_reason")
    form.answer(status="in_clearance")
    assert form.is_relevant("reopen_reason")


def test_hazard_report_checks_what_a_team_types() -> None:
    form = FilledForm("hazard_report", hazard_areas()).answer(report_mode="new_area")
    assert form.accepts("ha_code", "HA-0146")
    assert not form.accepts("ha_code", "0146")
    assert form.accepts("status", "suspected")
    assert not form.accepts("status", "cleared")
    assert not form.accepts("estimated_area_m2", "0")
    assert form.accepts("blockages", "school farmland")
    assert not form.accepts("blockages", "school none")
    assert not form.is_relevant("evidence_points")
    form.answer(contamination_types="uxo cmr")
    assert form.is_relevant("evidence_points")


# --- clearance and completion ------------------------------------------------------------------


def clearance(**changes: str) -> FilledForm:
    form = FilledForm("clearance_report", hazard_areas(**changes))
    return form.answer(date_of_information=TODAY, hazard_area=HAZARD_AREA["name"])


def test_clearance_of_an_area_without_earlier_figures_starts_from_the_estimate() -> None:
    form = clearance(cleared_area_m2="", remaining_area_m2="").answer(area_cleared_m2="300")
    assert form.value("cleared_area_m2") == "300"
    assert form.value("remaining_area_m2") == "7700"


def test_status_cannot_jump_to_cleared_or_handed_over() -> None:
    form = clearance().answer(area_cleared_m2="300")
    assert form.accepts("status", "in_clearance")
    assert not form.accepts("status", "cleared")
    assert not form.accepts("status", "handed_over")


def test_devices_found_confirm_the_area_and_must_appear_in_contamination() -> None:
    form = clearance().answer(devices_found="yes")
    form.set_repeat(
        "devices",
        [
            {
                "device_id": "d-1",
                "device_category": "cmr",
                "device_model": "blu_26",
                "quantity": "3",
            },
            {
                "device_id": "d-2",
                "device_category": "uxo",
                "device_model": "mortar_82",
                "quantity": "1",
            },
        ],
    )
    assert form.value("devices_total") == "4"
    assert form.value("hazard_type") == "cha"
    assert form.value("evidence") == "direct"
    assert not form.accepts("contamination_types", "cmr")
    assert form.accepts("contamination_types", "cmr uxo")
    form.answer(devices_found="no")
    assert form.value("hazard_type") == "sha"


def test_a_handed_over_area_cannot_be_closed_again_as_cleared() -> None:
    form = FilledForm("completion_report", hazard_areas(status="handed_over")).answer(
        hazard_area=HAZARD_AREA["name"]
    )
    assert not form.accepts("status", "cleared")
    assert form.accepts("status", "handed_over")


# --- EORE and accidents ------------------------------------------------------------------------


def test_eore_totals_by_sex_and_age() -> None:
    form = FilledForm("eore_session").answer(
        girls_0_9="5",
        boys_0_9="7",
        girls_10_17="11",
        women_18_45="20",
        men_18_45="9",
        women_46_plus="3",
        men_46_plus="2",
    )
    assert form.value("total_female") == "39"
    assert form.value("total_male") == "18"
    assert form.value("total_0_9") == "12"
    assert form.value("total_46_plus") == "5"
    assert form.value("total_beneficiaries") == "57"
    assert form.accepts("disabled_women", "4")
    assert not form.accepts("disabled_women", "24")
    assert not form.accepts("disabled_boys", "8")
    form.answer(disabled_girls="1", disabled_boys="0", disabled_women="4", disabled_men="2")
    assert form.value("participants_with_disability") == "7"
    assert not form.accepts("first_time_participants", "58")
    assert form.accepts("first_time_participants", "40")
    assert form.value("repeat_participants") == "17"


def test_eore_records_mass_media_reach_and_cluster_munition_topic() -> None:
    form = FilledForm("eore_session").answer(method="face_to_face")
    assert form.is_required("cm_specific")
    assert not form.is_relevant("indirect_reach")
    form.answer(method="mass_media")
    assert form.is_relevant("indirect_reach")
    assert form.accepts("indirect_reach", "25000")


def test_eore_session_needs_at_least_one_participant() -> None:
    form = FilledForm("eore_session")
    assert not form.accepts("men_46_plus", "0")
    assert form.accepts("men_46_plus", "1")


def test_accident_totals_count_casualties_by_outcome_and_age() -> None:
    form = FilledForm("accident_report").answer(place_name="Ban Na", accident_date="2026-11-20")
    form.set_repeat(
        "casualties",
        [
            {"casualty_id": "c-1", "casualty_outcome": "killed", "age_known": "yes", "age": "34"},
            {"casualty_id": "c-2", "casualty_outcome": "injured", "age_known": "yes", "age": "12"},
            {"casualty_id": "c-3", "casualty_outcome": "injured", "age_known": "yes", "age": "9"},
        ],
    )
    assert form.value("casualties_total") == "3"
    assert form.value("killed_total") == "1"
    assert form.value("injured_total") == "2"
    assert form.value("children_total") == "2"
    assert form.root.findtext("meta/instanceName") == "Accident Ban Na 2026-11-20"
