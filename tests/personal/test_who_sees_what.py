"""Every route that can carry personal data, fetched over HTTP by each role, and exactly what
each one sees: administrators, coordinators, viewers (partners, donors) and data collectors
never see a personal answer or property; a survivor caseworker sees them, audited; a
clearance team's tablet never gets the survivor forms or list, the victim-assistance tablet
gets only the list's device columns."""

from __future__ import annotations

import csv
import io
import json
import uuid

import requests

from server.ui.blueprint import SESSION_COOKIE
from tests.personal.conftest import Programme, zip_names, zip_text

PHONE = "+856 20 5555 1234"
HEALTH = "below-knee amputation"
NAME = "Khamla Phommachanh"
FACE = b"\xff\xd8 a photo of the person"
SITE = b"\xff\xd8 a photo of the place"
STAFF = ("administrator", "coordinator", "caseworker", "viewer")
EVERYONE = (*STAFF, "data_collector")


def register_case(p: Programme) -> tuple[str, str]:
    case = str(uuid.uuid4())
    filled = p.fill(
        "case_visit",
        entity_id=case,
        create=True,
        label="Ban Nakham",
        values={
            "village": "Ban Nakham",
            "phone": PHONE,
            "health": HEALTH,
            "person/pii_photo": "face.jpg",
            "site_photo": "site.jpg",
        },
    )
    assert p.submit(p.va_device, filled, {"face.jpg": FACE, "site.jpg": SITE}).status_code == 201
    # Two teams change the phone number from the same version: a conflict on a personal value.
    for number in ("+856 20 1111 1111", "+856 20 2222 2222"):
        update = p.fill(
            "case_visit",
            entity_id=case,
            update=True,
            base_version=1,
            values={"village": "Ban Nakham", "phone": number},
        )
        assert p.submit(p.other_device, update).status_code == 201
    return case, filled.instance_id


def register_survivor(p: Programme, code: str, sharing: str) -> tuple[str, str]:
    survivor = str(uuid.uuid4())
    filled = p.fill(
        "survivor_needs_assessment",
        entity_id=survivor,
        create=True,
        label=f"{code} Pek, Xiengkhuang",
        values={
            "survivor_code": code,
            "consent_followup": "yes",
            "consent_sharing": sharing,
            "sex": "female",
            "year_of_birth": "1990",
            "village": "Ban Phonsavan",
            "demographics/pii_full_name": NAME,
        },
    )
    assert p.submit(p.va_device, filled).status_code == 201
    return survivor, filled.instance_id


def test_each_role_sees_exactly_what_it_may(programme: Programme) -> None:
    p = programme
    case, case_instance = register_case(p)
    shared, shared_instance = register_survivor(p, "SV-0001", sharing="yes")
    private, private_instance = register_survivor(p, "SV-0002", sharing="no")
    for role in EVERYONE:
        reads = len(p.reads_audited(role))
        sees = role == "caseworker"
        # --- entities: list, record, versions, conflicts, people's CSV, Central's API
        cases = p.get(role, f"{p.api}/entity-lists/cases/entities").json()
        assert [e["uuid"] for e in cases] == [case]
        assert ("phone" in cases[0]["values"]) is sees, role
        assert ("health" in cases[0]["values"]) is sees, role
        assert cases[0]["values"]["village"] == "Ban Nakham"
        record = p.get(role, f"{p.api}/entity-lists/cases/entities/{case}")
        leak = record.text.find(PHONE) if PHONE in record.text else record.text.find("2222")
        assert (leak >= 0) is sees, (role, record.text[max(0, leak - 300) : leak + 50])
        versions = p.get(role, f"{p.api}/entity-lists/cases/entities/{case}/versions")
        assert versions.status_code == 200
        assert (PHONE in versions.text) is sees and (HEALTH in versions.text) is sees, role
        conflicts = p.get(role, f"{p.api}/conflicts", params={"list": "cases"}).json()
        (phone_conflict,) = [c for c in conflicts if c["property"] == "phone"]
        incoming = {v["value"] for v in phone_conflict["incoming"]}
        assert incoming == ({"+856 20 1111 1111", "+856 20 2222 2222"} if sees else {None}), role
        one = p.get(role, f"{p.api}/conflicts/{phone_conflict['id']}").json()
        assert (one["current_value"] is not None) is sees, role
        people_csv = p.get(role, f"{p.api}/entity-lists/cases/entities.csv")
        header = next(csv.reader(io.StringIO(people_csv.text)))
        assert ("phone" in header) is sees and (PHONE in people_csv.text) is False, role
        central = p.get(role, f"{p.central}/datasets/cases/entities/{case}").json()
        assert ("phone" in central["currentVersion"]["data"]) is sees, role
        central_versions = p.get(role, f"{p.central}/datasets/cases/entities/{case}/versions")
        assert (HEALTH in central_versions.text) is sees, role
        odata = p.get(role, f"{p.central}/datasets/cases.svc/Entities").json()
        assert ("health" in odata["value"][0]) is sees, role
        # --- the change feed
        feed = p.get(
            role, f"{p.server.url}/api/v1/sync/changes", params={"project_id": p.project.id}
        )
        assert feed.status_code == 200
        if not sees:
            assert HEALTH not in feed.text, role
        # --- survivors: partners see only the record with consent to share
        survivors = p.get(role, f"{p.api}/entity-lists/survivors/entities").json()
        expected = {shared} if role == "viewer" else {shared, private}
        assert {s["uuid"] for s in survivors} == expected, role
        hidden = p.get(role, f"{p.api}/entity-lists/survivors/entities/{private}")
        assert hidden.status_code == (404 if role == "viewer" else 200), role
        if role == "viewer":
            assert "SV-0002" not in feed.text and "SV-0001" in feed.text
        # Caseworkers' reads are audited; nobody else's are, since they were shown nothing.
        assert (len(p.reads_audited(role)) > reads) is sees, role
    for role in STAFF:
        check_submissions(p, role, case_instance, shared_instance, private_instance)
        check_ui(p, role, case, case_instance, private_instance, private)
    for role in STAFF:
        assert (p.reads_audited(role) != []) is (role == "caseworker"), role
    check_central_entity_writes(p)


def check_ui(
    p: Programme, role: str, case: str, case_instance: str, private_instance: str, private: str
) -> None:
    """The web UI's pages answer as the API does (the session cookie is the login's token)."""
    sees = role == "caseworker"
    reads = len(p.reads_audited(role))
    ui = f"{p.server.url}/ui/projects/{p.project.id}"
    cookies = {SESSION_COOKIE: p.people[role].token}
    page = p.get(role, f"{ui}/forms/case_visit/submissions/{case_instance}", cookies=cookies)
    assert page.status_code == 200 and "Ban Nakham" in page.text, role
    assert (PHONE in page.text) is sees and (HEALTH in page.text) is sees, role
    face = p.get(
        role, f"{ui}/forms/case_visit/submissions/{case_instance}/files/face.jpg", cookies=cookies
    )
    assert face.status_code == (200 if sees else 403), role
    survey = f"{ui}/forms/survivor_needs_assessment/submissions"
    table = p.get(role, survey, cookies=cookies)
    assert table.status_code == 200 and "SV-0001" in table.text, role
    assert ("SV-0002" in table.text) is (role != "viewer") and (NAME in table.text) is sees, role
    hidden = p.get(role, f"{survey}/{private_instance}", cookies=cookies)
    assert hidden.status_code == (404 if role == "viewer" else 200), role
    record = p.get(role, f"{ui}/entities/cases/{case}", cookies=cookies)
    assert record.status_code == 200 and "Ban Nakham" in record.text, role
    assert (PHONE in record.text) is sees and (HEALTH in record.text) is sees, role
    listed = p.get(role, f"{ui}/entities/cases", cookies=cookies)
    assert (HEALTH in listed.text) is sees, role
    queue = p.get(role, f"{ui}/conflicts", cookies=cookies)
    assert queue.status_code == 200 and ("+856 20 2222 2222" in queue.text) is sees, role
    survivor = p.get(role, f"{ui}/entities/survivors/{private}", cookies=cookies)
    assert survivor.status_code == (404 if role == "viewer" else 200), role
    assert (len(p.reads_audited(role)) > reads) is sees, role


def check_central_entity_writes(p: Programme) -> None:
    """Central's entity writes answer with the entity as the writer may see it."""
    for role in ("administrator", "coordinator", "caseworker"):
        sees = role == "caseworker"
        reads = len(p.reads_audited(role))
        written = requests.post(
            f"{p.central}/datasets/cases/entities",
            json={"label": "Ban Done", "data": {"village": "Ban Done", "phone": PHONE}},
            headers=p.people[role].headers,
            timeout=30,
        )
        assert written.status_code == 200, written.text
        data = written.json()["currentVersion"]["data"]
        assert data["village"] == "Ban Done" and ("phone" in data) is sees, role
        updated = requests.patch(
            f"{p.central}/datasets/cases/entities/{written.json()['uuid']}",
            params={"force": "true"},
            json={"data": {"health": HEALTH}},
            headers=p.people[role].headers,
            timeout=30,
        )
        assert updated.status_code == 200, updated.text
        assert (HEALTH in updated.text) is sees and (PHONE in updated.text) is sees, role
        assert (len(p.reads_audited(role)) > reads) is sees, role
    refused = requests.post(
        f"{p.central}/datasets/cases/entities",
        json={"label": "Ban Done", "data": {"phone": PHONE}},
        headers=p.people["viewer"].headers,
        timeout=30,
    )
    assert refused.status_code == 403 and PHONE not in refused.text


def check_submissions(
    p: Programme, role: str, case_instance: str, shared_instance: str, private_instance: str
) -> None:
    sees = role == "caseworker"
    base = f"{p.api}/forms/case_visit/submissions"
    body = p.get(role, f"{base}/{case_instance}").json()
    assert (PHONE in body["xml"]) is sees and (HEALTH in body["xml"]) is sees, role
    assert "Ban Nakham" in body["xml"] and "site.jpg" in body["xml"]
    face = p.get(role, f"{base}/{case_instance}/attachments/face.jpg")
    assert face.status_code == (200 if sees else 403), role
    if sees:
        assert face.content == FACE
    else:
        assert face.json()["code"] == "personal.caseworker_required"
    site = p.get(role, f"{base}/{case_instance}/attachments/site.jpg")
    assert site.status_code == 200 and site.content == SITE
    # Exports: personal columns and files only for the caseworker.
    export = p.get(role, f"{p.api}/forms/case_visit/submissions.csv.zip")
    assert export.status_code == 200
    names = zip_names(export)
    assert ("media/face.jpg" in names) is sees and "media/site.jpg" in names, role
    table = zip_text(export, "case_visit.csv")
    assert ("pii_phone" in table) is sees and (PHONE in table) is sees, role
    assert ("health_notes" in table) is sees and "Ban Nakham" in table, role
    # Central's API: the XML, the file, OData.
    central = f"{p.central}/forms/case_visit/submissions/{case_instance}"
    xml = p.get(role, f"{central}.xml")
    assert (PHONE in xml.text) is sees and "Ban Nakham" in xml.text, role
    face = p.get(role, f"{central}/attachments/face.jpg")
    assert face.status_code == (200 if sees else 403), role
    rows = p.get(role, f"{p.central}/forms/case_visit.svc/Submissions").json()["value"]
    assert (PHONE in json.dumps(rows)) is sees and "Ban Nakham" in json.dumps(rows), role
    # Survivors: names only for the caseworker; partners never see the record without consent.
    survey = f"{p.api}/forms/survivor_needs_assessment/submissions"
    listed = {s["instance_id"] for s in p.get(role, survey).json()}
    expected = {shared_instance} if role == "viewer" else {shared_instance, private_instance}
    assert listed == expected, role
    private = p.get(role, f"{survey}/{private_instance}")
    assert private.status_code == (404 if role == "viewer" else 200), role
    shared = p.get(role, f"{survey}/{shared_instance}").json()
    assert (NAME in shared["xml"]) is sees and "SV-0001" in shared["xml"], role
    survivors_export = p.get(role, f"{p.api}/forms/survivor_needs_assessment/submissions.csv")
    assert ("SV-0002" in survivors_export.text) is (role != "viewer"), role
    assert (NAME in survivors_export.text) is sees, role
    odata = p.get(role, f"{p.central}/forms/survivor_needs_assessment.svc/Submissions")
    assert ("SV-0002" in odata.text) is (role != "viewer") and (NAME in odata.text) is sees


def test_data_collectors_read_no_submissions_and_devices_get_only_their_forms(
    programme: Programme,
) -> None:
    p = programme
    _case, case_instance = register_case(p)
    shared, _ = register_survivor(p, "SV-0001", sharing="yes")
    private, _ = register_survivor(p, "SV-0002", sharing="no")
    base = f"{p.api}/forms/case_visit/submissions"
    assert p.get("data_collector", f"{base}/{case_instance}").status_code == 403
    assert p.get("data_collector", f"{base}.csv").status_code == 403
    # The clearance team's tablet: no survivor form, no survivor list.
    other = p.device_get(p.other_device, "/formList")
    assert "<formID>case_visit</formID>" in other.text
    assert "<formID>hazard_report</formID>" in other.text
    assert "survivor" not in other.text
    refused = p.device_get(p.other_device, "/forms/survivor_followup/manifest")
    assert refused.status_code == 403 and "personal.form_not_assigned" in refused.text
    download = p.device_get(p.other_device, "/forms/survivor_followup/attachments/survivors.csv")
    assert download.status_code == 403
    # The victim-assistance tablet: the survivor forms, and only the list's device columns.
    mine = p.device_get(p.va_device, "/formList")
    assert "<formID>survivor_followup</formID>" in mine.text
    listing = p.device_get(p.va_device, "/forms/survivor_followup/attachments/survivors.csv")
    assert listing.status_code == 200
    rows = list(csv.DictReader(io.StringIO(listing.text)))
    assert {r["name"] for r in rows} == {shared, private}
    columns = set(rows[0])
    assert {"survivor_code", "village", "admin_area", "needs", "consent_followup"} <= columns
    assert not columns & {"sex", "year_of_birth", "disability_status", "date_of_information"}
    assert NAME not in listing.text
