"""What the ingest path keeps between requests is never out of date: a second server process
(another app on the same database, with its own cache), the CLI or plain SQL changes a device
token or a form, and the first process sees it at its very next submission. Attachments are
hashed as they arrive and moved into the blob store, leaving nothing behind."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from server import create_app
from server.accounts import service as accounts
from server.accounts.models import AppUser
from server.config_cache import CacheGeneration
from server.db import transaction
from server.projects.models import Project
from server.settings import Settings
from server.submissions.models import Submission, SubmissionAttachment
from tests.factories import Device, Factories
from tests.openrosa.helpers import (
    FIXTURES,
    OPENROSA,
    PHOTO,
    count,
    form_data,
    instance_xml,
    new_instance_id,
    simple_xml,
)
from tests.openrosa.test_bad_input import truncated_body


@pytest.fixture
def other_process(app: Flask, settings: Settings) -> Iterator[Flask]:
    """A second server on the same database: its own engine, its own cache."""
    other = create_app(settings)
    yield other
    other.extensions["fieldsync"].engine.dispose()


def submit(client: FlaskClient, device: Device, xml: bytes, **files: bytes) -> int:
    response = client.post(
        device.base_path + "/submission", headers=OPENROSA, data=form_data(xml, files)
    )
    return response.status_code


def test_a_device_revoked_by_another_process_is_refused_at_its_next_submission(
    app: Flask, client: FlaskClient, device: Device, simple_form: None, other_process: Flask
) -> None:
    assert submit(client, device, simple_xml(new_instance_id())) == 201
    assert submit(client, device, simple_xml(new_instance_id())) == 201  # served from the cache
    with transaction(other_process.extensions["fieldsync"].session_factory) as session:
        app_user = session.get(AppUser, device.app_user_id)
        assert app_user is not None
        accounts.revoke_app_user(session, app_user)
    assert submit(client, device, simple_xml(new_instance_id())) == 403
    assert count(app, Submission) == 2


def test_a_form_closed_with_plain_sql_is_refused_at_the_next_submission(
    app: Flask, client: FlaskClient, device: Device, simple_form: None
) -> None:
    assert submit(client, device, simple_xml(new_instance_id())) == 201
    engine = app.extensions["fieldsync"].engine
    with engine.begin() as conn:
        conn.execute(text("UPDATE forms SET state = 'closed' WHERE xml_form_id = 'simple'"))
    assert submit(client, device, simple_xml(new_instance_id())) == 409


def test_a_version_published_by_another_process_is_accepted_at_once(
    app: Flask,
    client: FlaskClient,
    device: Device,
    project: Project,
    simple_form: None,
    other_process: Flask,
) -> None:
    second = instance_xml("simple", "2", new_instance_id(), name="Site B", photo="")
    assert submit(client, device, second) == 404  # no version 2 yet: kept as a miss
    form_v2 = (FIXTURES / "simple_form.xml").read_bytes().replace(b'version="1"', b'version="2"')
    Factories(other_process).publish_bytes(project, "simple_form.xml", form_v2)
    assert submit(client, device, second) == 201


def test_a_change_that_is_rolled_back_leaves_the_generation_as_it_was(
    app: Flask, device: Device
) -> None:
    factory = app.extensions["fieldsync"].session_factory

    def generation() -> int:
        with transaction(factory) as session:
            return int(session.scalars(select(CacheGeneration.generation)).one())

    before = generation()
    session = factory()
    session.execute(text("UPDATE app_users SET display_name = 'renamed'"))
    inside = session.scalars(select(CacheGeneration.generation)).one()
    session.rollback()
    session.close()
    assert inside != before
    assert generation() == before
    with transaction(factory) as session:
        session.execute(text("UPDATE app_users SET display_name = 'renamed'"))
    assert generation() not in (before, inside)


def _incoming(app: Flask) -> list[Path]:
    incoming = app.extensions["fieldsync"].blobs.tmp
    return [p for p in incoming.iterdir() if p.is_file()]


def test_a_photo_is_moved_into_the_blob_store_with_its_hash_and_nothing_is_left_behind(
    app: Flask, client: FlaskClient, device: Device, simple_form: None
) -> None:
    assert submit(client, device, simple_xml(new_instance_id(), photo="a.jpg"), **{"a.jpg": PHOTO})
    digest = hashlib.sha256(PHOTO).hexdigest()
    with transaction(app.extensions["fieldsync"].session_factory) as session:
        row = session.scalars(select(SubmissionAttachment)).one()
    assert row.name == "a.jpg"
    assert row.blob_sha256 == digest
    assert app.extensions["fieldsync"].blobs.path(digest).read_bytes() == PHOTO
    assert _incoming(app) == []


def test_a_truncated_photo_leaves_nothing_in_the_incoming_directory(
    app: Flask, client: FlaskClient, device: Device, simple_form: None
) -> None:
    boundary = "cutshort"
    response = client.post(
        device.base_path + "/submission",
        headers=OPENROSA,
        data=truncated_body(boundary, simple_xml(new_instance_id(), photo="a.jpg")),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert response.status_code == 400
    assert _incoming(app) == []
    assert count(app, Submission) == 0
