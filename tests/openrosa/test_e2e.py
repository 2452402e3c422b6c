"""End to end: a running server (waitress on a loopback port) driven over HTTP the way ODK
Collect drives it: form list, form, manifest, media and entity list, HEAD, split uploads,
resends after a broken connection, edits, racing retries, Digest login."""

from __future__ import annotations

import hashlib
import socket
import threading
import uuid
from collections.abc import Iterator

import pytest
import requests
from flask import Flask
from lxml import etree
from requests.auth import HTTPDigestAuth
from sqlalchemy import select

from server.accounts import service as accounts
from server.accounts.models import AppUser
from server.projects.models import Project
from server.settings import Settings
from server.submissions.models import Submission, SubmissionAttachment, SubmissionVersion
from tests.conftest import LiveServer
from tests.factories import DEFAULT_PASSWORD, Device, Factories
from tests.openrosa.helpers import (
    OPENROSA,
    PHOTO,
    count,
    md5,
    new_instance_id,
    photos_xml,
    publish_fixture,
    requests_files,
    simple_xml,
    upload_media,
)

pytestmark = pytest.mark.e2e

XFORMS = "{http://openrosa.org/xforms/xformsList}"
MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"
MESSAGE = "{http://openrosa.org/http/response}message"


@pytest.fixture
def collect(live_server: LiveServer, device: Device) -> Iterator[requests.Session]:
    """A keep-alive HTTP session as Collect keeps one, with the OpenRosa header on every call."""
    with requests.Session() as session:
        session.headers.update(OPENROSA)
        session.headers["User-Agent"] = "org.odk.collect.android/v2024.3.0 (test)"
        yield session


def url(live_server: LiveServer, device: Device, path: str) -> str:
    return f"{live_server.url}{device.base_path}{path}"


def stored_attachments(app: Flask, instance_id: str) -> dict[str, str | None]:
    with app.extensions["fieldsync"].session_factory() as session:
        return dict(
            session.execute(
                select(SubmissionAttachment.name, SubmissionAttachment.blob_sha256)
                .join(
                    SubmissionVersion,
                    SubmissionVersion.id == SubmissionAttachment.submission_version_id,
                )
                .where(SubmissionVersion.instance_id == instance_id)
            ).all()
        )


def test_a_collect_session_downloads_forms_media_and_lists_then_submits_in_three_posts(
    app: Flask,
    live_server: LiveServer,
    collect: requests.Session,
    factories: Factories,
    project: Project,
    device: Device,
) -> None:
    for name in ("hazard_registration", "hazard_visit", "photos_form"):
        publish_fixture(factories, project, name)
    villages = b"name,label\n" + b"".join(b"v%d,Village %d\n" % (i, i) for i in range(500))
    upload_media(factories, project.id, "hazard_visit", "villages.csv", villages)

    listing = collect.get(url(live_server, device, "/formList"), timeout=10)
    assert listing.status_code == 200
    assert listing.headers["X-OpenRosa-Version"] == "1.0"
    forms = {x.findtext(f"{XFORMS}formID"): x for x in etree.fromstring(listing.content)}
    assert set(forms) == {"hazard_registration", "hazard_visit", "site_photos"}

    for form_id, entry in forms.items():
        form = collect.get(entry.findtext(f"{XFORMS}downloadUrl"), timeout=10)
        assert form.status_code == 200, form_id
        assert form.headers["Content-Encoding"] == "gzip"  # requests asks for gzip, as Collect
        assert f"md5:{md5(form.content)}" == entry.findtext(f"{XFORMS}hash")

    manifest_url = forms["hazard_visit"].findtext(f"{XFORMS}manifestUrl")
    manifest = etree.fromstring(collect.get(manifest_url, timeout=10).content)
    media = {m.findtext(f"{MANIFEST}filename"): m for m in manifest}
    assert set(media) == {"hazard_areas.csv", "villages.csv"}
    assert media["hazard_areas.csv"].get("type") == "entityList"
    villages_entry = media["villages.csv"]
    got = collect.get(villages_entry.findtext(f"{MANIFEST}downloadUrl"), timeout=10)
    assert got.headers["Content-Encoding"] == "gzip"
    assert got.content == villages
    assert f"md5:{md5(got.content)}" == villages_entry.findtext(f"{MANIFEST}hash")

    list_entry = media["hazard_areas.csv"]
    list_url = list_entry.findtext(f"{MANIFEST}downloadUrl")
    entity_list = collect.get(list_url, timeout=10)
    assert entity_list.status_code == 200
    assert entity_list.headers["Content-Encoding"] == "gzip"
    assert entity_list.text.startswith("name,label,__version")
    list_hash = (list_entry.findtext(f"{MANIFEST}hash") or "")[4:]
    assert entity_list.headers["ETag"].strip('W/"') == list_hash
    unchanged = collect.get(list_url, headers={"If-None-Match": f'"{list_hash}"'}, timeout=10)
    assert unchanged.status_code == 304

    head = collect.head(url(live_server, device, "/submission"), timeout=10)
    assert head.status_code == 204
    limit = int(head.headers["X-OpenRosa-Accept-Content-Length"])
    assert limit > 0

    instance_id = new_instance_id()
    xml = photos_xml(instance_id)
    photos = {f"p{i}.jpg": PHOTO * (i + 10) for i in (1, 2, 3)}
    for i, (name, content) in enumerate(photos.items()):
        last = i == len(photos) - 1
        data = {} if last else {"*isIncomplete*": "yes"}
        response = collect.post(
            url(live_server, device, "/submission"),
            data=data,
            files=requests_files(xml, {name: content}),
            timeout=10,
        )
        assert response.status_code == 201, response.text
        message = etree.fromstring(response.content).findtext(MESSAGE) or ""
        assert ("Still waiting" in message) != last
    assert stored_attachments(app, instance_id) == {
        n: hashlib.sha256(c).hexdigest() for n, c in photos.items()
    }
    assert count(app, Submission) == 1


def send_raw(
    live_server: LiveServer,
    path: str,
    body: bytes,
    content_type: str,
    send_bytes: int,
    read_response: bool,
) -> bytes:
    """Send a request over a plain socket, stopping after ``send_bytes`` of the body, and
    close the connection (optionally after reading the answer), as a dropped link does."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{live_server.port}\r\n"
        f"X-OpenRosa-Version: 1.0\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = b""
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall(head + body[:send_bytes])
        if read_response:
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


def multipart_body(xml: bytes, files: dict[str, bytes]) -> tuple[bytes, str]:
    prepared = requests.Request("POST", "http://x/", files=requests_files(xml, files)).prepare()
    assert isinstance(prepared.body, bytes)
    return prepared.body, prepared.headers["Content-Type"]


def test_a_resend_after_a_connection_dropped_mid_upload_stores_one_submission(
    app: Flask,
    live_server: LiveServer,
    collect: requests.Session,
    device: Device,
    simple_form: None,
) -> None:
    instance_id = new_instance_id()
    xml = simple_xml(instance_id, photo="a.jpg")
    body, content_type = multipart_body(xml, {"a.jpg": PHOTO * 50})
    send_raw(
        live_server,
        device.base_path + "/submission",
        body,
        content_type,
        send_bytes=len(body) // 2,
        read_response=False,
    )
    assert count(app, Submission) == 0

    response = collect.post(
        url(live_server, device, "/submission"),
        files=requests_files(xml, {"a.jpg": PHOTO * 50}),
        timeout=10,
    )
    assert response.status_code == 201
    assert count(app, Submission) == 1
    assert stored_attachments(app, instance_id)["a.jpg"] == hashlib.sha256(PHOTO * 50).hexdigest()


def test_a_resend_after_the_answer_was_lost_is_a_201_and_stores_one_submission(
    app: Flask,
    live_server: LiveServer,
    collect: requests.Session,
    device: Device,
    simple_form: None,
) -> None:
    xml = simple_xml(new_instance_id())
    body, content_type = multipart_body(xml, {})
    answer = send_raw(
        live_server,
        device.base_path + "/submission",
        body,
        content_type,
        send_bytes=len(body),
        read_response=True,
    )
    assert answer.startswith(b"HTTP/1.1 201")
    response = collect.post(
        url(live_server, device, "/submission"), files=requests_files(xml), timeout=10
    )
    assert response.status_code == 201
    assert count(app, Submission) == 1
    assert count(app, SubmissionVersion) == 1


def test_an_edit_over_http_adds_a_version(
    app: Flask,
    live_server: LiveServer,
    collect: requests.Session,
    device: Device,
    simple_form: None,
) -> None:
    first, second = new_instance_id(), new_instance_id()
    submit_url = url(live_server, device, "/submission")
    assert (
        collect.post(
            submit_url,
            files=requests_files(simple_xml(first, photo="a.jpg"), {"a.jpg": PHOTO}),
            timeout=10,
        ).status_code
        == 201
    )
    edited = simple_xml(second, name="Corrected", photo="a.jpg", deprecated_id=first)
    assert collect.post(submit_url, files=requests_files(edited), timeout=10).status_code == 201
    assert stored_attachments(app, second) == stored_attachments(app, first)
    stale = simple_xml(new_instance_id(), name="Late", deprecated_id=first)
    response = collect.post(submit_url, files=requests_files(stale), timeout=10)
    assert response.status_code == 409
    assert "out of date" in (etree.fromstring(response.content).findtext(MESSAGE) or "")
    assert count(app, SubmissionVersion) == 2


def test_two_identical_posts_racing_store_one_submission_and_both_get_201(
    app: Flask, live_server: LiveServer, device: Device, simple_form: None
) -> None:
    rounds = 5
    statuses: list[int] = []
    lock = threading.Lock()
    for _ in range(rounds):
        xml = simple_xml(new_instance_id(), photo="a.jpg")
        barrier = threading.Barrier(2)

        def post(xml: bytes = xml, barrier: threading.Barrier = barrier) -> None:
            files = requests_files(xml, {"a.jpg": PHOTO})
            barrier.wait()
            response = requests.post(
                url(live_server, device, "/submission"), files=files, headers=OPENROSA, timeout=30
            )
            with lock:
                statuses.append(response.status_code)

        threads = [threading.Thread(target=post) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [201] * (2 * rounds)
    assert count(app, Submission) == rounds
    assert count(app, SubmissionVersion) == rounds
    assert count(app, SubmissionAttachment) == rounds


def test_a_user_logs_in_with_digest_as_collect_does(
    app: Flask,
    live_server: LiveServer,
    factories: Factories,
    project: Project,
    simple_form: None,
) -> None:
    collector = factories.user(project, "data_collector", digest=True)
    session = requests.Session()
    session.headers.update(OPENROSA)
    session.auth = HTTPDigestAuth(collector.email, DEFAULT_PASSWORD)
    base = f"{live_server.url}/v1/projects/{project.id}"
    listing = session.get(f"{base}/formList", timeout=10)
    assert listing.status_code == 200
    assert b"<formID>simple</formID>" in listing.content
    assert session.head(f"{base}/submission", timeout=10).status_code == 204
    response = session.post(
        f"{base}/submission", files=requests_files(simple_xml(new_instance_id())), timeout=10
    )
    assert response.status_code == 201
    with app.extensions["fieldsync"].session_factory() as db:
        version = db.scalars(select(SubmissionVersion)).one()
        assert version.submitter_user_id == collector.id

    wrong = requests.get(
        f"{base}/formList",
        headers=OPENROSA,
        timeout=10,
        auth=HTTPDigestAuth(collector.email, "not the password"),
    )
    assert wrong.status_code == 401


def test_bad_and_revoked_tokens_get_403_from_a_running_server(
    live_server: LiveServer,
    collect: requests.Session,
    factories: Factories,
    device: Device,
) -> None:
    bad = collect.get(
        f"{live_server.url}/v1/key/{uuid.uuid4().hex}/projects/{device.project_id}/formList",
        timeout=10,
    )
    assert bad.status_code == 403
    assert collect.get(url(live_server, device, "/formList"), timeout=10).status_code == 200
    with factories.session() as session, session.begin():
        accounts.revoke_app_user(session, session.get(AppUser, device.app_user_id))
    revoked = collect.head(url(live_server, device, "/submission"), timeout=10)
    assert revoked.status_code == 403
    assert "WWW-Authenticate" not in revoked.headers


def test_an_upload_over_the_limit_gets_413_with_a_message_from_a_running_server(
    settings: Settings,
) -> None:
    from server import create_app
    from tests.conftest import empty_database

    small = create_app(settings.with_overrides(max_upload_bytes=256 * 1024))
    empty_database(small)
    factories = Factories(small)
    project = factories.project()
    device = factories.device(project)
    publish_fixture(factories, project, "simple_form")
    server = LiveServer(small).start()
    try:
        with requests.Session() as collect:
            collect.headers.update(OPENROSA)
            submit_url = f"{server.url}{device.base_path}/submission"
            head = collect.head(submit_url, timeout=10)
            assert head.headers["X-OpenRosa-Accept-Content-Length"] == str(256 * 1024)
            xml = simple_xml(new_instance_id(), photo="big.jpg")
            response = collect.post(
                submit_url, timeout=10, files=requests_files(xml, {"big.jpg": PHOTO * 200})
            )
            assert response.status_code == 413
            assert str(256 * 1024) in (etree.fromstring(response.content).findtext(MESSAGE) or "")
            assert count(small, Submission) == 0
            # The device can still send what fits, on the same connection.
            fits = collect.post(
                submit_url, files=requests_files(xml, {"big.jpg": PHOTO}), timeout=10
            )
            assert fits.status_code == 201
    finally:
        server.stop()
        empty_database(small)
        small.extensions["fieldsync"].engine.dispose()
