"""pyodk changing submissions against a live fieldsync: comments, an edit sent as new XML,
files sent after the submission, and a form's media files. Expected shapes and codes are
Central's (docs.getodk.org/central-api-submission-management, -form-management; codes
400.19, 409.9 and 403.1 from central-backend's problem list)."""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path

import pytest
import requests
from pyodk.client import Client
from pyodk.errors import PyODKError
from sqlalchemy import select

from server.accounts.models import Role
from server.audit.models import AuditEntry
from tests.central_api.conftest import Central
from tests.factories import Factories
from tests.openrosa.helpers import instance_xml, publish_fixture, simple_xml

pytestmark = pytest.mark.e2e

CENTRAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def new_id() -> str:
    return f"uuid:{uuid.uuid4()}"


def test_comments_are_added_and_listed_newest_first(
    central: Central, pyodk_client: Client, factories: Factories
) -> None:
    first = new_id()
    pyodk_client.submissions.create(simple_xml(first).decode(), form_id="simple")
    one = pyodk_client.submissions.add_comment(first, "Check the area figure", form_id="simple")
    assert (one.body, one.actorId) == ("Check the area figure", central.user.id)
    pyodk_client.submissions.review(first, "hasIssues", form_id="simple", comment="Sent back")
    listed = pyodk_client.submissions.list_comments(first, form_id="simple")
    assert [(c.body, c.actorId) for c in listed] == [
        ("Sent back", central.user.id),
        ("Check the area figure", central.user.id),
    ]
    url = f"projects/{central.project.id}/forms/simple/submissions/{first}/comments"
    raw = pyodk_client.get(url, headers={"X-Extended-Metadata": "true"}).json()
    assert CENTRAL_TIME.match(raw[0]["createdAt"])
    assert raw[0]["actor"]["email"] == central.user.email
    assert "actor" not in pyodk_client.get(url).json()[0]
    # The audit log says a comment was made, never what it says.
    with factories.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "submission.comment")
        ).all()
    assert len(entries) == 2
    assert all("Sent back" not in str(e.details) for e in entries)

    collector = factories.user(central.project, Role.DATA_COLLECTOR, email="dc@example.org")
    with central.client(collector.email) as as_collector, pytest.raises(PyODKError) as raised:
        as_collector.submissions.add_comment(first, "x", form_id="simple")
    assert raised.value.args[1].json()["code"] == 403.1
    empty = pyodk_client.post(url, json={"body": "  "})
    assert (empty.status_code, empty.json()["code"]) == (400, 400.8)
    missing = pyodk_client.post(
        f"projects/{central.project.id}/forms/simple/submissions/uuid:nope/comments",
        json={"body": "x"},
    )
    assert missing.json()["code"] == 404.1


def test_an_edit_is_a_new_version_that_odata_counts(central: Central, pyodk_client: Client) -> None:
    first = new_id()
    pyodk_client.submissions.create(simple_xml(first, name="Village east").decode(), "simple")
    second = new_id()
    edited = instance_xml("simple", "1", second, deprecated_id=first, name="Village west")
    pyodk_client.submissions.edit(first, edited.decode(), form_id="simple", comment="Renamed")
    got = pyodk_client.submissions.get(first, form_id="simple")
    assert got.instanceId == first
    assert got.reviewState == "edited"
    assert got.updatedAt is not None
    raw = pyodk_client.get(f"projects/{central.project.id}/forms/simple/submissions/{first}")
    assert raw.json()["currentVersion"]["instanceId"] == second
    xml = pyodk_client.get(f"projects/{central.project.id}/forms/simple/submissions/{first}.xml")
    assert "Village west" in xml.text
    table = pyodk_client.submissions.get_table(form_id="simple")
    [row] = table["value"]
    assert row["__id"] == first
    assert row["name"] == "Village west"
    assert row["__system"]["edits"] == 1
    assert row["__system"]["reviewState"] == "edited"
    assert [c.body for c in pyodk_client.submissions.list_comments(first, "simple")] == ["Renamed"]

    # Without a deprecatedID naming this submission: Central's 400.19, nothing stored.
    stray = simple_xml(new_id()).decode()
    with pytest.raises(PyODKError) as raised:
        pyodk_client.submissions.edit(first, stray, form_id="simple")
    assert raised.value.args[1].json()["code"] == 400.19
    # Editing the version the edit replaced: Central's 409.9.
    stale = instance_xml("simple", "1", new_id(), deprecated_id=first, name="Late").decode()
    with pytest.raises(PyODKError) as raised:
        pyodk_client.submissions.edit(first, stale, form_id="simple")
    assert (raised.value.args[1].status_code, raised.value.args[1].json()["code"]) == (409, 409.9)
    assert len(pyodk_client.submissions.list(form_id="simple")) == 1
    assert pyodk_client.submissions.get_table("simple")["value"][0]["__system"]["edits"] == 1


def test_files_sent_after_the_submission(
    central: Central, pyodk_client: Client, tmp_path: Path
) -> None:
    instance = new_id()
    photo = tmp_path / "site.jpg"
    photo.write_bytes(b"\xff\xd8\xff photo of the marker")
    created = pyodk_client.submissions.create(
        simple_xml(instance, photo="site.jpg").decode(), form_id="simple", attachments=[photo]
    )
    assert [(a.name, a.exists) for a in created.attachments or []] == [("site.jpg", True)]
    base = f"projects/{central.project.id}/forms/simple/submissions/{instance}/attachments"
    assert pyodk_client.get(f"{base}/site.jpg").content == photo.read_bytes()
    # The same file again is fine; another file under the name is refused and nothing changes.
    again = pyodk_client.post(f"{base}/site.jpg", data=photo.read_bytes())
    assert again.json() == {"success": True}
    other = pyodk_client.post(f"{base}/site.jpg", data=b"another picture")
    assert (other.status_code, other.json()["code"]) == (409, 409.1)
    assert pyodk_client.get(f"{base}/site.jpg").content == photo.read_bytes()
    unexpected = pyodk_client.post(f"{base}/other.jpg", data=b"x")
    assert (unexpected.status_code, unexpected.json()["code"]) == (404, 404.1)


def test_form_attachments_are_listed_uploaded_and_in_the_manifest(
    central: Central, factories: Factories, admin_client: Client
) -> None:
    # The registration creates the entity list the visit form reads as hazard_areas.csv.
    publish_fixture(factories, central.project, "hazard_registration")
    publish_fixture(factories, central.project, "hazard_visit")
    base = f"projects/{central.project.id}/forms/hazard_visit/attachments"
    listed = admin_client.get(base).json()
    assert listed == [
        {
            "name": "hazard_areas.csv",
            "type": "file",
            "exists": True,
            "blobExists": False,
            "datasetExists": True,
            "updatedAt": None,
        },
        {
            "name": "villages.csv",
            "type": "file",
            "exists": False,
            "blobExists": False,
            "datasetExists": False,
            "updatedAt": None,
        },
    ]
    villages = b"name,label\nban_na,Ban Na\n"
    uploaded = admin_client.post(f"{base}/villages.csv", data=villages)
    assert uploaded.json() == {"success": True}
    after = {a["name"]: a for a in admin_client.get(base).json()}
    assert after["villages.csv"]["exists"] is True
    assert CENTRAL_TIME.match(after["villages.csv"]["updatedAt"])
    assert admin_client.get(f"{base}/villages.csv").content == villages
    # Collect's manifest now offers it, with its MD5.
    manifest = requests.get(
        f"{central.server.url}/v1/projects/{central.project.id}/forms/hazard_visit/manifest",
        headers={
            "X-OpenRosa-Version": "1.0",
            "Authorization": admin_client.session.headers["Authorization"],
        },
        timeout=10,
    )
    md5 = hashlib.md5(villages, usedforsecurity=False).hexdigest()
    assert "<filename>villages.csv</filename>" in manifest.text
    assert f"md5:{md5}" in manifest.text
    unknown = admin_client.post(f"{base}/nothing.csv", data=b"x")
    assert unknown.json()["code"] == 404.1


def test_forms_update_with_a_definition_and_its_media(
    central: Central, factories: Factories, admin_client: Client, tmp_path: Path
) -> None:
    """pyodk's ``forms.update(definition=..., attachments=[...])``: the new version is
    published and its media file uploaded, and Collect's manifest offers it."""
    publish_fixture(factories, central.project, "hazard_registration")
    publish_fixture(factories, central.project, "hazard_visit")
    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "hazard_visit.xml"
    second = fixture.read_text(encoding="utf-8").replace(
        'id="hazard_visit" version="1"', 'id="hazard_visit" version="2"'
    )
    villages = tmp_path / "villages.csv"
    villages.write_bytes(b"name,label\nban_xai,Ban Xai\n")
    admin_client.forms.update("hazard_visit", definition=second, attachments=[villages])
    assert admin_client.forms.get("hazard_visit").version == "2"
    listed = admin_client.get(
        f"projects/{central.project.id}/forms/hazard_visit/attachments"
    ).json()
    assert {a["name"]: a["exists"] for a in listed} == {
        "hazard_areas.csv": True,
        "villages.csv": True,
    }
    media = admin_client.get(
        f"projects/{central.project.id}/forms/hazard_visit/attachments/villages.csv"
    )
    assert media.content == villages.read_bytes()


def test_a_data_collector_sends_files_for_their_own_submissions_only(
    central: Central, factories: Factories, pyodk_client: Client, tmp_path: Path
) -> None:
    theirs, others = new_id(), new_id()
    pyodk_client.submissions.create(simple_xml(others, photo="a.jpg").decode(), "simple")
    collector = factories.user(central.project, Role.DATA_COLLECTOR, email="dc@example.org")
    photo = tmp_path / "b.jpg"
    photo.write_bytes(b"\xff\xd8 a photo")
    with central.client(collector.email) as as_collector:
        as_collector.submissions.create(
            simple_xml(theirs, photo="b.jpg").decode(), "simple", attachments=[photo]
        )
        base = f"projects/{central.project.id}/forms/simple/submissions"
        refused = as_collector.post(f"{base}/{others}/attachments/a.jpg", data=b"x")
    assert (refused.status_code, refused.json()["code"]) == (403, 403.1)
    files = pyodk_client.get(f"{base}/{others}/attachments").json()
    assert files == [{"name": "a.jpg", "exists": False}]
    assert pyodk_client.get(f"{base}/{theirs}/attachments").json() == [
        {"name": "b.jpg", "exists": True}
    ]
