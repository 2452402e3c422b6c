"""Land release that adds up: every m² that leaves a hazard area's remaining area is counted as
cancelled, reduced or cleared (or stated as an adjustment with its reason), in the hazard report,
the clearance report and the completion report.

Each fault found in review is reproduced here with the answers that triggered it.
"""

from __future__ import annotations

from .test_form_logic import HAZARD_AREA, hazard_areas
from .xform_eval import TODAY, FilledForm

GOOD_FIX = "19.4512 103.1811 1100 4.5"
POOR_FIX = "19.4512 103.1811 1100 35"


def new_area() -> FilledForm:
    return FilledForm("hazard_report", hazard_areas()).answer(
        date_of_information=TODAY,
        report_mode="new_area",
        ha_code="HA-0146",
        admin1="LA09",
        admin2="LA0902",
        village="Ban Phonxay",
        status="suspected",
        estimated_area_m2="12500",
    )


def resurvey(**changes: str) -> FilledForm:
    form = FilledForm("hazard_report", hazard_areas(**changes))
    return form.answer(
        date_of_information=TODAY, report_mode="existing_area", existing_ha=HAZARD_AREA["name"]
    )


def completion(**changes: str) -> FilledForm:
    form = FilledForm("completion_report", hazard_areas(**changes))
    return form.answer(date_of_information=TODAY, hazard_area=HAZARD_AREA["name"])


def clearance(**changes: str) -> FilledForm:
    form = FilledForm("clearance_report", hazard_areas(**changes))
    return form.answer(date_of_information=TODAY, hazard_area=HAZARD_AREA["name"])


# --- hazard report (non-technical survey) -------------------------------------------------------


def test_new_hazard_area_is_created_with_p_codes_and_names_from_the_gazetteer() -> None:
    form = new_area()
    entity = form.entity()
    assert (entity["create"], entity["update"]) == ("true", "false")
    assert entity["id"] == "uuid-from-device"
    assert entity["baseVersion"] == ""
    assert form.value("admin1") == "LA09"
    assert form.value("admin2") == "LA0902"
    assert form.value("admin_area") == "Kham, Xiengkhuang"
    assert entity["label"] == "HA-0146 Kham, Xiengkhuang"
    assert form.value("remaining_area_m2") == "12500"
    assert form.value("area_cancelled_m2") == "0"
    assert form.value("cancelled_area_m2") == "0"
    assert form.root.findtext("meta/instanceName") == f"HA-0146 hazard report {TODAY}"


def test_the_district_list_follows_the_province() -> None:
    form = new_area()
    itemset = form.xform.find(".//{*}select1[@ref='/data/place/admin2']/{*}itemset")
    districts = form.evaluate(itemset.get("nodeset"))
    codes = {d.findtext("name") for d in districts}
    assert "LA0902" in codes
    assert codes and all(c.startswith("LA09") for c in codes)
    assert len(codes) == 7  # Xiengkhuang's districts in the bundled gazetteer
    assert not form.is_relevant("admin3")  # no village level in the bundled gazetteer
    villages = [
        {"name": "LA0902001", "label": "Ban Phonxay", "level": "3", "parent": "LA0902"},
    ]
    with_villages = FilledForm("hazard_report", {**hazard_areas(), "gazetteer": villages})
    with_villages.answer(report_mode="new_area", admin1="LA09", admin2="LA0902")
    assert with_villages.is_relevant("admin3")


def test_existing_hazard_area_is_shown_as_it_is_and_updated() -> None:
    form = resurvey()
    for name in ("ha_code", "status", "contamination_types", "land_use", "priority"):
        assert form.value(name) == HAZARD_AREA[name], name
    for name, prop in (("admin1", "admin1_pcode"), ("admin2", "admin2_pcode")):
        assert form.value(name) == HAZARD_AREA[prop]
    assert form.value("marking_status") == "partly_marked"
    assert form.value("benchmark") == HAZARD_AREA["benchmark"]
    assert form.value("remaining_area_m2") == "5000"
    assert form.value("area_cancelled_m2") == "0"
    entity = form.entity()
    assert (entity["create"], entity["update"]) == ("false", "true")
    assert (entity["baseVersion"], entity["trunkVersion"]) == ("4", "3")


def test_nts_resurvey_that_shrinks_the_estimate_cancels_the_difference() -> None:
    # Fault: the estimate went from 8,000 to 6,000 m² and the remaining area stayed at 5,000.
    form = resurvey().answer(location_safe="yes", estimated_area_m2="6000")
    assert form.value("area_cancelled_m2") == "2000"
    assert form.value("remaining_area_m2") == "3000"
    assert form.value("cancelled_area_m2") == "2000"
    assert form.is_relevant("cancellation_criteria")
    assert form.is_required("cancelled_area_shape")
    previous, cancelled, remaining = (
        float(form.value(n))
        for n in ("previous_remaining_m2", "area_cancelled_m2", "remaining_area_m2")
    )
    assert previous - cancelled == remaining


def test_a_resurvey_cannot_shrink_below_what_was_already_released() -> None:
    form = resurvey()  # 8,000 estimated, 5,000 remaining: 3,000 released before
    assert form.accepts("estimated_area_m2", "3000")
    assert not form.accepts("estimated_area_m2", "2999")


def test_a_larger_estimate_is_an_adjustment_with_its_reason() -> None:
    form = resurvey().answer(estimated_area_m2="9000")
    assert form.value("area_added_m2") == "1000"
    assert form.value("area_cancelled_m2") == "0"
    assert form.value("remaining_area_m2") == "6000"
    assert form.is_required("adjustment_reason")


def test_nts_cancellation_stores_the_cancelled_area() -> None:
    # Fault: cancelling an area set the remaining area to 0 and recorded no cancelled m².
    form = resurvey(cancelled_area_m2="500").answer(status="cancelled")
    assert form.value("remaining_area_m2") == "0"
    assert form.value("area_cancelled_m2") == "5000"
    assert form.value("cancelled_area_m2") == "5500"
    assert form.is_required("cancellation_criteria")


def test_unsafe_location_is_a_stated_flag_not_silently_missing_coordinates() -> None:
    form = new_area()
    assert form.is_required("location_safe")
    form.answer(location_safe="yes")
    assert form.is_required("benchmark")
    assert form.is_required("perimeter")
    assert not form.is_relevant("location_unsafe_reason")
    form.answer(location_safe="no")
    assert not form.is_relevant("benchmark")
    assert form.is_required("location_unsafe_reason")


def test_gps_points_need_an_accuracy_of_10_m() -> None:
    form = new_area().answer(location_safe="yes")
    assert form.accepts("benchmark", GOOD_FIX)
    assert not form.accepts("benchmark", POOR_FIX)
    assert form.accepts("benchmark", "19.4512 103.1811")  # taken from a map: no accuracy part


def test_marking_type_is_asked_for_marked_areas() -> None:
    form = new_area().answer(marking_status="not_marked")
    assert not form.is_relevant("marking_type")
    form.answer(marking_status="partly_marked")
    assert form.is_required("marking_type")


def test_landowner_name_is_personal_data_and_only_its_type_is_shared() -> None:
    form = new_area().answer(landowner_type="private")
    assert form.is_relevant("pii_landowner")
    form.answer(landowner_type="state")
    assert not form.is_relevant("pii_landowner")


def test_survey_dates_are_in_order() -> None:
    form = new_area().answer(activity_start_date="2026-11-20")
    assert form.accepts("activity_end_date", "2026-11-25")
    assert not form.accepts("activity_end_date", "2026-11-19")
    assert not form.accepts("activity_end_date", "2026-11-30")


def test_land_release_beneficiaries_are_counted_by_sex_and_age() -> None:
    form = new_area().answer(
        direct_women="4", direct_men="3", direct_girls="2", indirect_boys="40", indirect_men="7"
    )
    assert form.value("direct_beneficiaries") == "9"
    assert form.value("indirect_beneficiaries") == "47"


# --- clearance report ----------------------------------------------------------------------------


def test_clearance_adds_to_the_cumulative_areas() -> None:
    form = clearance().answer(
        area_cancelled_m2="100",
        area_reduced_asset_m2="150",
        area_reduced_no_asset_m2="50",
        area_cleared_m2="300",
    )
    assert form.value("area_reduced_m2") == "200"
    assert form.value("cleared_area_m2") == "1500"
    assert form.value("cancelled_area_m2") == "100"
    assert form.value("reduced_area_m2") == "200"
    assert form.value("remaining_area_m2") == "4400"
    assert form.is_required("cancellation_criteria")
    assert form.is_required("reduction_criteria")
    assert form.value("status") == "in_clearance"
    assert form.root.findtext("meta/instanceName") == f"HA-0145 clearance {TODAY}"
    entity = form.entity()
    assert (entity["update"], entity["id"], entity["baseVersion"]) == (
        "1",
        HAZARD_AREA["name"],
        "4",
    )


def test_clearance_of_an_area_without_earlier_figures_starts_from_the_estimate() -> None:
    form = clearance(cleared_area_m2="", remaining_area_m2="").answer(area_cleared_m2="300")
    assert form.value("cleared_area_m2") == "300"
    assert form.value("remaining_area_m2") == "7700"


def test_releasing_more_than_is_left_needs_a_stated_adjustment() -> None:
    # Fault: 5,600 m² cleared of 5,000 left was silently cut to 0 remaining.
    form = clearance().answer(area_cleared_m2="5600")
    assert not form.accepts("area_adjustment_m2", "0")
    assert form.accepts("area_adjustment_m2", "600")
    assert form.is_required("adjustment_reason")
    assert form.value("remaining_area_m2") == "0"
    assert form.accepts("status", "cleared")


def test_remaining_is_previous_minus_released_plus_adjustment() -> None:
    form = clearance().answer(area_cleared_m2="1000", area_adjustment_m2="-250")
    assert form.value("remaining_area_m2") == "3750"
    assert form.is_required("adjustment_reason")
    assert not form.accepts("status", "cleared")


def test_each_released_area_needs_its_polygon_where_it_is_safe() -> None:
    form = clearance().answer(location_safe="yes", area_cleared_m2="300")
    assert form.is_required("worksite_point")
    assert form.is_required("cleared_area_shape")
    assert not form.is_relevant("reduced_area_shape")
    shape = "19.45 103.18 0 3;19.46 103.18 0 3;19.46 103.19 0 3;19.45 103.18 0 3"
    form.answer(cleared_area_shape=shape)
    assert form.value("cleared_shape") == shape
    form.answer(location_safe="no")
    assert not form.is_relevant("cleared_area_shape")
    assert form.is_required("location_unsafe_reason")


def test_clearance_report_needs_task_id_and_dates_in_order() -> None:
    form = clearance()
    assert form.is_required("task_id")
    assert form.accepts("task_id", "TO-2026/117")
    assert not form.accepts("task_id", "to do")
    form.answer(period_start="2026-11-20")
    assert not form.accepts("period_end", "2026-11-19")
    assert form.accepts("period_end", "2026-11-28")


# --- completion report ---------------------------------------------------------------------------


def test_completion_cannot_drop_the_remaining_area_uncounted() -> None:
    # Fault: closing an area with 5,000 m² remaining and 0 m² cleared today dropped the 5,000 m².
    form = completion().answer(status="cleared", area_cleared_m2="0")
    assert not form.accepts("area_adjustment_m2", "0")
    form.answer(area_adjustment_m2="0", area_cleared_m2="5000")
    assert form.accepts("area_adjustment_m2", "0")
    assert form.value("remaining_area_m2") == "0"
    assert form.value("cleared_area_m2") == "6200"
    assert form.value("land_use") == "agriculture grazing"


def test_completion_may_count_the_rest_as_cancelled_and_reduced() -> None:
    form = completion().answer(
        status="cleared",
        area_cleared_m2="3000",
        area_reduced_no_asset_m2="1500",
        area_cancelled_m2="500",
    )
    assert form.accepts("area_adjustment_m2", "0")
    assert form.value("cancelled_area_m2") == "500"
    assert form.value("reduced_area_m2") == "1500"
    assert form.value("remaining_area_m2") == "0"
    assert form.is_required("cancellation_criteria")


def test_an_adjustment_that_closes_the_area_needs_its_reason() -> None:
    form = completion().answer(status="cleared", area_cleared_m2="4800")
    assert form.accepts("area_adjustment_m2", "-200")
    assert form.is_required("adjustment_reason")


def test_handover_of_a_cleared_area_counts_the_community() -> None:
    form = completion(status="cleared", remaining_area_m2="0").answer(status="handed_over")
    assert form.accepts("area_adjustment_m2", "0")
    form.answer(present_men="12", present_women="15", present_girls="4")
    assert form.is_relevant("community_present")
    assert form.value("present_total") == "31"
    assert form.root.findtext("meta/instanceName") == f"HA-0145 completion {TODAY}"


def test_completion_dates_and_task() -> None:
    form = completion().answer(activity_start_date="2026-09-01")
    assert form.accepts("activity_end_date", "2026-11-28")
    assert not form.accepts("activity_end_date", "2026-08-31")
    assert form.is_required("task_id")
