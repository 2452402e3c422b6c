"""The submissions JSON API: listing, reading with XML and files, and review states."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.projects.models import Project
from tests.factories import Device, Factories, LoggedIn
from tests.openrosa.helpers import (
    OPENROSA,
    PHOTO,
    form_data,
    new_instance_id,
    photos_xml,
    publish_fixture,
    simple_xml,
)


@pytest.fixture
def project(factories: Factories) -> Project:
    project = factories.project()
    publish_fixture(factories, project, "simple_form")
    publish_fixture(factories, project, "photos_form")
    return project


@pytest.fixture
def device(factories: Factories, project: Project) -> Device:
    return factories.device(project)


@pytest.fixture
def coordinator(factories: Factories, project: Project) -> LoggedIn:
    return factories.logged_in(project, "coordinator")


def send(
    client: FlaskClient, device: Device, xml: bytes, files: dict[str, bytes] | None = None
) -> None:
    response = client.post(
        device.base_path + "/submission", data=form_data(xml, files), headers=OPENROSA
    )
    assert response.status_code == 201, response.data


def api(project: Project, form_id: str, suffix: str = "") -> str:
    return f"/api/v1/projects/{project.id}/forms/{form_id}/submissions{suffix}"


def test_the_list_shows_versions_review_state_and_attachments(
    client: FlaskClient, project: Project, device: Device, coordinator: LoggedIn
) -> None:
    first, second = new_instance_id(), new_instance_id()
    send(client, device, photos_xml(first), {"p1.jpg": PHOTO, "p2.jpg": PHOTO + b"2"})
    send(client, device, simple_xml(second))
    response = client.get(api(project, "site_photos"), headers=coordinator.headers)
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "1"
    [item] = response.json
    assert item["instance_id"] == first
    assert item["review_state"] == "received"
    assert [v["instance_id"] for v in item["versions"]] == [first]
    assert item["versions"][0]["form_version"] == "1"
    assert item["attachments"] == [
        {"name": "p1.jpg", "present": True},
        {"name": "p2.jpg", "present": True},
        {"name": "p3.jpg", "present": False},
    ]
    assert (item["attachments_expected"], item["attachments_present"]) == (3, 2)


def test_the_list_pages_and_checks_its_query(
    client: FlaskClient, project: Project, device: Device, coordinator: LoggedIn
) -> None:
    ids = [new_instance_id() for _ in range(3)]
    for instance_id in ids:
        send(client, device, simple_xml(instance_id))
    page = client.get(api(project, "simple", "?limit=2&offset=1"), headers=coordinator.headers)
    assert [s["instance_id"] for s in page.json] == ids[1:]
    assert page.headers["X-Total-Count"] == "3"
    bad = client.get(api(project, "simple", "?limit=0"), headers=coordinator.headers)
    assert bad.status_code == 400
    assert bad.mimetype == "application/problem+json"
    assert "limit" in bad.json["errors"]


def test_one_submission_comes_with_its_xml_and_each_version_can_be_addressed(
    client: FlaskClient, project: Project, device: Device, coordinator: LoggedIn
) -> None:
    first, second = new_instance_id(), new_instance_id()
    original = simple_xml(first, name="Before", photo="a.jpg")
    send(client, device, original, {"a.jpg": PHOTO})
    edited = simple_xml(second, name="After", photo="a.jpg", deprecated_id=first)
    send(client, device, edited)

    by_root = client.get(api(project, "simple", f"/{first}"), headers=coordinator.headers).json
    assert by_root["current_instance_id"] == second
    assert by_root["review_state"] == "edited"
    assert by_root["xml"] == edited.decode()
    assert [v["current"] for v in by_root["versions"]] == [False, True]
    assert by_root["versions"][1]["deprecated_id"] == first
    assert by_root["attachments"] == [{"name": "a.jpg", "present": True}]

    by_version = client.get(api(project, "simple", f"/{second}"), headers=coordinator.headers)
    assert by_version.json["xml"] == edited.decode()
    missing = client.get(api(project, "simple", "/uuid:nope"), headers=coordinator.headers)
    assert missing.status_code == 404


def test_attachments_download_and_missing_ones_are_404(
    client: FlaskClient, project: Project, device: Device, coordinator: LoggedIn
) -> None:
    instance_id = new_instance_id()
    send(client, device, photos_xml(instance_id), {"p1.jpg": PHOTO})
    got = client.get(
        api(project, "site_photos", f"/{instance_id}/attachments/p1.jpg"),
        headers=coordinator.headers,
    )
    assert got.status_code == 200
    assert got.data == PHOTO
    assert got.headers["Content-Type"] == "image/jpeg"
    for name in ("p2.jpg", "other.jpg"):
        response = client.get(
            api(project, "site_photos", f"/{instance_id}/attachments/{name}"),
            headers=coordinator.headers,
        )
        assert response.status_code == 404, name


def test_a_coordinator_sets_the_review_state_and_it_is_audited(
    app: Flask, client: FlaskClient, project: Project, device: Device, coordinator: LoggedIn
) -> None:
    instance_id = new_instance_id()
    send(client, device, simple_xml(instance_id))
    response = client.patch(
        api(project, "simple", f"/{instance_id}"),
        json={"review_state": "has_issues", "note": "area figure missing"},
        headers=coordinator.headers,
    )
    assert response.status_code == 200
    assert response.json["review_state"] == "has_issues"
    response = client.patch(
        api(project, "simple", f"/{instance_id}"),
        json={"review_state": "approved"},
        headers=coordinator.headers,
    )
    assert response.json["review_state"] == "approved"
    with app.extensions["fieldsync"].session_factory() as session:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "submission.review")
            .order_by(AuditEntry.id)
        ).all()
    details: list[dict[str, Any]] = [e.details for e in entries]
    assert [(d["previous"], d["state"]) for d in details] == [
        ("received", "has_issues"),
        ("has_issues", "approved"),
    ]
    assert details[0]["note"] == "area figure missing"
    assert all(e.actor_user_id == coordinator.user.id for e in entries)


def test_review_states_are_checked(
    client: FlaskClient, project: Project, device: Device, coordinator: LoggedIn
) -> None:
    instance_id = new_instance_id()
    send(client, device, simple_xml(instance_id))
    response = client.patch(
        api(project, "simple", f"/{instance_id}"),
        json={"review_state": "lost"},
        headers=coordinator.headers,
    )
    assert response.status_code == 400
    assert "review_state" in response.json["errors"]


def test_roles_decide_who_reads_and_who_reviews(
    client: FlaskClient, factories: Factories, project: Project, device: Device
) -> None:
    instance_id = new_instance_id()
    send(client, device, simple_xml(instance_id))
    viewer = factories.logged_in(project, "viewer")
    collector = factories.logged_in(project, "data_collector")
    outsider = factories.login(factories.user())
    one = api(project, "simple", f"/{instance_id}")

    assert client.get(one, headers=viewer.headers).status_code == 200
    patch = client.patch(one, json={"review_state": "approved"}, headers=viewer.headers)
    assert patch.status_code == 403
    assert client.get(one, headers=collector.headers).status_code == 403
    assert client.get(one, headers=outsider.headers).status_code == 404
    assert client.get(one).status_code == 401
