"""Push: per-item results, idempotency keys, compressed bodies, and who may push."""

from __future__ import annotations

import gzip
import json
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.db import utcnow
from server.projects.models import Project
from server.submissions.models import Submission, SubmissionAttachment, SubmissionVersion
from server.sync.models import IdempotencyKey, IdempotencyStatus
from server.sync.service import request_fingerprint
from tests.conftest import LiveServer
from tests.factories import Factories
from tests.sync.conftest import SyncApi, instance_xml, new_instance_id, sha256_hex


def _count(session: Session, model: type) -> int:
    # Read in a short transaction: on SQLite an open one would hold the write lock.
    try:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        session.rollback()


def _item(client_id: str, xml: str, **extra: object) -> dict[str, object]:
    return {"client_id": client_id, "xml": xml, **extra}


def test_a_mixed_batch_gets_one_result_per_item(
    api: SyncApi, project: Project, db_session: Session
) -> None:
    photo = b"\xff\xd8 a photo of the strike site"
    photo_sha = api.upload(photo)
    first = new_instance_id()
    edit = new_instance_id()
    via = [
        {"hop": "device", "id": "collect:abc123", "received_at": "2026-11-29T10:00:00Z"},
        {"hop": "hub", "id": "laptop-camp-3", "received_at": "2026-11-29T10:05:00Z"},
    ]
    items = [
        _item(
            "1",
            instance_xml(first, photo="photo-1.jpg"),
            attachments=[{"name": "photo-1.jpg", "sha256": photo_sha}],
            via=via,
        ),
        _item("2", instance_xml(first, photo="photo-1.jpg")),
        _item("3", instance_xml(edit, name="Amina K.", deprecated_id=first)),
        _item("4", instance_xml(first, name="Someone else")),
        _item("5", instance_xml(new_instance_id(), form_id="no_such_form")),
        _item("6", "<data id='simple'"),
        _item(
            "7",
            instance_xml(new_instance_id(), photo="p.jpg"),
            attachments=[{"name": "p.jpg", "sha256": "ab" * 32}],
        ),
    ]
    response = api.push({"project_id": project.id, "items": items}, "batch-1")
    assert response.status_code == 200, response.get_data(as_text=True)
    results = {r["client_id"]: r for r in response.get_json()["results"]}
    assert [r["client_id"] for r in response.get_json()["results"]] == [str(i) for i in range(1, 8)]

    assert results["1"] == {
        "client_id": "1",
        "instance_id": first,
        "status": "stored",
        "code": None,
        "detail": None,
        "missing_attachments": [],
    }
    assert results["2"]["status"] == "duplicate"
    assert results["3"]["status"] == "edit"
    assert results["3"]["instance_id"] == edit
    assert (results["4"]["status"], results["4"]["code"]) == (
        "conflict",
        "submission.instance_conflict",
    )
    assert (results["5"]["status"], results["5"]["code"]) == ("rejected", "form.not_found")
    assert (results["6"]["status"], results["6"]["code"]) == ("rejected", "xml.malformed")
    assert results["6"]["instance_id"] is None
    assert (results["7"]["status"], results["7"]["code"]) == ("rejected", "blob.missing")
    assert results["7"]["missing_attachments"] == ["p.jpg"]

    # Only the new submission and its edit were stored; the failed items left nothing behind.
    assert _count(db_session, Submission) == 1
    assert _count(db_session, SubmissionVersion) == 2
    stored = db_session.scalars(
        select(SubmissionVersion).where(SubmissionVersion.instance_id == first)
    ).one()
    assert [h["hop"] for h in stored.provenance] == ["device", "hub", "server"]
    assert stored.provenance[1]["id"] == "laptop-camp-3"
    assert stored.submitter_user_id == api.who.user.id
    attachment = db_session.scalars(
        select(SubmissionAttachment).where(SubmissionAttachment.submission_version_id == stored.id)
    ).one()
    assert (attachment.name, attachment.blob_sha256) == ("photo-1.jpg", photo_sha)


def test_a_missing_attachment_is_reported_and_the_retry_after_upload_fills_it(
    api: SyncApi, project: Project, db_session: Session
) -> None:
    photo = b"photo bytes that were not uploaded yet"
    instance = new_instance_id()
    item = _item(
        "a",
        instance_xml(instance, photo="photo.jpg"),
        attachments=[{"name": "photo.jpg", "sha256": sha256_hex(photo)}],
    )
    first = api.push({"project_id": project.id, "items": [item]}, "k1").get_json()["results"][0]
    assert (first["status"], first["missing_attachments"]) == ("rejected", ["photo.jpg"])
    assert _count(db_session, Submission) == 0

    api.upload(photo)
    again = api.push({"project_id": project.id, "items": [item]}, "k2").get_json()["results"][0]
    assert (again["status"], again["missing_attachments"]) == ("stored", [])


def test_an_item_without_its_attachment_is_stored_and_says_what_is_missing(
    api: SyncApi, project: Project
) -> None:
    item = _item("a", instance_xml(new_instance_id(), photo="later.jpg"))
    result = api.push({"project_id": project.id, "items": [item]}, "k").get_json()["results"][0]
    assert (result["status"], result["missing_attachments"]) == ("stored", ["later.jpg"])


def test_retrying_with_the_same_key_returns_the_same_answer_and_stores_nothing_twice(
    api: SyncApi, project: Project, db_session: Session
) -> None:
    body = {
        "project_id": project.id,
        "items": [_item(str(i), instance_xml(new_instance_id())) for i in range(5)],
    }
    first = api.push(body, "same-key")
    assert first.status_code == 200
    assert {r["status"] for r in first.get_json()["results"]} == {"stored"}
    assert _count(db_session, Submission) == 5

    again = api.push(body, "same-key")
    assert again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _count(db_session, Submission) == 5

    # The same body sent uncompressed is the same request.
    plain = api.push(body, "same-key", gzipped=False)
    assert plain.get_json() == first.get_json()

    # A new key for the same items: items are idempotent by instanceID.
    fresh = api.push(body, "another-key")
    assert {r["status"] for r in fresh.get_json()["results"]} == {"duplicate"}
    assert _count(db_session, Submission) == 5


def test_the_same_key_with_another_body_is_refused(api: SyncApi, project: Project) -> None:
    api.push(
        {"project_id": project.id, "items": [_item("1", instance_xml(new_instance_id()))]}, "k"
    )
    other = api.push(
        {"project_id": project.id, "items": [_item("1", instance_xml(new_instance_id()))]}, "k"
    )
    assert other.status_code == 422
    assert other.get_json()["code"] == "sync.idempotency_key_reused"
    assert other.mimetype == "application/problem+json"


def test_a_key_still_in_flight_gets_409_with_retry_after_until_its_lease_ends(
    api: SyncApi, project: Project, db_session: Session
) -> None:
    body = {"project_id": project.id, "items": [_item("1", instance_xml(new_instance_id()))]}
    db_session.add(
        IdempotencyKey(
            user_id=api.who.user.id,
            key="busy",
            request_sha256=request_fingerprint(body),
            status=IdempotencyStatus.IN_FLIGHT.value,
        )
    )
    db_session.commit()
    busy = api.push(body, "busy")
    assert busy.status_code == 409
    assert busy.get_json()["code"] == "sync.request_in_flight"
    assert int(busy.headers["Retry-After"]) > 0
    assert _count(db_session, Submission) == 0

    # The holder died (a server restart): once its lease is over, a retry takes the key over.
    row = db_session.scalars(select(IdempotencyKey).where(IdempotencyKey.key == "busy")).one()
    row.claimed_at = utcnow() - timedelta(hours=1)
    db_session.commit()
    taken = api.push(body, "busy")
    assert taken.status_code == 200
    assert taken.get_json()["results"][0]["status"] == "stored"
    db_session.refresh(row)
    assert row.status == "done"


def test_keys_are_per_user(
    client: FlaskClient, api: SyncApi, project: Project, factories: Factories
) -> None:
    other = SyncApi(client, factories.logged_in(project, Role.DATA_COLLECTOR), project.id)
    api.push(
        {"project_id": project.id, "items": [_item("1", instance_xml(new_instance_id()))]}, "k"
    )
    mine = other.push(
        {"project_id": project.id, "items": [_item("1", instance_xml(new_instance_id()))]}, "k"
    )
    assert mine.status_code == 200
    assert mine.get_json()["results"][0]["status"] == "stored"


def test_a_push_needs_an_idempotency_key(api: SyncApi, project: Project) -> None:
    response = api.push({"project_id": project.id, "items": []}, None)
    assert response.status_code == 400
    assert response.get_json()["code"] == "sync.idempotency_key_required"


def test_an_invalid_body_is_refused_without_using_up_the_key(
    api: SyncApi, project: Project
) -> None:
    bad = api.push({"project_id": project.id, "items": [{"client_id": "1"}]}, "k")
    assert bad.status_code == 400
    assert bad.get_json()["code"] == "request.invalid"
    assert "items" in bad.get_json()["errors"]
    good = api.push(
        {"project_id": project.id, "items": [_item("1", instance_xml(new_instance_id()))]}, "k"
    )
    assert good.status_code == 200


def test_an_unsupported_content_encoding_is_415(api: SyncApi, project: Project) -> None:
    body = json.dumps({"project_id": project.id, "items": []}).encode()
    response = api.client.post(
        "/api/v1/sync/push",
        data=zlib.compress(body),
        headers=api.headers(**{"Content-Encoding": "deflate", "Idempotency-Key": "k"}),
    )
    assert response.status_code == 415
    assert response.get_json()["code"] == "request.unsupported_encoding"


def test_a_damaged_gzip_body_is_400(api: SyncApi, project: Project) -> None:
    body = gzip.compress(json.dumps({"project_id": project.id, "items": []}).encode())
    response = api.client.post(
        "/api/v1/sync/push",
        data=body[: len(body) // 2],
        headers=api.headers(**{"Content-Encoding": "gzip", "Idempotency-Key": "k"}),
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "request.malformed_body"


def test_a_gzip_bomb_is_413(api: SyncApi, project: Project) -> None:
    limit = api.client.application.extensions["fieldsync"].settings.max_upload_bytes
    padding = " " * (limit + 1)
    bomb = gzip.compress(
        f'{{"project_id": {project.id}, "items": []{padding}}}'.encode(), compresslevel=9
    )
    assert len(bomb) < limit // 100
    response = api.client.post(
        "/api/v1/sync/push",
        data=bomb,
        headers=api.headers(**{"Content-Encoding": "gzip", "Idempotency-Key": "k"}),
    )
    assert response.status_code == 413
    assert response.get_json()["code"] == "request.too_large"


def test_a_viewer_may_not_push(client: FlaskClient, project: Project, factories: Factories) -> None:
    viewer = SyncApi(client, factories.logged_in(project, Role.VIEWER), project.id)
    response = viewer.push({"project_id": project.id, "items": []}, "k")
    assert response.status_code == 403


def test_a_project_without_a_role_is_not_found(
    api: SyncApi, factories: Factories, db_session: Session
) -> None:
    elsewhere = factories.project()
    response = api.push(
        {"project_id": elsewhere.id, "items": [_item("1", instance_xml(new_instance_id()))]}, "k"
    )
    assert response.status_code == 404
    assert _count(db_session, Submission) == 0


def test_a_push_without_a_token_is_401(client: FlaskClient, project: Project) -> None:
    response = client.post("/api/v1/sync/push", json={"project_id": project.id, "items": []})
    assert response.status_code == 401


def test_concurrent_retries_of_one_batch_store_it_once(
    live_server: LiveServer, api: SyncApi, project: Project, db_session: Session
) -> None:
    """Retries racing each other (a client that timed out and sent again): the key's unique
    constraint lets one of them do the work; the others wait for its answer or get it."""
    body = gzip.compress(
        json.dumps(
            {
                "project_id": project.id,
                "items": [
                    _item(str(i), instance_xml(new_instance_id(), name=f"n{i}")) for i in range(20)
                ],
            }
        ).encode()
    )
    headers = {
        **api.who.headers,
        "Content-Encoding": "gzip",
        "Content-Type": "application/json",
        "Idempotency-Key": "raced",
    }

    def send(_: int) -> tuple[int, dict[str, object]]:
        response = requests.post(
            f"{live_server.url}/api/v1/sync/push", data=body, headers=headers, timeout=60
        )
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send, range(6)))
    statuses = sorted(status for status, _ in answers)
    assert set(statuses) <= {200, 409}, answers
    assert 200 in statuses
    stored = [payload for status, payload in answers if status == 200]
    assert all(payload == stored[0] for payload in stored)
    assert {r["status"] for r in stored[0]["results"]} == {"stored"}  # type: ignore[union-attr]
    assert all(
        payload["code"] == "sync.request_in_flight" for status, payload in answers if status == 409
    )
    assert _count(db_session, Submission) == 20
    final = requests.post(
        f"{live_server.url}/api/v1/sync/push", data=body, headers=headers, timeout=60
    )
    assert final.status_code == 200
    assert final.json() == stored[0]
