"""``pyodk.submissions.get_table`` and the OData documents against a live fieldsync.

The expected rows are written by hand from Central's OData documentation
(docs.getodk.org/central-api-odata-endpoints): ``__id``, fields in form order, groups as
objects, repeats as ``@odata.navigationLink`` (or arrays under ``$expand=*``), geopoints as
GeoJSON ``Point`` with ``[lon, lat, alt]`` and the accuracy in ``properties``, ``__system`` with
Central's keys; repeat tables ``Submissions.<repeat>`` with ``__Submissions-id``; newest first.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from lxml import etree
from pyodk.client import Client
from pyodk.errors import PyODKError

from tests.central_api.conftest import Central
from tests.factories import Factories

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CENTRAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
FIRST = "uuid:0b1c6a34-1111-4d7e-9d43-8f8d1f0c0001"
SECOND = "uuid:0b1c6a34-2222-4d7e-9d43-8f8d1f0c0002"
THIRD = "uuid:0b1c6a34-3333-4d7e-9d43-8f8d1f0c0003"


def survey_xml(
    instance_id: str,
    site: str,
    devices: str,
    location: str,
    area: str,
    households: list[tuple[str, list[int]]],
) -> str:
    houses = "".join(
        f"<household><head_name>{head}</head_name>"
        + "".join(f"<member><age>{age}</age></member>" for age in ages)
        + "</household>"
        for head, ages in households
    )
    return (
        '<data id="site_survey" version="2026-12">'
        f"<site_name>{site}</site_name><devices_found>{devices}</devices_found>"
        f"<location>{location}</location>"
        f"<details><area_m2>{area}</area_m2><cleared_on>2026-11-30</cleared_on></details>"
        f"{houses}<meta><instanceID>{instance_id}</instanceID></meta></data>"
    )


@pytest.fixture
def survey(central: Central, factories: Factories, pyodk_client: Client) -> Client:
    factories.publish_bytes(
        central.project, "site_survey.xml", (FIXTURES / "site_survey.xml").read_bytes()
    )
    create = pyodk_client.submissions.create
    create(
        survey_xml(FIRST, "North field", "3", "-1.5 30.25 1200 5", "250.5", [("Amina", [34, 9])]),
        form_id="site_survey",
    )
    create(survey_xml(SECOND, "River bank", "0", "", "", []), form_id="site_survey")
    create(
        survey_xml(THIRD, "School", "12", "-1.25 30.5 0 3", "80", [("Jean", []), ("Ana", [61])]),
        form_id="site_survey",
    )
    pyodk_client.submissions.review(FIRST, "approved", form_id="site_survey")
    return pyodk_client


def nav(instance_id: str, path: str) -> str:
    return f"Submissions('{quote(instance_id, safe='')}')/{path}"


def test_get_table_rows_in_centrals_shape(central: Central, survey: Client) -> None:
    table = survey.submissions.get_table(form_id="site_survey")
    assert table["@odata.context"].endswith(
        f"/v1/projects/{central.project.id}/forms/site_survey.svc/$metadata#Submissions"
    )
    rows = table["value"]
    assert [r["__id"] for r in rows] == [THIRD, SECOND, FIRST]
    first = rows[2]
    system = first.pop("__system")
    assert first == {
        "__id": FIRST,
        "site_name": "North field",
        "devices_found": 3,
        "location": {
            "type": "Point",
            "coordinates": [30.25, -1.5, 1200.0],
            "properties": {"accuracy": 5.0},
        },
        "details": {"area_m2": 250.5, "cleared_on": "2026-11-30"},
        "household@odata.navigationLink": nav(FIRST, "household"),
        "meta": {"instanceID": FIRST},
    }
    assert CENTRAL_TIME.match(system.pop("submissionDate"))
    assert CENTRAL_TIME.match(system.pop("updatedAt"))  # reviewed, so updated
    assert system == {
        "submitterId": str(central.user.id),
        "submitterName": central.user.display_name or central.user.email,
        "attachmentsPresent": 0,
        "attachmentsExpected": 0,
        "status": None,
        "reviewState": "approved",
        "deviceId": None,
        "edits": 0,
        "formVersion": "2026-12",
        "deletedAt": None,
    }
    empty = rows[1]
    assert empty["location"] is None
    assert empty["details"] == {"area_m2": None, "cleared_on": "2026-11-30"}
    assert empty["__system"]["reviewState"] is None
    assert empty["__system"]["updatedAt"] is None


def test_expand_wkt_and_select(survey: Client) -> None:
    expanded = survey.submissions.get_table(form_id="site_survey", expand="*", wkt=True)
    third = expanded["value"][0]
    assert third["location"] == "POINT (30.5 -1.25 0)"
    houses = third["household"]
    assert [h["head_name"] for h in houses] == ["Jean", "Ana"]
    assert houses[0]["member"] == []
    assert [m["age"] for m in houses[1]["member"]] == [61]
    assert all(len(h["__id"]) == 40 for h in houses)
    assert houses[0]["__id"] != houses[1]["__id"]

    selected = survey.submissions.get_table(
        form_id="site_survey", select="__id,site_name,details/area_m2,__system/reviewState"
    )
    assert selected["value"] == [
        {
            "__id": THIRD,
            "site_name": "School",
            "details": {"area_m2": 80.0},
            "__system": {"reviewState": None},
        },
        {
            "__id": SECOND,
            "site_name": "River bank",
            "details": {"area_m2": None},
            "__system": {"reviewState": None},
        },
        {
            "__id": FIRST,
            "site_name": "North field",
            "details": {"area_m2": 250.5},
            "__system": {"reviewState": "approved"},
        },
    ]


def test_filter_on_review_state_and_date(survey: Client) -> None:
    def ids(expression: str) -> list[str]:
        rows = survey.submissions.get_table(form_id="site_survey", filter=expression)["value"]
        return [r["__id"] for r in rows]

    assert ids("__system/reviewState eq 'approved'") == [FIRST]
    assert ids("__system/reviewState eq null") == [THIRD, SECOND]
    assert ids("not (__system/reviewState eq null)") == [FIRST]
    assert ids("__system/submissionDate ge 2000-01-01 and __system/reviewState ne 'approved'") == [
        THIRD,
        SECOND,
    ]
    assert ids("__system/submissionDate lt 2000-01-01 or __system/reviewState eq 'approved'") == [
        FIRST
    ]
    with pytest.raises(PyODKError) as raised:
        ids("__system/reviewState eq 'lost'")
    assert raised.value.args[1].status_code == 400
    assert raised.value.args[1].json()["code"] == 400.8


def test_paging_with_count_and_next_link(survey: Client) -> None:
    page = survey.submissions.get_table(form_id="site_survey", top=2, count=True)
    assert page["@odata.count"] == 3
    assert [r["__id"] for r in page["value"]] == [THIRD, SECOND]
    following = survey.get(page["@odata.nextLink"])
    assert following.status_code == 200
    rest = following.json()
    assert [r["__id"] for r in rest["value"]] == [FIRST]
    assert "@odata.nextLink" not in rest
    assert rest["@odata.count"] == 3
    skipped = survey.submissions.get_table(form_id="site_survey", skip=1, top=1)
    assert [r["__id"] for r in skipped["value"]] == [SECOND]


def test_repeat_tables(survey: Client) -> None:
    houses = survey.submissions.get_table(
        form_id="site_survey", table_name="Submissions.household"
    )["value"]
    assert [(h["head_name"], h["__Submissions-id"]) for h in houses] == [
        ("Jean", THIRD),
        ("Ana", THIRD),
        ("Amina", FIRST),
    ]
    members = survey.submissions.get_table(
        form_id="site_survey", table_name="Submissions.household.member"
    )["value"]
    by_house = {h["__id"]: h["head_name"] for h in houses}
    assert [(m["age"], by_house[m["__Submissions-household-id"]]) for m in members] == [
        (61, "Ana"),
        (34, "Amina"),
        (9, "Amina"),
    ]


def test_service_document_and_metadata(central: Central, survey: Client) -> None:
    base = f"projects/{central.project.id}/forms/site_survey.svc"
    document = survey.get(base).json()
    assert [(t["name"], t["url"]) for t in document["value"]] == [
        ("Submissions", "Submissions"),
        ("Submissions.household", "Submissions.household"),
        ("Submissions.household.member", "Submissions.household.member"),
    ]
    metadata = survey.get(f"{base}/$metadata")
    assert metadata.status_code == 200
    root = etree.fromstring(metadata.content)
    types: dict[str, dict[str, Any]] = {}
    for entity in root.iter(f"{EDM}EntityType", f"{EDM}ComplexType"):
        types[entity.get("Name")] = {
            "properties": {p.get("Name"): p.get("Type") for p in entity.iter(f"{EDM}Property")},
            "navigation": {
                n.get("Name"): n.get("Type") for n in entity.iter(f"{EDM}NavigationProperty")
            },
        }
    ns = "org.opendatakit.submission"
    submissions = types["Submissions"]
    assert submissions["properties"] == {
        "__id": "Edm.String",
        "site_name": "Edm.String",
        "devices_found": "Edm.Int64",
        "location": "Edm.GeographyPoint",
        "details": f"{ns}.Submissions.details",
        "meta": f"{ns}.Submissions.meta",
        "__system": f"{ns}.metadata",
    }
    assert submissions["navigation"] == {"household": f"Collection({ns}.Submissions.household)"}
    assert types["Submissions.details"]["properties"] == {
        "area_m2": "Edm.Decimal",
        "cleared_on": "Edm.Date",
    }
    household = types["Submissions.household"]
    assert household["properties"] == {
        "__id": "Edm.String",
        "__Submissions-id": "Edm.String",
        "head_name": "Edm.String",
    }
    assert household["navigation"] == {"member": f"Collection({ns}.Submissions.household.member)"}
    assert types["Submissions.household.member"]["properties"] == {
        "__id": "Edm.String",
        "__Submissions-household-id": "Edm.String",
        "age": "Edm.Int64",
    }
    sets = [s.get("Name") for s in root.iter(f"{EDM}EntitySet")]
    assert sets == ["Submissions", "Submissions.household", "Submissions.household.member"]


def test_filter_on_form_fields_and_date_functions(survey: Client) -> None:
    def ids(expression: str) -> list[str]:
        rows = survey.submissions.get_table(form_id="site_survey", filter=expression)["value"]
        return [r["__id"] for r in rows]

    assert ids("devices_found gt 2") == [THIRD, FIRST]
    assert ids("devices_found ge 3 and details/area_m2 lt 100") == [THIRD]
    assert ids("site_name eq 'River bank' or details/area_m2 gt 200.25") == [SECOND, FIRST]
    assert ids("not (site_name eq 'School')") == [SECOND, FIRST]
    assert ids("details/area_m2 eq null") == [SECOND]
    assert ids("details/cleared_on ge 2026-11-30") == [THIRD, SECOND, FIRST]
    assert ids("year(details/cleared_on) eq 2026 and month(details/cleared_on) eq 11") == [
        THIRD,
        SECOND,
        FIRST,
    ]
    assert ids("day(details/cleared_on) ne 30") == []
    assert ids("year(__system/submissionDate) lt 2000") == []
    assert ids("year(__system/submissionDate) ge 2000 and devices_found eq 0") == [SECOND]
    # A repeat's table keeps the rows of the submissions that pass.
    houses = survey.submissions.get_table(
        form_id="site_survey", table_name="Submissions.household", filter="devices_found gt 5"
    )["value"]
    assert [h["head_name"] for h in houses] == ["Jean", "Ana"]
    for wrong in ("household/head_name eq 'Jean'", "year(site_name) eq 1", "devices_found gt 'x'"):
        with pytest.raises(PyODKError) as raised:
            ids(wrong)
        assert raised.value.args[1].json()["code"] == 400.8, wrong


def test_select_on_a_repeat_table(survey: Client) -> None:
    houses = survey.submissions.get_table(
        form_id="site_survey", table_name="Submissions.household", select="head_name,__id"
    )["value"]
    assert [set(h) for h in houses] == [{"head_name", "__id"}] * 3
    assert [h["head_name"] for h in houses] == ["Jean", "Ana", "Amina"]
    members = survey.submissions.get_table(
        form_id="site_survey",
        table_name="Submissions.household.member",
        select="age,__Submissions-household-id",
    )["value"]
    assert [m["age"] for m in members] == [61, 34, 9]
    assert all(set(m) == {"age", "__Submissions-household-id"} for m in members)
    with pytest.raises(PyODKError) as raised:
        survey.submissions.get_table(
            form_id="site_survey", table_name="Submissions.household", select="site_name"
        )
    assert raised.value.args[1].json()["code"] == 400.8


def test_paging_through_every_page(survey: Client) -> None:
    page = survey.submissions.get_table(form_id="site_survey", top=1, count=True)
    seen = [r["__id"] for r in page["value"]]
    pages = 1
    while "@odata.nextLink" in page:
        page = survey.get(page["@odata.nextLink"]).json()
        assert page["@odata.count"] == 3
        seen += [r["__id"] for r in page["value"]]
        pages += 1
    assert (pages, seen) == (3, [THIRD, SECOND, FIRST])


def test_metadata_of_a_form_with_repeats_inside_groups(
    central: Central, factories: Factories, pyodk_client: Client
) -> None:
    """Every field of a form whose repeat sits two groups down, with a group inside the
    repeat, has its property and Central's type; the repeat is a navigation property of the
    group that holds it, and its table's key names the submission."""
    factories.publish_bytes(
        central.project, "device_report.xml", (FIXTURES / "device_report.xml").read_bytes()
    )
    base = f"projects/{central.project.id}/forms/device_report.svc"
    root = etree.fromstring(pyodk_client.get(f"{base}/$metadata").content)
    types = {
        t.get("Name"): {
            "kind": etree.QName(t).localname,
            "properties": {p.get("Name"): p.get("Type") for p in t.iter(f"{EDM}Property")},
            "navigation": {
                n.get("Name"): n.get("Type") for n in t.iter(f"{EDM}NavigationProperty")
            },
        }
        for t in root.iter(f"{EDM}EntityType", f"{EDM}ComplexType")
    }
    ns = "org.opendatakit.submission"
    assert types["Submissions"]["kind"] == "EntityType"
    assert types["Submissions"]["properties"] == {
        "__id": "Edm.String",
        "started": "Edm.DateTimeOffset",
        "task": f"{ns}.Submissions.task",
        "area": "Edm.GeographyPolygon",
        "meta": f"{ns}.Submissions.meta",
        "__system": f"{ns}.metadata",
    }
    assert types["Submissions.task"] == {
        "kind": "ComplexType",
        "properties": {
            "team": "Edm.String",
            "method": "Edm.String",
            "lane": f"{ns}.Submissions.task.lane",
        },
        "navigation": {},
    }
    assert types["Submissions.task.lane"] == {
        "kind": "ComplexType",
        "properties": {"lane_path": "Edm.GeographyLineString"},
        "navigation": {"device": f"Collection({ns}.Submissions.task.lane.device)"},
    }
    assert types["Submissions.task.lane.device"] == {
        "kind": "EntityType",
        "properties": {
            "__id": "Edm.String",
            "__Submissions-id": "Edm.String",
            "model": "Edm.String",
            "found_at": "Edm.GeographyPoint",
            "disposal": f"{ns}.Submissions.task.lane.device.disposal",
            "photo": "Edm.String",
        },
        "navigation": {},
    }
    assert types["Submissions.task.lane.device.disposal"]["properties"] == {
        "destroyed": "Edm.String",
        "depth_cm": "Edm.Int64",
    }
    sets = {s.get("Name"): s.get("EntityType") for s in root.iter(f"{EDM}EntitySet")}
    assert sets == {
        "Submissions": f"{ns}.Submissions",
        "Submissions.task.lane.device": f"{ns}.Submissions.task.lane.device",
    }
    # The service document names the same tables.
    document = pyodk_client.get(base).json()
    assert [t["name"] for t in document["value"]] == list(sets)
