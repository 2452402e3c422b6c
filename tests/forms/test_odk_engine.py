"""The form library in ODK's own XForms engine (@getodk/xforms-engine, the engine of ODK Web
Forms, run by tests/forms/odk_engine/run_form.mjs): every form loads in each of its languages
with every label in that language, and forms filled through the engine in each language are
valid and are accepted by the server over HTTP as Collect sends them."""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from lxml import etree

from server.gazetteer import service as gazetteer
from server.projects.models import Project
from tests.conftest import LiveServer
from tests.factories import Factories

from .conftest import RunForm
from .test_form_library import FORM_IDS, LANGUAGE
from .xform_eval import GAZETTEER_CSV, bundled_gazetteer, compile_form

TRANSLATIONS = ("Lao (lo)", "Khmer (km)", "Vietnamese (vi)")
LANGUAGES = (LANGUAGE, *TRANSLATIONS)
OPENROSA = {"X-OpenRosa-Version": "1.0"}
# Choices read from a media CSV (gazetteer places, entity labels) read the same in every language.
MEDIA_ROWS = {row["name"] for row in bundled_gazetteer()} | {"ha-1", "sv-1"}
XFORMS_LIST = {"x": "http://openrosa.org/xforms/xformsList"}
MANIFEST = {"m": "http://openrosa.org/xforms/xformsManifest"}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compiled forms and their media files (gazetteer, one row per entity list)."""
    folder = tmp_path_factory.mktemp("odk_engine_library")
    for form_id in FORM_IDS:
        (folder / f"{form_id}.xml").write_text(compile_form(form_id)[0], encoding="utf-8")
    (folder / "gazetteer.csv").write_bytes(GAZETTEER_CSV.read_bytes())
    (folder / "hazard_areas.csv").write_text("name,label\nha-1,HA-0001\n", encoding="utf-8")
    (folder / "survivors.csv").write_text("name,label\nsv-1,SV-0001\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def labels(odk_engine: RunForm, library: Path) -> Any:
    """The engine's labels of every control of a form, by language (one engine run a form)."""

    @functools.cache
    def of(form_id: str) -> dict[str, dict[str, dict[str, Any]]]:
        report = odk_engine(library / f"{form_id}.xml", library, languages=LANGUAGES)
        assert report["languages"] == list(LANGUAGES)
        return {
            language: {node["ref"]: node for node in nodes}
            for language, nodes in report["labels"].items()
        }

    return of


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("form_id", FORM_IDS)
def test_every_label_is_shown_in_each_language(labels: Any, form_id: str, language: str) -> None:
    by_language = labels(form_id)
    shown, english = by_language[language], by_language[LANGUAGE]
    assert len(shown) >= 10 and set(shown) == set(english)
    for ref, node in shown.items():
        assert (node["label"] or "").strip(), f"{ref} has no label in {language}"
        for option in node.get("options", []):
            assert option["label"].strip(), f"{ref} choice {option['value']} in {language}"
        if language != LANGUAGE:
            assert node["label"] != english[ref]["label"], f"{ref} is English in {language}"
            choices = {o["value"] for o in node.get("options", [])}
            if choices and not choices <= MEDIA_ROWS:
                translated = [o["label"] for o in node["options"]]
                assert translated != [o["label"] for o in english[ref]["options"]], ref


# Realistic fillings, by node path, in the order a team fills the form.
FILLINGS: dict[str, list[tuple[str, str]]] = {
    "eore_session": [
        ("/data/organisation", "Lao National UXO Programme"),
        ("/data/admin1", "LA09"),
        ("/data/admin2", "LA0901"),
        ("/data/village", "Ban Nam Ngum"),
        ("/data/place_name", "Ban Nam Ngum primary school"),
        ("/data/method", "school_lesson"),
        ("/data/audience", "school_children teachers"),
        ("/data/cm_specific", "yes"),
        ("/data/hazard_topics", "cmr safe_behaviour"),
        ("/data/beneficiaries/girls_10_17", "12"),
        ("/data/beneficiaries/boys_10_17", "14"),
        ("/data/beneficiaries/women_18_45", "2"),
        ("/data/first_time_participants", "20"),
        ("/data/disability/disabled_boys", "1"),
    ],
    "accident_report": [
        ("/data/organisation", "Humanity & Inclusion"),
        ("/data/accident_date", "2026-11-20"),
        ("/data/admin1", "LA09"),
        ("/data/admin2", "LA0901"),
        ("/data/village", "Ban Phonsavan"),
        ("/data/place_name", "Rice field east of the village"),
        ("/data/location_safe", "yes"),
        ("/data/accident_location", "19.45 103.2 1100 4"),
        ("/data/in_hazard_area", "no"),
        ("/data/accident_type", "mine_erw_accident"),
        ("/data/device_category", "cmr"),
        ("/data/cm_event", "remnant"),
        ("/data/device_model", "unknown"),
        ("/data/activity_at_time", "farming"),
        ("/data/description", "A hoe struck a submunition while weeding"),
        ("/data/casualties[1]/casualty_group", "civilian"),
        ("/data/casualties[1]/casualty_outcome", "injured"),
        ("/data/casualties[1]/sex", "male"),
        ("/data/casualties[1]/age_known", "yes"),
        ("/data/casualties[1]/age", "34"),
        ("/data/casualties[1]/survivor_code", "SV-0042"),
    ],
    "hazard_report": [
        ("/data/organisation", "Mines Advisory Group"),
        ("/data/task_id", "NTS-2026-0117"),
        ("/data/activity_start_date", "2026-11-24"),
        ("/data/activity_end_date", "2026-11-25"),
        ("/data/report_mode", "new_area"),
        ("/data/area/ha_code", "HA-0145"),
        ("/data/area/hazard_type", "cha"),
        ("/data/area/status", "confirmed"),
        ("/data/place/admin1", "LA09"),
        ("/data/place/admin2", "LA0901"),
        ("/data/place/village", "Ban Na"),
        ("/data/contamination/contamination_types", "cmr"),
        ("/data/contamination/evidence", "indirect"),
        ("/data/contamination/information_sources", "community survivor"),
        ("/data/land_release/estimated_area_m2", "12500"),
        ("/data/land/land_use", "agriculture"),
        ("/data/land/blockages", "farmland"),
        ("/data/land/priority", "high"),
        ("/data/land/marking_status", "not_marked"),
        ("/data/land/landowner_type", "community"),
        ("/data/beneficiaries/direct_women", "14"),
        ("/data/beneficiaries/direct_men", "12"),
        ("/data/beneficiaries/direct_girls", "9"),
        ("/data/beneficiaries/direct_boys", "11"),
        ("/data/beneficiaries/indirect_women", "40"),
        ("/data/beneficiaries/indirect_men", "38"),
        ("/data/beneficiaries/indirect_girls", "20"),
        ("/data/beneficiaries/indirect_boys", "22"),
        ("/data/location/location_safe", "no"),
        ("/data/location/location_unsafe_reason", "Submunitions seen along the field edge"),
        ("/data/evidence_points[1]/evidence_point_type", "device_seen"),
        ("/data/evidence_points[1]/evidence_category", "cmr"),
        ("/data/evidence_points[1]/evidence_model", "unknown"),
        ("/data/evidence_points[1]/evidence_quantity", "3"),
    ],
    "survivor_needs_assessment": [
        ("/data/organisation", "Lao Disabled People's Association"),
        ("/data/consent/purpose_explained", "yes"),
        ("/data/consent/respondent", "survivor"),
        ("/data/consent/consent_given", "yes"),
        ("/data/consent/consent_followup", "yes"),
        ("/data/consent/consent_sharing", "yes"),
        ("/data/demographics/survivor_code", "SV-0042"),
        ("/data/demographics/pii_full_name", "Khamphan Vongsa"),
        ("/data/demographics/sex", "male"),
        ("/data/demographics/year_of_birth", "1992"),
        ("/data/demographics/admin1", "LA09"),
        ("/data/demographics/admin2", "LA0901"),
        ("/data/demographics/village", "Ban Phonsavan"),
        ("/data/demographics/household_size", "5"),
        ("/data/demographics/survivor_category", "injured"),
        ("/data/washington_group/wg_self/wg_seeing", "no_difficulty"),
        ("/data/washington_group/wg_self/wg_hearing", "no_difficulty"),
        ("/data/washington_group/wg_self/wg_walking", "a_lot_of_difficulty"),
        ("/data/washington_group/wg_self/wg_remembering", "no_difficulty"),
        ("/data/washington_group/wg_self/wg_selfcare", "some_difficulty"),
        ("/data/washington_group/wg_self/wg_communicating", "no_difficulty"),
        ("/data/event/event_date", "2026-11-20"),
        ("/data/event/event_device", "cmr"),
        ("/data/event/event_activity", "farming"),
        ("/data/injuries/injuries", "amputation_lower_limb fragment_wounds"),
        ("/data/injuries/emergency_care", "yes"),
        ("/data/injuries/time_to_care", "within_6_hours"),
        ("/data/injuries/ongoing_medical_care", "yes"),
        ("/data/rehabilitation/devices_used", "crutches"),
        ("/data/rehabilitation/devices_needed", "prosthesis"),
        ("/data/rehabilitation/physiotherapy_received", "no"),
        ("/data/rehabilitation/physiotherapy_needed", "yes"),
        ("/data/psychological/psych_support_received", "no"),
        ("/data/psychological/psych_support_wanted", "yes"),
        ("/data/psychological/peer_support_member", "no"),
        ("/data/socio_economic/main_livelihood", "farming"),
        ("/data/socio_economic/income_lost", "yes"),
        ("/data/socio_economic/economic_support", "none"),
        ("/data/socio_economic/social_protection", "no"),
        ("/data/accessibility/aware_of_rights", "no"),
        ("/data/accessibility/barriers", "transport cost"),
        ("/data/accessibility/community_participation", "yes"),
        ("/data/needs_and_referrals/needs", "prosthesis psychosocial"),
        ("/data/needs_and_referrals/referrals[1]/referral_need", "prosthesis"),
        ("/data/needs_and_referrals/referrals[1]/referral_provider", "COPE Vientiane"),
        ("/data/needs_and_referrals/referrals[1]/referral_date", "2026-11-30"),
        ("/data/needs_and_referrals/referrals[1]/referral_item_status", "open"),
        ("/data/needs_and_referrals/next_followup_date", "2027-01-15"),
    ],
    "eod_report": [
        ("/data/organisation", "Norwegian People's Aid"),
        ("/data/team", "EOD team 3"),
        ("/data/task_id", "EOD-2026-0311"),
        ("/data/report_type", "spot_task"),
        ("/data/spot_task/call_source", "community"),
        ("/data/spot_task/in_hazard_area", "no"),
        ("/data/spot_task/admin1", "LA09"),
        ("/data/spot_task/admin2", "LA0901"),
        ("/data/spot_task/village", "Ban Thongkang"),
        ("/data/spot_task/location_safe", "no"),
        ("/data/spot_task/location_unsafe_reason", "Item found in a flooded rice paddy"),
        ("/data/spot_task/devices_found", "yes"),
        ("/data/spot_task/devices[1]/device_category", "cmr"),
        ("/data/spot_task/devices[1]/device_model", "unknown"),
        ("/data/spot_task/devices[1]/quantity", "2"),
        ("/data/spot_task/devices[1]/depth_cm", "10"),
        ("/data/spot_task/devices[1]/device_condition", "intact_fuzed"),
        ("/data/spot_task/devices[1]/disposal", "destroyed_in_situ"),
    ],
}
# What the engine computes from those answers (calculations the server stores).
COMPUTED = {
    "eore_session": {
        "admin_area": "Pek, Xiengkhuang",
        "total_beneficiaries": "28",
        "repeat_participants": "8",
        "participants_with_disability": "1",
    },
    "accident_report": {"admin_area": "Pek, Xiengkhuang", "injured_total": "1"},
    "hazard_report": {
        "admin_area": "Pek, Xiengkhuang",
        "remaining_area_m2": "12500.0",
        "direct_beneficiaries": "46",
        "indirect_beneficiaries": "120",
    },
    "survivor_needs_assessment": {
        "admin_area": "Pek, Xiengkhuang",
        "referral_status": "open",
        "open_referral_needs": "prosthesis",
        "case_status": "active",
    },
    "eod_report": {"admin_area": "Pek, Xiengkhuang", "devices_total": "2", "destroyed_total": "2"},
}
# How the engine writes some answers back (decimals with a fraction part).
WRITTEN = {"accident_location": "19.45 103.2 1100.0 4.0", "estimated_area_m2": "12500.0"}
COMPLETED = sorted(FILLINGS)


def values(xml: str) -> dict[str, str]:
    """Leaf values of an instance by element name (the first of each name)."""
    found: dict[str, str] = {}
    for element in etree.fromstring(xml.encode()).iter():
        if len(element) == 0 and isinstance(element.tag, str):
            found.setdefault(etree.QName(element).localname, element.text or "")
    return found


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("form_id", COMPLETED)
def test_the_engine_completes_the_form_in_each_language(
    odk_engine: RunForm, library: Path, form_id: str, language: str
) -> None:
    report = odk_engine(
        library / f"{form_id}.xml", library, language=language, answers=FILLINGS[form_id]
    )
    assert report["language"] == language
    assert report["violations"] == []
    assert report["status"] == "ready"
    got = values(report["submission"])
    for ref, value in FILLINGS[form_id]:
        name = ref.rsplit("/", 1)[1]
        assert got[name] == WRITTEN.get(name, value), name
    for name, value in COMPUTED[form_id].items():
        assert got[name] == value, name
    assert re.fullmatch(r"uuid:[0-9a-f-]{36}", got["instanceID"])


def test_the_engine_reports_what_is_missing_and_what_breaks_a_constraint(
    odk_engine: RunForm, library: Path
) -> None:
    answers = [a for a in FILLINGS["eore_session"] if a[0] != "/data/place_name"]
    answers.append(("/data/date_of_information", "2999-01-01"))
    report = odk_engine(library / "eore_session.xml", library, language="Lao (lo)", answers=answers)
    assert report["status"] == "pending"
    found = {(v["ref"], v["condition"]) for v in report["violations"]}
    assert found == {("/data/place_name", "required"), ("/data/date_of_information", "constraint")}


class Tablet:
    """What ODK Collect does over HTTP: the form list, the form, its media, a submission."""

    def __init__(self, server: LiveServer, base_path: str, folder: Path) -> None:
        self.base = f"{server.url}{base_path}"
        self.folder = folder
        self.http = requests.Session()
        self.http.headers.update(OPENROSA)

    def download(self, form_id: str) -> Path:
        listing = etree.fromstring(self.http.get(f"{self.base}/formList", timeout=10).content)
        (entry,) = listing.xpath(f"x:xform[x:formID='{form_id}']", namespaces=XFORMS_LIST)
        form = self.http.get(entry.findtext("x:downloadUrl", namespaces=XFORMS_LIST), timeout=10)
        assert form.status_code == 200
        path = self.folder / f"{form_id}.xml"
        path.write_bytes(form.content)
        manifest_url = entry.findtext("x:manifestUrl", namespaces=XFORMS_LIST)
        manifest = self.http.get(manifest_url, timeout=10)
        for media in etree.fromstring(manifest.content).findall("m:mediaFile", MANIFEST):
            name = media.findtext("m:filename", namespaces=MANIFEST) or ""
            url = media.findtext("m:downloadUrl", namespaces=MANIFEST) or ""
            (self.folder / name).write_bytes(self.http.get(url, timeout=30).content)
        return path

    def submit(self, xml: str) -> requests.Response:
        files = [("xml_submission_file", ("submission.xml", xml.encode(), "text/xml"))]
        return self.http.post(f"{self.base}/submission", files=files, timeout=30)


@pytest.fixture
def tablet(
    app: Flask, factories: Factories, live_server: LiveServer, tmp_path: Path
) -> tuple[Tablet, Any, Project]:
    project = factories.project()
    factories.publish_library(project)
    with factories.session() as session:
        db_project = session.get(Project, project.id)
        assert db_project is not None
        gazetteer.publish(session, factories.runtime.blobs, db_project)
        session.commit()
    device = factories.device(
        project, forms_assigned=("survivor_needs_assessment", "survivor_followup")
    )
    coordinator = factories.logged_in(project, "coordinator")
    return Tablet(live_server, device.base_path, tmp_path), coordinator, project


@pytest.mark.parametrize(
    ("form_id", "language"),
    # hazard_report and survivor_needs_assessment are submitted in every language as the first
    # step of the chains below.
    [
        (form_id, language)
        for form_id in ("eore_session", "accident_report", "eod_report")
        for language in LANGUAGES
    ],
)
def test_a_form_the_engine_filled_is_accepted_by_the_server(
    odk_engine: RunForm,
    tablet: tuple[Tablet, Any, Project],
    live_server: LiveServer,
    form_id: str,
    language: str,
) -> None:
    device, coordinator, project = tablet
    form = device.download(form_id)
    assert (device.folder / "gazetteer.csv").read_bytes() == GAZETTEER_CSV.read_bytes()
    report = odk_engine(
        form,
        device.folder,
        language=language,
        answers=FILLINGS[form_id],
        preload={"deviceID": "collect:engine-test", "username": "team 1"},
    )
    assert report["violations"] == []
    sent = report["submission"]
    response = device.submit(sent)
    assert response.status_code == 201, response.text
    instance_id = values(sent)["instanceID"]
    stored = requests.get(
        f"{live_server.url}/api/v1/projects/{project.id}/forms/{form_id}/submissions/{instance_id}",
        headers=coordinator.headers,
        timeout=10,
    )
    assert stored.status_code == 200, stored.text
    kept = values(stored.json()["xml"])
    for ref, value in FILLINGS[form_id]:
        name = ref.rsplit("/", 1)[1]
        assert kept[name] == WRITTEN.get(name, value), name
    for name, value in COMPUTED[form_id].items():
        assert kept[name] == value, name
    assert kept["deviceid"] == "collect:engine-test"


def clearance_of(hazard_area: str) -> list[tuple[str, str]]:
    """A day of manual clearance on one hazard area: 2,500 m² cleared, nothing found."""
    return [
        ("/data/organisation", "Mines Advisory Group"),
        ("/data/team", "Clearance team 2"),
        ("/data/task_id", "CL-2026-0042"),
        ("/data/hazard_area", hazard_area),
        ("/data/activity/method", "clearance"),
        ("/data/activity/assets", "manual"),
        ("/data/activity/period_start", "2026-11-26"),
        ("/data/activity/period_end", "2026-11-28"),
        ("/data/activity/clearance_depth_cm", "20"),
        ("/data/land_released/area_cleared_m2", "2500"),
        ("/data/location/location_safe", "no"),
        ("/data/location/location_unsafe_reason", "Worksite not yet cleared to the marked lane"),
        ("/data/devices_found", "no"),
        ("/data/outcome/contamination_types", "cmr"),
        ("/data/outcome/status", "in_clearance"),
    ]


def completion_of(hazard_area: str) -> list[tuple[str, str]]:
    """The end of work on the area: the last 10,000 m² cleared, QA done, the area closed."""
    return [
        ("/data/organisation", "Mines Advisory Group"),
        ("/data/task_id", "CL-2026-0042"),
        ("/data/activity_start_date", "2026-11-26"),
        ("/data/activity_end_date", "2026-11-30"),
        ("/data/hazard_area", hazard_area),
        ("/data/status", "cleared"),
        ("/data/land_released/area_cleared_m2", "10000"),
        ("/data/location/location_safe", "no"),
        ("/data/location/location_unsafe_reason", "Boundary walk planned after the rains"),
        ("/data/land_use", "agriculture"),
        ("/data/beneficiaries/direct_women", "14"),
        ("/data/beneficiaries/direct_men", "12"),
        ("/data/quality/qa_inspected", "yes"),
        ("/data/quality/qa_organisation", "National Regulatory Authority"),
        ("/data/quality/qa_date", "2026-11-30"),
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_hazard_area_reported_through_the_engine_is_cleared_and_closed_through_it(
    odk_engine: RunForm, tablet: tuple[Tablet, Any, Project], language: str
) -> None:
    device, _, _ = tablet
    reported = odk_engine(
        device.download("hazard_report"),
        device.folder,
        language=language,
        answers=FILLINGS["hazard_report"],
    )
    assert reported["violations"] == []
    assert device.submit(reported["submission"]).status_code == 201
    hazard_area = values(reported["submission"])["new_hazard_area_id"]

    form = device.download("clearance_report")  # with the hazard_areas.csv the server made
    listed = (device.folder / "hazard_areas.csv").read_text(encoding="utf-8")
    assert hazard_area in listed
    cleared = odk_engine(form, device.folder, language=language, answers=clearance_of(hazard_area))
    assert cleared["violations"] == []
    got = values(cleared["submission"])
    assert got["hazard_area"] == hazard_area
    assert float(got["previous_remaining_m2"]) == 12500  # read from the server's entity list
    assert float(got["remaining_area_m2"]) == 10000
    assert device.submit(cleared["submission"]).status_code == 201
    device.download("clearance_report")
    with (device.folder / "hazard_areas.csv").open(encoding="utf-8", newline="") as handle:
        (row,) = [r for r in csv.DictReader(handle) if r["name"] == hazard_area]
    assert float(row["remaining_area_m2"]) == 10000
    assert float(row["cleared_area_m2"]) == 2500

    form = device.download("completion_report")
    completed = odk_engine(
        form, device.folder, language=language, answers=completion_of(hazard_area)
    )
    assert completed["violations"] == []
    got = values(completed["submission"])
    assert float(got["previous_remaining_m2"]) == 10000
    assert device.submit(completed["submission"]).status_code == 201
    device.download("completion_report")
    with (device.folder / "hazard_areas.csv").open(encoding="utf-8", newline="") as handle:
        (row,) = [r for r in csv.DictReader(handle) if r["name"] == hazard_area]
    assert float(row["remaining_area_m2"]) == 0
    assert row["status"] == "cleared"


def followup_of(survivor: str) -> list[tuple[str, str]]:
    """A follow-up visit: the prosthesis referral completed, no new referral, case open."""
    return [
        ("/data/organisation", "Lao Disabled People's Association"),
        ("/data/survivor", survivor),
        ("/data/contact_made", "reached"),
        ("/data/consent_continue", "yes"),
        ("/data/followup/consent_sharing_now", "yes"),
        ("/data/followup/referral_updates[1]/referral_item_status", "completed"),
        ("/data/followup/referral_updates[1]/referral_outcome", "Prosthesis fitted at COPE"),
        ("/data/followup/new_referrals", "0"),
        ("/data/followup/needs_met", "prosthesis"),
        ("/data/followup/referral_status_now", "completed"),
        ("/data/case_status_now", "active"),
        ("/data/next_followup_date_now", "2027-03-01"),
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_survivor_registered_through_the_engine_is_followed_up_through_it(
    odk_engine: RunForm, tablet: tuple[Tablet, Any, Project], language: str
) -> None:
    device, _, _ = tablet
    assessed = odk_engine(
        device.download("survivor_needs_assessment"),
        device.folder,
        language=language,
        answers=FILLINGS["survivor_needs_assessment"],
    )
    assert device.submit(assessed["submission"]).status_code == 201
    survivor = etree.fromstring(assessed["submission"].encode()).find("meta/entity").get("id")

    form = device.download("survivor_followup")  # with the survivors.csv the server made
    followed = odk_engine(form, device.folder, language=language, answers=followup_of(survivor))
    assert followed["violations"] == []
    sent = values(followed["submission"])
    assert sent["open_referrals"] == "" and sent["referral_status"] == "completed"
    assert device.submit(followed["submission"]).status_code == 201
    device.download("survivor_followup")
    with (device.folder / "survivors.csv").open(encoding="utf-8", newline="") as handle:
        (row,) = [r for r in csv.DictReader(handle) if r["name"] == survivor]
    assert row["next_followup_date"] == "2027-03-01"
    assert row["referral_status"] == "completed"
    assert row["needs"] == "psychosocial"  # the prosthesis need was met
