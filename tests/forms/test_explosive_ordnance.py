"""Explosive ordnance Article 7 can count: the device list, condition and disposal, items removed
for later destruction closed by their tag, EOD spot tasks outside any hazard area, and evidence
points for every type of contamination.
"""

from __future__ import annotations

from .test_form_library import choice_labels
from .test_form_logic import HAZARD_AREA, hazard_areas
from .xform_eval import TODAY, FilledForm

SUBMUNITIONS = {
    "blu_3",
    "blu_24",
    "blu_26",
    "blu_36",
    "blu_61",
    "blu_63",
    "blu_97",
    "m42",
    "m46",
    "m77",
    "m85",
    "mk118",
    "ao_1sch",
    "ptab_2_5",
    "ptab_1m",
    "shoab_0_5",
    "sm_9n210",
    "sm_9n235",
    "type_81",
    "failed_cm",
    "abandoned_cm",
}


def test_every_form_that_names_devices_has_the_same_checked_list() -> None:
    lists = {
        form_id: choice_labels(form_id, "device_model")
        for form_id in ("hazard_report", "clearance_report", "eod_report", "accident_report")
    }
    first = lists["clearance_report"]
    assert all(models == first for models in lists.values())
    cmr = FilledForm("clearance_report", hazard_areas()).xform.xpath(
        "//*[local-name()='instance'][@id='device_model']//*[local-name()='item']"
        "[*[local-name()='category']='cmr']/*[local-name()='name']/text()"
    )
    assert set(cmr) == SUBMUNITIONS
    # Sensor-fuzed munitions are excluded from the definition (CCM Art. 2(2)(c)).
    sensor_fuzed = "//*[local-name()='item'][*[local-name()='name']='sensor_fuzed']"
    (item,) = FilledForm("clearance_report", hazard_areas()).xform.xpath(sensor_fuzed)
    assert item.xpath("string(*[local-name()='category'])") == "uxo"


def test_an_item_removed_for_later_destruction_gets_a_tag_reference() -> None:
    form = FilledForm("clearance_report", hazard_areas())
    form.answer(date_of_information=TODAY, hazard_area=HAZARD_AREA["name"], devices_found="yes")
    form.set_repeat(
        "devices",
        [
            {
                "device_id": "7f0c5a52-aaaa",
                "device_category": "cmr",
                "device_model": "blu_26",
                "quantity": "3",
                "disposal": "destroyed_in_situ",
            },
            {
                "device_id": "1b2c3d4e-bbbb",
                "device_category": "cmr",
                "device_model": "m77",
                "quantity": "2",
                "disposal": "removed_for_destruction",
            },
        ],
    )
    items = form.root.findall("devices")
    assert [i.findtext("holding_ref") for i in items] == ["", "EO-1b2c3d4e"]
    assert form.value("devices_total") == "5"
    assert form.value("destroyed_total") == "3"  # the removed items are not destroyed yet


def test_later_destruction_closes_tagged_items() -> None:
    form = FilledForm("eod_report").answer(
        date_of_information=TODAY, report_type="later_destruction"
    )
    assert form.is_relevant("destroyed_items")
    assert not form.is_relevant("spot_task")
    form.set_repeat(
        "destroyed_items",
        [
            {
                "destroyed_item_id": "x-1",
                "destroyed_holding_ref": "EO-1b2c3d4e",
                "destroyed_category": "cmr",
                "destroyed_model": "m77",
                "destroyed_quantity": "2",
            },
        ],
    )
    assert form.value("destroyed_later_total") == "2"
    item = form.root.find("later_destruction/destroyed_items")
    constraint = form._bind_attribute(
        "/data/later_destruction/destroyed_items/destroyed_holding_ref", "constraint"
    )
    assert constraint and form.condition(constraint, item.find("destroyed_holding_ref"))
    item.find("destroyed_holding_ref").text = "tag 12"
    assert not form.condition(constraint, item.find("destroyed_holding_ref"))


def test_an_eod_spot_task_outside_any_hazard_area_can_be_reported() -> None:
    form = FilledForm("eod_report").answer(
        date_of_information=TODAY, report_type="spot_task", admin1="LA09", admin2="LA0903"
    )
    assert form.is_relevant("spot_task")
    assert form.value("admin_area") == "Nonghed, Xiengkhuang"
    assert form.accepts("in_hazard_area", "no")
    assert form.accepts("in_hazard_area", "unknown")
    assert not form.accepts("in_hazard_area", "yes")
    form.answer(location_safe="yes", devices_found="yes")
    form.set_repeat(
        "devices",
        [
            {
                "device_id": "d-1",
                "device_category": "uxo",
                "device_model": "mortar_60",
                "quantity": "1",
                "disposal": "destroyed_in_situ",
                "device_condition": "damaged",
            }
        ],
    )
    assert form.value("destroyed_total") == "1"
    assert FilledForm("eod_report").root.find("meta/entity") is None


def test_evidence_points_for_every_type_of_contamination() -> None:
    form = FilledForm("hazard_report", hazard_areas()).answer(report_mode="new_area")
    assert not form.is_relevant("evidence_points")
    form.answer(contamination_types="ap_mine")
    assert form.is_relevant("evidence_points")
    form.set_repeat(
        "evidence_points",
        [
            {
                "evidence_point_id": "e-1",
                "evidence_point_type": "device_seen",
                "evidence_category": "ap_mine",
                "evidence_model": "pmn_2",
                "evidence_quantity": "4",
            }
        ],
    )
    item = form.root.find("evidence_points")
    model = "/data/evidence_points/evidence_model"
    relevant = form._bind_attribute(model, "relevant")
    assert relevant and form.condition(relevant, item.find("evidence_model"))
    item.find("evidence_point_type").text = "strike_mark"
    assert not form.condition(relevant, item.find("evidence_model"))
