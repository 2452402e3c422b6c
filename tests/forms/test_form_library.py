"""The XLSForm library in forms/: every form compiles cleanly and holds what the field needs.

Checks run on the XForm that pyxform 4.5 compiles from each committed workbook, the same XML
the server hands to ODK Collect, plus the workbook cells for what the XML does not keep.
"""

from __future__ import annotations

import re

import pytest
from lxml import etree

from .xform_eval import FORMS_DIR, NS, compile_form, load_build, parsed_form

FORM_IDS = (
    "hazard_report",
    "clearance_report",
    "completion_report",
    "eore_session",
    "accident_report",
    "survivor_needs_assessment",
    "survivor_followup",
    "eod_report",
)
LANGUAGE = "English (en)"

# The entity list properties of the shared contract (names and allowed choice values).
STATUSES = {
    "suspected",
    "confirmed",
    "in_clearance",
    "cleared",
    "handed_over",
    "cancelled",
    "reduced",
}
HAZARD_AREA_PROPERTIES: dict[str, set[str] | None] = {
    "ha_code": None,
    "hazard_type": {"sha", "cha"},
    "status": STATUSES,
    "contamination_types": {"ap_mine", "at_mine", "cmr", "uxo", "ao", "ied"},
    "evidence": {"direct", "indirect"},
    "estimated_area_m2": None,
    "remaining_area_m2": None,
    "cleared_area_m2": None,
    "cancelled_area_m2": None,
    "reduced_area_m2": None,
    "land_use": {"agriculture", "grazing", "housing", "forest", "infrastructure", "other"},
    "blockages": {"access_road", "water_source", "school", "health_facility", "farmland", "none"},
    "priority": {"high", "medium", "low"},
    "marking_status": {"marked", "partly_marked", "not_marked"},
    "marking_type": {
        "permanent_signs",
        "temporary_signs",
        "fence",
        "painted_posts",
        "local_marking",
        "other",
    },
    "landowner_type": {"private", "community", "state", "religious", "company", "unknown"},
    "admin1_pcode": None,
    "admin2_pcode": None,
    "admin3_pcode": None,
    "village": None,
    "admin_area": None,
    "benchmark": None,
    "perimeter": None,
    "cancelled_shape": None,
    "reduced_shape": None,
    "cleared_shape": None,
    "date_of_information": None,
}
SHAPES = {"cancelled_shape", "reduced_shape", "cleared_shape"}
SURVIVOR_PROPERTIES: dict[str, set[str] | None] = {
    "survivor_code": None,
    "sex": {"female", "male"},
    "year_of_birth": None,
    "admin1_pcode": None,
    "admin2_pcode": None,
    "admin3_pcode": None,
    "village": None,
    "admin_area": None,
    "disability_status": {"yes", "no", "unknown"},
    "needs": {
        "medical",
        "rehabilitation",
        "prosthesis",
        "psychosocial",
        "livelihood",
        "education",
        "social_protection",
        "accessibility",
        "legal",
        "other",
    },
    "referral_status": {
        "none",
        "open",
        "in_progress",
        "waiting_list",
        "completed",
        "declined",
        "service_not_available",
        "rejected_by_provider",
    },
    "open_referrals": None,
    "open_referral_needs": None,
    "case_status": {"active", "closed", "deceased", "moved_away", "lost_to_follow_up"},
    "next_followup_date": None,
    "consent_followup": {"yes", "no"},
    "consent_sharing": {"yes", "no"},
    "last_contact_date": None,
    "date_of_information": None,
}
CONTRACT = {"hazard_areas": HAZARD_AREA_PROPERTIES, "survivors": SURVIVOR_PROPERTIES}

# What each form does to which entity list, and which properties it saves.
ENTITY_USE = {
    "hazard_report": (
        "hazard_areas",
        {"create", "update"},
        set(HAZARD_AREA_PROPERTIES) - {"cleared_area_m2", "reduced_area_m2"} - SHAPES,
    ),
    "clearance_report": (
        "hazard_areas",
        {"update"},
        {
            "status",
            "remaining_area_m2",
            "cleared_area_m2",
            "cancelled_area_m2",
            "reduced_area_m2",
            "contamination_types",
            "hazard_type",
            "evidence",
            "date_of_information",
            *SHAPES,
        },
    ),
    "completion_report": (
        "hazard_areas",
        {"update"},
        {
            "status",
            "remaining_area_m2",
            "cleared_area_m2",
            "cancelled_area_m2",
            "reduced_area_m2",
            "land_use",
            "date_of_information",
            *SHAPES,
        },
    ),
    "survivor_needs_assessment": ("survivors", {"create"}, set(SURVIVOR_PROPERTIES)),
    "survivor_followup": (
        "survivors",
        {"update"},
        {
            "consent_followup",
            "consent_sharing",
            "needs",
            "referral_status",
            "open_referrals",
            "open_referral_needs",
            "case_status",
            "next_followup_date",
            "last_contact_date",
            "date_of_information",
        },
    ),
}

WASHINGTON_GROUP_SHORT_SET = {
    "wg_seeing": "Do you have difficulty seeing, even if wearing glasses?",
    "wg_hearing": "Do you have difficulty hearing, even if using a hearing aid?",
    "wg_walking": "Do you have difficulty walking or climbing steps?",
    "wg_remembering": "Do you have difficulty remembering or concentrating?",
    "wg_selfcare": "Do you have difficulty (with self-care such as) washing all over or dressing?",
    "wg_communicating": (
        "Using your usual (customary) language, do you have difficulty communicating, "
        "for example understanding or being understood?"
    ),
}
# Verbatim, with the Washington Group's en dash (U+2013).
WG_ANSWERS = [
    "No \u2013 no difficulty",
    "Yes \u2013 some difficulty",
    "Yes \u2013 a lot of difficulty",
    "Cannot do at all",
    "Don't know (interviewer only: do not read out)",
    "Refused (interviewer only: do not read out)",
]


build = load_build()


def model(form_id: str) -> etree._Element:
    return parsed_form(form_id).find("h:head/xf:model", NS)


def binds(form_id: str) -> dict[str, dict[str, str]]:
    """Bind attributes by nodeset, namespace prefixes dropped (entities:saveto -> saveto)."""
    return {
        b.get("nodeset"): {etree.QName(k).localname: v for k, v in b.attrib.items()}
        for b in model(form_id).findall("xf:bind", NS)
    }


def itext(form_id: str, language: str = LANGUAGE) -> dict[str, str]:
    translation = model(form_id).find(f"xf:itext/xf:translation[@lang='{language}']", NS)
    return {t.get("id"): "".join(t.find("xf:value", NS).itertext()) for t in translation}


def choice_labels(form_id: str, list_name: str) -> dict[str, str]:
    texts = itext(form_id)
    instance = model(form_id).find(f"xf:instance[@id='{list_name}']", NS)
    return {
        item.findtext("xf:name", namespaces=NS): texts[item.findtext("xf:itextId", namespaces=NS)]
        for item in instance.iterfind("xf:root/xf:item", NS)
    }


def primary_instance(form_id: str) -> etree._Element:
    instance = next(i for i in model(form_id).findall("xf:instance", NS) if "id" not in i.attrib)
    return instance[0]


def field_path(form_id: str, name: str) -> str:
    data = primary_instance(form_id)
    node = next(data.iter(f"{{{NS['xf']}}}{name}"))
    lineage = [node, *node.iterancestors()]
    return "/" + "/".join(
        etree.QName(n).localname for n in reversed(lineage[: lineage.index(data) + 1])
    )


def saved_properties(form_id: str) -> dict[str, str]:
    return {b["saveto"]: path for path, b in binds(form_id).items() if "saveto" in b}


def controls(form_id: str, path: str) -> list[etree._Element]:
    """The body controls (input, select...) bound to path; setvalue actions are not controls."""
    found = parsed_form(form_id).xpath(
        f"h:body//*[@ref='{path}' and local-name() != 'setvalue']", namespaces=NS
    )
    assert isinstance(found, list)
    return [c for c in found if isinstance(c, etree._Element)]


def control(form_id: str, path: str) -> etree._Element:
    (found,) = controls(form_id, path)
    return found


def list_of(form_id: str, path: str) -> str:
    """The choice list behind the select at path, from the body's itemset."""
    itemset = control(form_id, path).find("xf:itemset", NS)
    match = re.match(r"instance\('([^']+)'\)", itemset.get("nodeset"))
    assert match, path
    return match.group(1)


def test_the_library_holds_exactly_the_eight_forms() -> None:
    assert sorted(p.stem for p in FORMS_DIR.glob("*.xlsx")) == sorted(FORM_IDS)
    assert not (FORMS_DIR / "__init__.py").exists()


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_form_compiles_without_warnings(form_id: str) -> None:
    xform, warnings = compile_form(form_id)
    assert warnings == ()
    assert xform.startswith("<?xml")


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_settings_identify_the_form(form_id: str) -> None:
    data = primary_instance(form_id)
    assert etree.QName(data).localname == "data"
    assert data.get("id") == form_id
    assert re.fullmatch(r"20\d{8}", data.get("version"))
    title = parsed_form(form_id).findtext("h:head/h:title", namespaces=NS)
    assert title and title != form_id
    instance_name = binds(form_id)["/data/meta/instanceName"]["calculate"]
    assert instance_name.startswith(("concat(", "if("))
    assert "/data/date_of_information" in instance_name or "accident_date" in instance_name


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_metadata_and_date_of_information(form_id: str) -> None:
    form_binds = binds(form_id)
    for name in ("start", "end", "deviceid", "username"):
        assert form_binds[f"/data/{name}"]["preloadParams"] == name
    assert form_binds["/data/meta/instanceID"]["preload"] == "uid"
    date = form_binds["/data/date_of_information"]
    assert date["type"] == "date"
    assert date["required"] == "true()"
    assert date["constraint"] == ". <= today()"
    default = model(form_id).find("xf:setvalue[@ref='/data/date_of_information']", NS)
    assert default.get("value") == "today()"
    assert itext(form_id)["/data/date_of_information:label"] == "Date the facts were observed"


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_texts_are_tagged_english_so_translations_can_be_added(form_id: str) -> None:
    from .test_translations import TRANSLATED

    languages = [LANGUAGE, *TRANSLATED.get(form_id, ())]
    sheets = build.read_workbook(FORMS_DIR / f"{form_id}.xlsx")
    settings = dict(zip(*sheets["settings"], strict=True))
    assert settings["default_language"] == LANGUAGE
    for sheet in ("survey", "choices"):
        for column in sheets[sheet][0]:
            base = column.split("::")[0]
            if base in {"label", "hint", "constraint_message", "required_message"}:
                assert column.partition("::")[2] in languages, column
    translations = model(form_id).findall("xf:itext/xf:translation", NS)
    assert [(t.get("lang"), t.get("default")) for t in translations] == [
        (lang, "true()" if lang == LANGUAGE else None) for lang in languages
    ]
    for label in parsed_form(form_id).iterfind("h:body//xf:label", NS):
        if etree.QName(label.getparent()).localname != "itemset":  # entity list CSV labels
            assert label.get("ref", "").startswith("jr:itext(")


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_every_constraint_explains_itself(form_id: str) -> None:
    texts = itext(form_id)
    constrained = [p for p, b in binds(form_id).items() if "constraint" in b]
    assert constrained
    for path in constrained:
        assert len(texts[f"{path}:jr:constraintMsg"]) > 15


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_repeat_items_carry_an_id_made_on_the_device(form_id: str) -> None:
    form_binds = binds(form_id)
    repeats = [r.get("nodeset") for r in parsed_form(form_id).iterfind(".//xf:repeat", NS)]
    for repeat in repeats:
        if repeat == "/data/followup/referral_updates":
            # One item per open referral, named by the referral_id made when it was created.
            assert form_binds[f"{repeat}/referral_id"]["calculate"].startswith("selected-at(")
            continue
        ids = [
            p
            for p, b in form_binds.items()
            if p.rpartition("/")[0] == repeat and b.get("calculate") == "once(uuid())"
        ]
        assert len(ids) == 1, repeat
        assert ids[0].endswith("_id")
    expected = {
        "hazard_report": ["/data/evidence_points"],
        "clearance_report": ["/data/devices"],
        "accident_report": ["/data/casualties"],
        "survivor_needs_assessment": ["/data/needs_and_referrals/referrals"],
        "survivor_followup": ["/data/followup/referral_updates", "/data/followup/new_referrals"],
        "eod_report": ["/data/spot_task/devices", "/data/later_destruction/destroyed_items"],
    }
    assert repeats == expected.get(form_id, [])


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_entity_declaration_matches_the_contract(form_id: str) -> None:
    entity = primary_instance(form_id).find("xf:meta/xf:entity", NS)
    properties = saved_properties(form_id)
    if form_id not in ENTITY_USE:
        assert entity is None
        assert properties == {}
        return
    dataset, actions, expected_properties = ENTITY_USE[form_id]
    assert entity.get("dataset") == dataset
    assert model(form_id).get(f"{{{NS['entities']}}}entities-version") == "2024.1.0"
    assert {a for a in ("create", "update") if a in entity.attrib} == actions
    assert set(properties) == expected_properties
    form_binds = binds(form_id)
    if "update" in actions:
        for attribute in ("baseVersion", "trunkVersion", "branchId"):
            assert (
                f"instance('{dataset}')/root/item[name="
                in (form_binds[f"/data/meta/entity/@{attribute}"]["calculate"])
            )
    if "create" in actions:
        assert entity.find("xf:label", NS) is not None
    for prop, path in properties.items():
        allowed = CONTRACT[dataset][prop]
        if allowed is None:
            continue
        if controls(form_id, path):  # calculated properties have no control
            assert set(choice_labels(form_id, list_of(form_id, path))) <= allowed, prop


def test_hazard_report_creates_a_new_area_or_updates_a_chosen_one() -> None:
    form_binds = binds("hazard_report")
    assert form_binds["/data/meta/entity/@create"]["calculate"] == " /data/report_mode ='new_area'"
    assert (
        form_binds["/data/meta/entity/@update"]["calculate"]
        == " /data/report_mode ='existing_area'"
    )
    assert form_binds["/data/meta/entity/@id"]["calculate"] == (
        "coalesce( /data/existing_ha ,  /data/new_hazard_area_id )"
    )
    chooser = control("hazard_report", "/data/existing_ha")
    assert chooser.find("xf:itemset", NS).get("nodeset") == "instance('hazard_areas')/root/item"
    assert model("hazard_report").find("xf:instance[@id='hazard_areas']", NS).get("src") == (
        "jr://file-csv/hazard_areas.csv"
    )
    assert form_binds["/data/location/benchmark"]["type"] == "geopoint"
    assert form_binds["/data/location/perimeter"]["type"] == "geoshape"
    # Evidence points for every type of contamination, not only cluster munitions.
    assert form_binds["/data/evidence_points"]["relevant"] == (
        "count-selected( /data/contamination/contamination_types ) > 0"
    )
    for name in ("evidence_category", "evidence_model", "evidence_quantity"):
        assert f"/data/evidence_points/{name}" in form_binds
    # The geometry reaches the hazard area's record.
    properties = saved_properties("hazard_report")
    assert properties["benchmark"] == "/data/location/benchmark"
    assert properties["perimeter"] == "/data/location/perimeter"
    assert form_binds["/data/evidence_points/evidence_point_location"]["type"] == "geopoint"
    assert form_binds["/data/evidence_points/evidence_point_photo"]["type"] == "binary"


@pytest.mark.parametrize(
    ("form_id", "chooser", "csv"),
    [
        ("clearance_report", "hazard_area", "hazard_areas"),
        ("completion_report", "hazard_area", "hazard_areas"),
        ("survivor_followup", "survivor", "survivors"),
    ],
)
def test_updating_forms_pick_the_record_from_the_entity_list(
    form_id: str, chooser: str, csv: str
) -> None:
    assert list_of(form_id, f"/data/{chooser}") == csv
    entity_id = binds(form_id)["/data/meta/entity/@id"]["calculate"]
    assert entity_id == f" /data/{chooser} "


def test_clearance_report_records_devices_with_submunition_models() -> None:
    form_binds = binds("clearance_report")
    devices = "/data/devices"
    for name, kind in (
        ("device_category", "string"),
        ("device_model", "string"),
        ("quantity", "int"),
        ("depth_cm", "int"),
        ("disposal", "string"),
        ("device_location", "geopoint"),
        ("device_photo", "binary"),
    ):
        assert form_binds[f"{devices}/{name}"]["type"] == kind
    models = choice_labels("clearance_report", "device_model").values()
    assert {"BLU-26", "BLU-61", "BLU-97", "M42", "M77", "M46", "ShOAB-0.5"} <= set(models)
    assert {"BLU-3 (Pineapple)", "BLU-24 (Orange)", "9N210", "9N235"} <= set(models)
    assert "M42/M77" not in models
    assert set(choice_labels("clearance_report", "disposal")) == {
        "destroyed_in_situ",
        "removed_for_destruction",
        "render_safe",
        "handed_over",
    }
    assert form_binds[f"{devices}/device_condition"]["type"] == "string"
    # EOD spot tasks are reported with the EOD report, outside any hazard area.
    assert set(choice_labels("clearance_report", "method")) == {"nts", "ts", "clearance", "bac"}
    assert set(choice_labels("clearance_report", "assets")) == {
        "manual",
        "mechanical",
        "mdd",
        "none",
    }
    for area in ("cancelled", "reduced_asset", "reduced_no_asset", "cleared", "adjustment"):
        assert form_binds[f"/data/land_released/area_{area}_m2"]["type"] == "decimal"
    assert form_binds["/data/activity/clearance_depth_cm"]["type"] == "int"


def test_completion_report_counts_the_community_at_handover() -> None:
    form_binds = binds("completion_report")
    for group in ("men", "women", "boys", "girls"):
        assert form_binds[f"/data/handover/community_present/present_{group}"]["type"] == "int"
    assert set(choice_labels("completion_report", "completion_status")) <= STATUSES
    assert {"cleared", "handed_over"} <= set(
        choice_labels("completion_report", "completion_status")
    )


def test_eore_session_counts_beneficiaries_by_sex_and_age_band() -> None:
    form_binds = binds("eore_session")
    bands = ("0_9", "10_17", "18_45", "46_plus")
    counted = [
        p.rpartition("/")[2]
        for p, b in form_binds.items()
        if b.get("type") == "int" and "/beneficiaries/" in p
    ]
    assert sorted(counted) == sorted(
        f"{sex}_{band}"
        for band in bands
        for sex in (("girls", "boys") if band in ("0_9", "10_17") else ("women", "men"))
    )
    assert "calculate" in form_binds["/data/total_beneficiaries"]


def test_accident_report_lists_casualties() -> None:
    form_binds = binds("accident_report")
    for name in ("casualty_group", "casualty_outcome", "sex", "age"):
        assert f"/data/casualties/{name}" in form_binds
    assert set(choice_labels("accident_report", "casualty_outcome")) == {
        "killed",
        "injured",
        "unknown",
    }
    assert set(choice_labels("accident_report", "casualty_group")) == {
        "civilian",
        "deminer",
        "military_security",
    }
    assert set(choice_labels("accident_report", "sex")) == {"female", "male", "unknown"}
    assert set(choice_labels("accident_report", "accident_type")) == {
        "demining_accident",
        "mine_erw_accident",
    }
    assert set(choice_labels("accident_report", "cm_event")) == {"strike", "remnant"}
    assert form_binds["/data/casualties/age"]["required"] == "true()"
    assert form_binds["/data/casualties/age"]["relevant"] == " ../age_known ='yes'"
    assert "activity_at_time" in {p.rpartition("/")[2] for p in form_binds}


def test_survivor_assessment_asks_the_washington_group_short_set_word_for_word() -> None:
    texts = itext("survivor_needs_assessment")
    for name, question in WASHINGTON_GROUP_SHORT_SET.items():
        path = field_path("survivor_needs_assessment", name)
        assert texts[f"{path}:label"] == question
        assert list_of("survivor_needs_assessment", path) == "wg_answer"
    answers = choice_labels("survivor_needs_assessment", "wg_answer")
    assert list(answers.values()) == WG_ANSWERS


def test_survivor_assessment_asks_nothing_without_consent() -> None:
    form_binds = binds("survivor_needs_assessment")
    body = parsed_form("survivor_needs_assessment").find("h:body", NS)
    top_level = [c.get("ref") for c in body if c.get("ref")]
    # Only the interviewer's own details come before the consent group.
    assert top_level.index("/data/consent") == 2
    assert top_level[:2] == ["/data/date_of_information", "/data/organisation"]
    consent_gate = " /data/consent/consent_given ='yes'"
    for ref in top_level[3:]:
        assert form_binds[ref]["relevant"].startswith(consent_gate), ref
    for name in ("consent_followup", "consent_sharing"):
        assert form_binds[f"/data/consent/{name}"]["relevant"] == consent_gate
    # A survivor record is created only with consent to follow-up as well.
    assert form_binds["/data/meta/entity/@create"]["calculate"] == (
        f"{consent_gate} and  /data/consent/consent_followup ='yes'"
    )


def test_personal_data_is_marked_and_never_saved_to_the_entity_list() -> None:
    pii = {
        p.rpartition("/")[2]
        for p in binds("survivor_needs_assessment")
        if p.rpartition("/")[2].startswith("pii_")
    }
    assert {"pii_full_name", "pii_phone", "pii_home_location"} <= pii
    for form_id in FORM_IDS:
        for prop, path in saved_properties(form_id).items():
            assert not prop.startswith("pii_")
            assert not path.rpartition("/")[2].startswith("pii_")
    readme = (FORMS_DIR / "README.md").read_text(encoding="utf-8")
    assert "pii_" in readme


def test_readme_lists_every_form_and_property() -> None:
    readme = (FORMS_DIR / "README.md").read_text(encoding="utf-8")
    for form_id in FORM_IDS:
        assert f"`{form_id}`" in readme
    for properties in CONTRACT.values():
        for prop in properties:
            assert f"`{prop}`" in readme


def test_compiled_entity_block_keeps_the_shape_the_server_parses() -> None:
    form_binds = binds("clearance_report")
    entity = primary_instance("clearance_report").find("xf:meta/xf:entity", NS)
    assert sorted(entity.attrib) == sorted(
        ["dataset", "update", "baseVersion", "trunkVersion", "branchId", "id"]
    )
    for attribute in ("baseVersion", "trunkVersion", "branchId"):
        column = {"baseVersion": "__version"}.get(attribute, f"__{attribute}")
        assert form_binds[f"/data/meta/entity/@{attribute}"]["calculate"] == (
            f"instance('hazard_areas')/root/item[name= /data/hazard_area ]/{column}"
        )
