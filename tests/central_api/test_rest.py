"""Central's REST routes that pyodk does not wrap, and Central's error shape, over HTTP on the
live server: ``{"code": 404.1, "message": ...}`` with the numeric codes Central's clients check."""

from __future__ import annotations

import io
import uuid
import zipfile
from typing import Any

import pytest
import requests

from server.accounts.models import Role
from tests.central_api.conftest import Central
from tests.factories import DEFAULT_PASSWORD, Factories
from tests.openrosa.helpers import photos_xml, publish_fixture, simple_xml

pytestmark = pytest.mark.e2e


def login(central: Central, email: str = "coordinator@example.org") -> dict[str, str]:
    response = requests.post(
        f"{central.url}/sessions",
        json={"email": email, "password": DEFAULT_PASSWORD},
        timeout=10,
    )
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['token']}"}


def central_error(response: requests.Response) -> tuple[int, float]:
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert isinstance(body["message"], str) and body["message"]
    return response.status_code, body["code"]


def test_a_session_is_opened_and_ended_by_its_token(central: Central) -> None:
    opened = requests.post(
        f"{central.url}/sessions",
        json={"email": "coordinator@example.org", "password": DEFAULT_PASSWORD},
        timeout=10,
    )
    body = opened.json()
    assert set(body) == {"token", "createdAt", "expiresAt"}
    assert body["createdAt"] < body["expiresAt"]
    headers = {"Authorization": f"Bearer {body['token']}"}
    ended = requests.delete(f"{central.url}/sessions/{body['token']}", headers=headers, timeout=10)
    assert ended.status_code == 200
    assert ended.json() == {"success": True}
    after = requests.get(f"{central.url}/users/current", headers=headers, timeout=10)
    assert central_error(after) == (401, 401.2)


def test_central_error_codes(central: Central, factories: Factories) -> None:
    headers = login(central)
    base = f"{central.url}/projects/{central.project.id}"
    anonymous = requests.get(f"{central.url}/projects", timeout=10)
    assert central_error(anonymous) == (401, 401.2)
    missing = requests.get(f"{base}/forms/no_such_form", headers=headers, timeout=10)
    assert central_error(missing) == (404, 404.1)
    not_json = requests.post(
        f"{central.url}/sessions",
        data=b"{not json",
        timeout=10,
        headers={"Content-Type": "application/json"},
    )
    assert central_error(not_json) == (400, 400.1)

    collector = factories.user(central.project, Role.DATA_COLLECTOR, email="dc@example.org")
    as_collector = login(central, collector.email)
    forbidden = requests.get(f"{base}/forms/simple/submissions", headers=as_collector, timeout=10)
    assert central_error(forbidden) == (403, 403.1)
    # A data collector may send; posting the same instance twice is Central's 409.3.
    xml = simple_xml(f"uuid:{uuid.uuid4()}")
    sent = requests.post(
        f"{base}/forms/simple/submissions", data=xml, headers=as_collector, timeout=10
    )
    assert sent.status_code == 200
    again = requests.post(
        f"{base}/forms/simple/submissions", data=xml, headers=as_collector, timeout=10
    )
    assert central_error(again) == (409, 409.3)

    instance = sent.json()["instanceId"]
    bad_state = requests.patch(
        f"{base}/forms/simple/submissions/{instance}",
        json={"reviewState": "received"},
        headers=headers,
        timeout=10,
    )
    assert central_error(bad_state) == (400, 400.8)


def test_a_submission_for_another_form_is_refused_and_not_stored(
    central: Central, factories: Factories
) -> None:
    publish_fixture(factories, central.project, "photos_form")
    headers = login(central)
    base = f"{central.url}/projects/{central.project.id}/forms"
    other = photos_xml(f"uuid:{uuid.uuid4()}")
    refused = requests.post(f"{base}/simple/submissions", data=other, headers=headers, timeout=10)
    assert central_error(refused) == (400, 400.8)
    for form_id in ("simple", "site_photos"):
        listed = requests.get(f"{base}/{form_id}/submissions", headers=headers, timeout=10)
        assert listed.json() == []


def test_attachments_and_csv_export(central: Central) -> None:
    headers = login(central)
    base = f"{central.url}/projects/{central.project.id}/forms/simple"
    instance = f"uuid:{uuid.uuid4()}"
    xml = simple_xml(instance, name="Village east", photo="site.jpg")
    assert requests.post(f"{base}/submissions", data=xml, headers=headers, timeout=10).ok
    files = requests.get(f"{base}/submissions/{instance}/attachments", headers=headers, timeout=10)
    assert files.json() == [{"name": "site.jpg", "exists": False}]
    not_yet = requests.get(
        f"{base}/submissions/{instance}/attachments/site.jpg", headers=headers, timeout=10
    )
    assert central_error(not_yet) == (404, 404.1)

    exported = requests.get(f"{base}/submissions.csv.zip", headers=headers, timeout=30)
    assert exported.status_code == 200
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        main = archive.read("simple.csv").decode("utf-8-sig")
    assert "Village east" in main
    assert instance in main
    plain = requests.get(f"{base}/submissions.csv", headers=headers, timeout=30)
    assert plain.status_code == 200
    assert "Village east" in plain.content.decode("utf-8-sig")


def test_form_versions_and_the_shared_xml_route(central: Central) -> None:
    headers = login(central)
    base = f"{central.url}/projects/{central.project.id}/forms/simple"
    versions = requests.get(f"{base}/versions", headers=headers, timeout=10).json()
    assert [(v["xmlFormId"], v["version"]) for v in versions] == [("simple", "1")]
    # Collect's path, called as Central's REST API: a bearer token and no OpenRosa header.
    xml = requests.get(f"{base}.xml", headers=headers, timeout=10)
    assert xml.status_code == 200
    assert xml.content.startswith(b"<?xml")
    missing = requests.get(
        f"{central.url}/projects/{central.project.id}/forms/nothing.xml",
        headers=headers,
        timeout=10,
    )
    assert central_error(missing) == (404, 404.1)


def test_a_route_not_implemented_is_refused_in_centrals_shape(central: Central) -> None:
    headers = login(central)
    comments = f"{central.url}/projects/{central.project.id}/forms/simple/submissions/x/audits"
    missing = requests.get(comments, headers=headers, timeout=10)
    assert central_error(missing) == (404, 404.1)
    # Collect, which sends the OpenRosa header, still gets OpenRosa's XML on the same prefix.
    collect = requests.get(
        comments,
        headers={**headers, "X-OpenRosa-Version": "1.0"},
        timeout=10,
    )
    assert collect.status_code == 404
    assert collect.content.lstrip().startswith(b"<")


def test_basic_authentication_as_ruodk_and_power_bi_send_it(
    central: Central, factories: Factories
) -> None:
    basic = ("coordinator@example.org", DEFAULT_PASSWORD)
    base = f"{central.url}/projects/{central.project.id}"
    headers = login(central)
    instance = f"uuid:{uuid.uuid4()}"
    sent = requests.post(
        f"{base}/forms/simple/submissions", data=simple_xml(instance), auth=basic, timeout=10
    )
    assert sent.status_code == 200
    assert sent.json()["submitterId"] == central.user.id
    projects = requests.get(f"{central.url}/projects", auth=basic, timeout=10)
    assert [p["id"] for p in projects.json()] == [central.project.id]
    table = requests.get(f"{base}/forms/simple.svc/Submissions", auth=basic, timeout=10)
    assert [r["__id"] for r in table.json()["value"]] == [instance]
    # The form's XML, a path Collect shares: Basic without the OpenRosa header is Central's.
    xml = requests.get(f"{base}/forms/simple.xml", auth=basic, timeout=10)
    assert xml.status_code == 200
    assert xml.content.startswith(b"<?xml")
    # The same answers as with a token.
    assert requests.get(f"{central.url}/projects", headers=headers, timeout=10).json() == (
        projects.json()
    )
    wrong = requests.get(
        f"{central.url}/projects", auth=("coordinator@example.org", "wrong"), timeout=10
    )
    assert central_error(wrong) == (401, 401.2)
    nobody = requests.get(f"{central.url}/projects", auth=("nobody@example.org", "x"), timeout=10)
    assert central_error(nobody) == (401, 401.2)
    collector = factories.user(central.project, Role.DATA_COLLECTOR, email="dc@example.org")
    as_collector = requests.get(
        f"{base}/forms/simple/submissions", auth=(collector.email, DEFAULT_PASSWORD), timeout=10
    )
    assert central_error(as_collector) == (403, 403.1)
