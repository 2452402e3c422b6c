"""Submission semantics over the OpenRosa route: new, resend, split upload, conflict, edit,
unknown or closed forms, and the size limit."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select

from server import create_app
from server.projects.models import Project
from server.settings import Settings
from server.submissions.models import Submission, SubmissionAttachment, SubmissionVersion
from tests.conftest import empty_database
from tests.factories import Device, Factories
from tests.openrosa.helpers import (
    OPENROSA,
    PHOTO,
    count,
    form_data,
    instance_xml,
    new_instance_id,
    photos_xml,
    set_form_state,
    simple_xml,
)

MESSAGE = "{http://openrosa.org/http/response}message"


def submit(
    client: FlaskClient,
    device: Device,
    xml: bytes,
    files: dict[str, bytes] | None = None,
    incomplete: bool = False,
) -> tuple[int, str]:
    response = client.post(
        device.base_path + "/submission", data=form_data(xml, files, incomplete), headers=OPENROSA
    )
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    message = etree.fromstring(response.data).findtext(MESSAGE) or ""
    return response.status_code, message


def attachments(app: Flask, instance_id: str) -> dict[str, str | None]:
    with app.extensions["fieldsync"].session_factory() as session:
        rows = session.execute(
            select(SubmissionAttachment.name, SubmissionAttachment.blob_sha256)
            .join(
                SubmissionVersion,
                SubmissionVersion.id == SubmissionAttachment.submission_version_id,
            )
            .where(SubmissionVersion.instance_id == instance_id)
        ).all()
    return dict(rows)


def review_state(app: Flask, root_instance_id: str) -> str:
    with app.extensions["fieldsync"].session_factory() as session:
        return session.scalars(
            select(Submission.review_state).where(Submission.root_instance_id == root_instance_id)
        ).one()


def test_a_new_submission_is_stored_with_its_photo(
    app: Flask, client: FlaskClient, device: Device, simple_form: None
) -> None:
    instance_id = new_instance_id()
    status, message = submit(
        client, device, simple_xml(instance_id, photo="a.jpg"), {"a.jpg": PHOTO}
    )
    assert status == 201
    assert message == "Thank you: submission received."
    assert count(app, Submission) == 1
    stored = attachments(app, instance_id)
    assert stored == {"a.jpg": hashlib.sha256(PHOTO).hexdigest()}
    blobs = app.extensions["fieldsync"].blobs
    assert blobs.path(stored["a.jpg"]).read_bytes() == PHOTO


def test_a_byte_identical_resend_is_accepted_and_stores_nothing_new(
    app: Flask, client: FlaskClient, device: Device, simple_form: None
) -> None:
    xml = simple_xml(new_instance_id(), photo="a.jpg")
    assert submit(client, device, xml, {"a.jpg": PHOTO})[0] == 201
    status, message = submit(client, device, xml, {"a.jpg": PHOTO})
    assert status == 201
    assert "already been received" in message
    assert count(app, Submission) == 1
    assert count(app, SubmissionVersion) == 1
    assert count(app, SubmissionAttachment) == 1


def test_a_submission_split_over_three_posts_ends_with_every_photo(
    app: Flask, client: FlaskClient, device: Device, photos_form: None
) -> None:
    instance_id = new_instance_id()
    xml = photos_xml(instance_id)
    photos = {f"p{i}.jpg": PHOTO + bytes([i]) for i in (1, 2, 3)}

    status, message = submit(client, device, xml, {"p1.jpg": photos["p1.jpg"]}, incomplete=True)
    assert status == 201
    assert "Still waiting for 2 attachment(s): p2.jpg, p3.jpg" in message
    status, message = submit(client, device, xml, {"p2.jpg": photos["p2.jpg"]}, incomplete=True)
    assert status == 201
    assert "p3.jpg" in message and "p2.jpg" not in message
    status, message = submit(client, device, xml, {"p3.jpg": photos["p3.jpg"]})
    assert status == 201
    assert "Still waiting" not in message

    assert count(app, Submission) == 1
    stored = attachments(app, instance_id)
    assert stored == {n: hashlib.sha256(c).hexdigest() for n, c in photos.items()}


def test_different_content_under_a_known_instance_id_is_a_409(
    app: Flask, client: FlaskClient, device: Device, simple_form: None
) -> None:
    instance_id = new_instance_id()
    assert submit(client, device, simple_xml(instance_id, name="Site A"))[0] == 201
    status, message = submit(client, device, simple_xml(instance_id, name="Site B"))
    assert status == 409
    assert instance_id in message and "edit" in message
    assert count(app, SubmissionVersion) == 1


def test_an_edit_adds_a_version_carries_photos_over_and_marks_it_edited(
    app: Flask, client: FlaskClient, device: Device, simple_form: None
) -> None:
    first = new_instance_id()
    assert submit(client, device, simple_xml(first, photo="a.jpg"), {"a.jpg": PHOTO})[0] == 201
    second = new_instance_id()
    edited = simple_xml(second, name="Site A, corrected", photo="a.jpg", deprecated_id=first)
    status, _ = submit(client, device, edited)
    assert status == 201
    assert count(app, Submission) == 1
    assert count(app, SubmissionVersion) == 2
    assert attachments(app, second) == attachments(app, first)
    assert review_state(app, first) == "edited"
    with app.extensions["fieldsync"].session_factory() as session:
        submission = session.scalars(select(Submission)).one()
        assert submission.current_instance_id == second


def test_editing_a_superseded_version_is_refused_as_out_of_date(
    app: Flask, client: FlaskClient, device: Device, simple_form: None
) -> None:
    first, second, third = new_instance_id(), new_instance_id(), new_instance_id()
    assert submit(client, device, simple_xml(first))[0] == 201
    assert submit(client, device, simple_xml(second, name="B", deprecated_id=first))[0] == 201
    status, message = submit(client, device, simple_xml(third, name="C", deprecated_id=first))
    assert status == 409
    assert "out of date" in message
    assert count(app, SubmissionVersion) == 2


def test_unknown_form_or_version_is_a_404_with_a_message(
    app: Flask, client: FlaskClient, device: Device, simple_form: None
) -> None:
    status, message = submit(client, device, instance_xml("no_such_form", "1", new_instance_id()))
    assert status == 404
    assert "no_such_form" in message
    status, message = submit(client, device, instance_xml("simple", "7", new_instance_id()))
    assert status == 404
    assert "'7'" in message
    assert count(app, Submission) == 0


def test_a_closed_form_refuses_and_a_closing_form_accepts(
    app: Flask,
    client: FlaskClient,
    factories: Factories,
    project: Project,
    device: Device,
    simple_form: None,
) -> None:
    set_form_state(factories, project.id, "simple", "closing")
    assert submit(client, device, simple_xml(new_instance_id()))[0] == 201
    set_form_state(factories, project.id, "simple", "closed")
    status, message = submit(client, device, simple_xml(new_instance_id()))
    assert status == 409
    assert "no longer accepts" in message
    assert count(app, Submission) == 1


@pytest.fixture
def small_limit_app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings.with_overrides(max_upload_bytes=64 * 1024))
    empty_database(application)
    yield application
    empty_database(application)
    application.extensions["fieldsync"].engine.dispose()


def test_an_upload_over_the_limit_is_a_413_with_a_message(small_limit_app: Flask) -> None:
    factories = Factories(small_limit_app)
    project = factories.project()
    device = factories.device(project)
    from tests.openrosa.helpers import publish_fixture

    publish_fixture(factories, project, "simple_form")
    client = small_limit_app.test_client()
    head = client.head(device.base_path + "/submission", headers=OPENROSA)
    assert head.headers["X-OpenRosa-Accept-Content-Length"] == str(64 * 1024)
    status, message = submit(
        client,
        device,
        simple_xml(new_instance_id(), photo="big.jpg"),
        {"big.jpg": b"x" * (100 * 1024)},
    )
    assert status == 413
    assert str(64 * 1024) in message
    assert count(small_limit_app, Submission) == 0
    # A submission under the limit still goes through.
    assert submit(client, device, simple_xml(new_instance_id()))[0] == 201
