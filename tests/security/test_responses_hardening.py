"""Smaller holes, each attacked over HTTP: deeply nested JSON, out-of-range ``limit``, hostile
``X-Request-Id``, path-like media names, attachments served as pages, and the headers every
response must carry."""

from __future__ import annotations

import io
import logging
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import func, select

from server.accounts.models import Role
from server.forms.models import Form
from server.projects.models import Project
from tests.factories import DEFAULT_PASSWORD, Device, Factories, LoggedIn
from tests.openrosa.helpers import FIXTURES, OPENROSA, form_data, publish_fixture, simple_xml
from tests.sync.conftest import SyncApi

PROBLEM = "application/problem+json"


@pytest.fixture
def project(factories: Factories) -> Project:
    project = factories.project()
    publish_fixture(factories, project, "simple_form")
    factories.publish_library(project)
    return project


@pytest.fixture
def coordinator(factories: Factories, project: Project) -> LoggedIn:
    return factories.logged_in(project, Role.COORDINATOR)


@pytest.fixture
def device(factories: Factories, project: Project) -> Device:
    return factories.device(project)


# --- deeply nested JSON -----------------------------------------------------------------------


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_deeply_nested_json_is_a_clean_400_without_authentication(
    client: FlaskClient, opening: str
) -> None:
    closing = "]" if opening == "[" else "}"
    body = (opening * 200_000 + "1" + closing * 200_000).encode()
    response = client.post("/api/v1/sessions", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    assert response.get_json()["code"] == "request.malformed_json"


@pytest.mark.parametrize("depth", [100, 5_000])  # parsed, then refused; too deep to parse
def test_deeply_nested_json_is_a_clean_400_on_a_push(
    client: FlaskClient, coordinator: LoggedIn, project: Project, depth: int
) -> None:
    api = SyncApi(client, coordinator, project.id)
    via = "[" * depth + "]" * depth
    body = f'{{"project_id": {project.id}, "items": [{{"client_id": "a", "via": {via}}}]}}'
    response = client.post(
        "/api/v1/sync/push",
        data=body.encode(),
        headers=api.headers(**{"Content-Type": "application/json", "Idempotency-Key": "k"}),
    )
    assert (response.status_code, response.get_json()["code"]) == (400, "request.malformed_json")


def test_brackets_inside_strings_do_not_count_as_nesting(client: FlaskClient) -> None:
    body = '{"email": "nobody@example.org", "password": "' + "[{" * 500 + '"}'
    response = client.post("/api/v1/sessions", data=body, content_type="application/json")
    # Parsed, then refused for what it is: wrong credentials, not malformed JSON.
    assert (response.status_code, response.get_json()["code"]) == (401, "auth.bad_credentials")


# --- limit ------------------------------------------------------------------------------------


BAD_LIMITS = ["-1", "0", "abc", "1.5", "10001", "9" * 40, "\u0661\u0660"]


@pytest.mark.parametrize("limit", BAD_LIMITS)
def test_entity_pages_refuse_a_limit_out_of_range(
    client: FlaskClient, coordinator: LoggedIn, project: Project, limit: str
) -> None:
    response = client.get(
        f"/api/v1/projects/{project.id}/entity-lists/hazard_areas/entities",
        query_string={"limit": limit},
        headers=coordinator.headers,
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "request.invalid"


def test_entity_pages_refuse_a_negative_offset_and_accept_the_bounds(
    client: FlaskClient, coordinator: LoggedIn, project: Project
) -> None:
    url = f"/api/v1/projects/{project.id}/entity-lists/hazard_areas/entities"
    negative = client.get(url, query_string={"offset": "-5"}, headers=coordinator.headers)
    assert (negative.status_code, negative.get_json()["code"]) == (400, "request.invalid")
    for limit in ("1", "10000"):
        ok = client.get(url, query_string={"limit": limit}, headers=coordinator.headers)
        assert ok.status_code == 200 and ok.get_json() == []


@pytest.mark.parametrize("limit", ["-1", "0", "abc", "1001", "9" * 40])
def test_submission_pages_refuse_a_limit_out_of_range(
    client: FlaskClient, coordinator: LoggedIn, project: Project, limit: str
) -> None:
    response = client.get(
        f"/api/v1/projects/{project.id}/forms/simple/submissions",
        query_string={"limit": limit},
        headers=coordinator.headers,
    )
    assert (response.status_code, response.get_json()["code"]) == (400, "request.invalid")


@pytest.mark.parametrize("limit", ["-1", "0", "abc", "9" * 40])
def test_the_change_feed_refuses_a_limit_below_one(
    client: FlaskClient, coordinator: LoggedIn, project: Project, limit: str
) -> None:
    api = SyncApi(client, coordinator, project.id)
    response = api.changes(project.id, limit=limit)  # type: ignore[arg-type]
    assert (response.status_code, response.get_json()["code"]) == (400, "request.invalid")


def test_the_change_feed_clamps_a_huge_limit(
    client: FlaskClient, coordinator: LoggedIn, project: Project
) -> None:
    api = SyncApi(client, coordinator, project.id)
    response = api.changes(project.id, limit=10**12)
    assert response.status_code == 200
    assert len(response.get_json()["changes"]) <= 5000


# --- X-Request-Id -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent",
    ["x" * 10_000, "abc\tX-Injected: 1", "<script>alert(1)</script>", "id with spaces", "\x1b[31m"],
)
def test_a_hostile_request_id_is_replaced_before_it_is_echoed_or_logged(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, sent: str
) -> None:
    caplog.set_level(logging.INFO, logger="fieldsync.http")
    response = client.get("/healthz", headers={"X-Request-Id": sent})
    echoed = response.headers["X-Request-Id"]
    assert echoed != sent
    assert len(echoed) == 32 and all(c in "0123456789abcdef" for c in echoed)
    logged = [r.request_id for r in caplog.records if hasattr(r, "request_id")]  # type: ignore[attr-defined]
    assert logged == [echoed]


def test_a_plain_request_id_is_kept(client: FlaskClient) -> None:
    sent = f"laptop-{uuid.uuid4()}"
    assert client.get("/healthz", headers={"X-Request-Id": sent}).headers["X-Request-Id"] == sent


# --- media names ------------------------------------------------------------------------------

TRAVERSING_FORM = (
    (FIXTURES / "simple_form.xml")
    .read_text()
    .replace(
        '<upload ref="/data/photo" mediatype="image/*"><label>Photo</label></upload>',
        '<upload ref="/data/photo" mediatype="image/*"><label>Photo</label>'
        '<hint><output value="jr://images/../../../etc/passwd"/></hint></upload>',
    )
    .replace('id="simple"', 'id="traversal"')
)


def test_a_form_whose_media_name_is_a_path_is_refused_at_publish(
    app: Flask, client: FlaskClient, factories: Factories, project: Project
) -> None:
    admin = factories.logged_in(project, Role.ADMINISTRATOR)
    response = client.post(
        f"/api/v1/projects/{project.id}/forms",
        data={"file": (io.BytesIO(TRAVERSING_FORM.encode()), "traversal.xml")},
        headers=admin.headers,
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "form.media_name"
    with app.extensions["fieldsync"].session_factory() as session:
        count = session.scalar(
            select(func.count()).select_from(Form).where(Form.xml_form_id == "traversal")
        )
    assert count == 0


def test_a_media_upload_under_a_path_like_name_is_refused(
    client: FlaskClient, factories: Factories, project: Project
) -> None:
    admin = factories.logged_in(project, Role.ADMINISTRATOR)
    response = client.post(
        f"/api/v1/projects/{project.id}/forms/simple/attachments/..\\..\\etc\\passwd",
        data=b"root:x:0:0",
        headers=admin.headers,
    )
    assert (response.status_code, response.get_json()["code"]) == (400, "form.media_name")


# --- attachments ------------------------------------------------------------------------------


def _submit_with(client: FlaskClient, device: Device, name: str, data: bytes, ctype: str) -> str:
    instance_id = f"uuid:{uuid.uuid4()}"
    body = form_data(simple_xml(instance_id, photo=name))
    body[name] = (io.BytesIO(data), name, ctype)
    response = client.post(device.base_path + "/submission", data=body, headers=OPENROSA)
    assert response.status_code == 201, response.data
    return instance_id


@pytest.mark.parametrize(
    ("name", "claimed", "served", "disposition"),
    [
        ("page.html", "text/html", "application/octet-stream", "attachment"),
        ("drawing.svg", "image/svg+xml", "application/octet-stream", "attachment"),
        ("photo.jpg", "text/html", "image/jpeg", "inline"),
        ("notes.csv", "text/html", "text/csv; charset=utf-8", "attachment"),
    ],
)
def test_an_attachment_is_served_under_a_safe_type_never_the_one_the_device_claimed(
    client: FlaskClient,
    coordinator: LoggedIn,
    device: Device,
    project: Project,
    name: str,
    claimed: str,
    served: str,
    disposition: str,
) -> None:
    instance_id = _submit_with(client, device, name, b"<script>alert(1)</script>", claimed)
    response = client.get(
        f"/api/v1/projects/{project.id}/forms/simple/submissions/{instance_id}/attachments/{name}",
        headers=coordinator.headers,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == served
    assert response.headers["Content-Disposition"] == f'{disposition}; filename="{name}"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


# --- headers on every response ----------------------------------------------------------------


def test_every_response_carries_the_security_headers(
    client: FlaskClient, coordinator: LoggedIn, device: Device, project: Project
) -> None:
    responses = {
        "health": client.get("/healthz"),
        "not found": client.get("/nowhere"),
        "refused": client.get("/api/v1/projects"),
        "login": client.post(
            "/api/v1/sessions", json={"email": coordinator.user.email, "password": DEFAULT_PASSWORD}
        ),
        "form list": client.get(device.base_path + "/formList", headers=OPENROSA),
    }
    for what, response in responses.items():
        assert response.headers.get("X-Content-Type-Options") == "nosniff", what
        assert response.headers.get("Referrer-Policy") == "no-referrer", what
        csp = response.headers.get("Content-Security-Policy", "")
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, what
    assert responses["login"].status_code in (200, 201)
    assert responses["login"].headers["Cache-Control"] == "no-store"
    assert responses["form list"].headers["Cache-Control"] == "no-store"


def test_responses_with_personal_data_are_not_stored_by_caches(
    client: FlaskClient, coordinator: LoggedIn, project: Project
) -> None:
    base = f"/api/v1/projects/{project.id}"
    api = SyncApi(client, coordinator, project.id)
    for response in (
        client.get(f"{base}/forms/simple/submissions", headers=coordinator.headers),
        client.get(f"{base}/entity-lists/survivors/entities", headers=coordinator.headers),
        client.get(f"{base}/entity-lists/survivors/entities.csv", headers=coordinator.headers),
        client.get(f"{base}/conflicts", headers=coordinator.headers),
        api.changes(project.id),
    ):
        assert response.status_code == 200, response.request.path
        assert response.headers["Cache-Control"] == "no-store", response.request.path


def test_the_form_list_is_still_xml(client: FlaskClient, device: Device) -> None:
    response = client.get(device.base_path + "/formList", headers=OPENROSA)
    assert etree.fromstring(response.data) is not None
