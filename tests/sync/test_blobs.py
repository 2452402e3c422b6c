"""Blobs: which the server lacks, resumable chunked uploads, and verification on completion."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.blobs.models import Blob
from server.db import utcnow
from server.projects.models import Project
from server.sync.models import BlobUpload
from server.sync.uploads import expire_uploads
from tests.factories import Factories
from tests.sync.conftest import SyncApi, chunk_checksum, sha256_hex

CONTENT = os.urandom(300_000)
SHA = sha256_hex(CONTENT)


def _uploads_dir(app: Flask) -> Path:
    return Path(app.extensions["fieldsync"].settings.data_dir) / "uploads"


def _upload(session: Session, sha256: str) -> BlobUpload | None:
    return session.scalars(select(BlobUpload).where(BlobUpload.sha256 == sha256)).first()


def test_missing_lists_the_hashes_the_server_does_not_hold(api: SyncApi) -> None:
    held = api.upload(b"already here")
    absent = sha256_hex(b"not yet")
    response = api.missing([held, absent, absent])
    assert response.status_code == 200
    assert response.get_json() == {"missing": [absent]}


def test_missing_refuses_what_is_not_a_sha256(api: SyncApi) -> None:
    response = api.missing(["abc", "AB" * 32])
    assert response.status_code == 400
    assert response.get_json()["code"] == "request.invalid"


def test_an_upload_resumes_after_a_partial_chunk(
    api: SyncApi, app: Flask, db_session: Session
) -> None:
    head = api.head(SHA)
    assert (head.status_code, head.headers["Upload-Offset"]) == (200, "0")
    assert "Upload-Complete" not in head.headers

    first = api.patch(SHA, CONTENT[:100_000], 0, len(CONTENT))
    assert (first.status_code, first.headers["Upload-Offset"]) == (204, "100000")
    assert "Upload-Complete" not in first.headers
    # Not usable while incomplete.
    assert api.missing([SHA]).get_json() == {"missing": [SHA]}

    # The link drops; the client asks where to resume.
    resumed_at = int(api.head(SHA).headers["Upload-Offset"])
    assert resumed_at == 100_000
    second = api.patch(SHA, CONTENT[resumed_at:250_000], resumed_at, len(CONTENT))
    assert second.headers["Upload-Offset"] == "250000"
    last = api.patch(SHA, CONTENT[250_000:], 250_000, len(CONTENT))
    assert last.status_code == 204
    assert (last.headers["Upload-Offset"], last.headers["Upload-Complete"]) == (
        str(len(CONTENT)),
        "1",
    )

    store = app.extensions["fieldsync"].blobs
    assert store.path(SHA).read_bytes() == CONTENT
    blob = db_session.get(Blob, SHA)
    assert blob is not None and blob.size == len(CONTENT)
    assert _upload(db_session, SHA) is None
    db_session.rollback()
    assert not list(_uploads_dir(app).glob(f"*{SHA}.part"))
    assert api.missing([SHA]).get_json() == {"missing": []}
    done = api.head(SHA)
    assert (done.headers["Upload-Offset"], done.headers["Upload-Complete"]) == (
        str(len(CONTENT)),
        "1",
    )


def test_a_retried_last_chunk_after_completion_is_answered_as_complete(api: SyncApi) -> None:
    api.patch(SHA, CONTENT, 0, len(CONTENT))
    again = api.patch(SHA, CONTENT, 0, len(CONTENT))
    assert again.status_code == 204
    assert again.headers["Upload-Complete"] == "1"


def test_a_chunk_at_the_wrong_offset_is_409_with_the_server_offset(api: SyncApi) -> None:
    api.patch(SHA, CONTENT[:1000], 0, len(CONTENT))
    ahead = api.patch(SHA, CONTENT[5000:6000], 5000, len(CONTENT))
    assert ahead.status_code == 409
    assert ahead.get_json()["code"] == "blob.offset_mismatch"
    assert ahead.headers["Upload-Offset"] == "1000"
    # A chunk already received, sent again after a lost answer, is refused the same way.
    repeat = api.patch(SHA, CONTENT[:1000], 0, len(CONTENT))
    assert (repeat.status_code, repeat.headers["Upload-Offset"]) == (409, "1000")
    assert api.head(SHA).headers["Upload-Offset"] == "1000"


def test_a_first_chunk_not_at_zero_is_409(api: SyncApi) -> None:
    response = api.patch(SHA, CONTENT[10:20], 10, len(CONTENT))
    assert response.status_code == 409
    assert response.headers["Upload-Offset"] == "0"


def test_a_damaged_chunk_is_422_and_discarded(api: SyncApi) -> None:
    api.patch(SHA, CONTENT[:1000], 0, len(CONTENT))
    damaged = bytearray(CONTENT[1000:2000])
    damaged[10] ^= 0xFF
    response = api.patch(
        SHA, bytes(damaged), 1000, len(CONTENT), checksum=chunk_checksum(CONTENT[1000:2000])
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "blob.checksum_mismatch"
    assert api.head(SHA).headers["Upload-Offset"] == "1000"
    ok = api.patch(SHA, CONTENT[1000:], 1000, len(CONTENT))
    assert ok.headers["Upload-Complete"] == "1"


def test_content_that_does_not_match_its_name_is_422_and_the_upload_starts_again(
    api: SyncApi, app: Flask, db_session: Session
) -> None:
    wrong = b"x" + CONTENT[1:]
    api.patch(SHA, wrong[:1000], 0, len(wrong))
    response = api.patch(SHA, wrong[1000:], 1000, len(wrong))
    assert response.status_code == 422
    assert response.get_json()["code"] == "blob.hash_mismatch"
    assert api.head(SHA).headers["Upload-Offset"] == "0"
    assert _upload(db_session, SHA) is None
    assert db_session.get(Blob, SHA) is None
    db_session.rollback()
    assert not list(_uploads_dir(app).glob(f"*{SHA}.part"))
    assert not app.extensions["fieldsync"].blobs.exists(SHA)
    assert api.patch(SHA, CONTENT, 0, len(CONTENT)).headers["Upload-Complete"] == "1"


def test_a_chunk_past_the_declared_length_is_refused(api: SyncApi) -> None:
    response = api.patch(SHA, CONTENT + b"more", 0, len(CONTENT))
    assert response.status_code == 400
    assert response.get_json()["code"] == "blob.beyond_length"
    assert api.head(SHA).headers["Upload-Offset"] == "0"


def test_a_restart_from_zero_with_another_length_replaces_the_upload(api: SyncApi) -> None:
    api.patch(SHA, CONTENT[:1000], 0, len(CONTENT) + 5)
    mid = api.patch(SHA, CONTENT[1000:2000], 1000, len(CONTENT))
    assert mid.status_code == 409
    assert mid.get_json()["code"] == "blob.length_mismatch"
    restart = api.patch(SHA, CONTENT, 0, len(CONTENT))
    assert restart.headers["Upload-Complete"] == "1"


def test_an_upload_over_the_limit_is_413(api: SyncApi, app: Flask) -> None:
    limit = app.extensions["fieldsync"].settings.max_upload_bytes
    response = api.patch(SHA, CONTENT[:10], 0, limit + 1)
    assert response.status_code == 413
    assert response.get_json()["code"] == "request.too_large"


def test_malformed_upload_headers_are_400(api: SyncApi) -> None:
    no_offset = api.client.patch(
        api.blob_path(SHA), data=b"x", headers=api.headers(**{"Upload-Length": "1"})
    )
    assert (no_offset.status_code, no_offset.get_json()["code"]) == (400, "blob.bad_header")
    md5 = api.patch(SHA, b"x", 0, 1, checksum="md5 AAAA")
    assert (md5.status_code, md5.get_json()["code"]) == (400, "blob.bad_header")
    bad_name = api.patch("not-a-hash", b"x", 0, 1)
    assert (bad_name.status_code, bad_name.get_json()["code"]) == (400, "blob.invalid_hash")


def test_an_empty_blob_completes_in_one_request(api: SyncApi) -> None:
    response = api.patch(sha256_hex(b""), b"", 0, 0)
    assert response.status_code == 204
    assert response.headers["Upload-Complete"] == "1"


def test_incomplete_uploads_expire(api: SyncApi, app: Flask, db_session: Session) -> None:
    api.patch(SHA, CONTENT[:1000], 0, len(CONTENT))
    upload = _upload(db_session, SHA)
    assert upload is not None
    upload.updated_at = utcnow() - timedelta(days=8)
    db_session.commit()
    # An expired upload is not resumed...
    assert api.head(SHA).headers["Upload-Offset"] == "0"
    # ...and the sweep removes its row and bytes.
    assert expire_uploads(db_session, _uploads_dir(app)) == 1
    db_session.commit()
    assert db_session.scalars(select(BlobUpload)).first() is None
    db_session.rollback()
    assert not list(_uploads_dir(app).glob(f"*{SHA}.part"))


def test_sending_blobs_needs_a_role_that_may_push(
    client: FlaskClient, project: Project, factories: Factories
) -> None:
    viewer = SyncApi(client, factories.logged_in(project, Role.VIEWER), project.id)
    assert viewer.missing([SHA]).status_code == 403
    assert viewer.patch(SHA, CONTENT, 0, len(CONTENT)).status_code == 403
    # A project the caller has no role in is not found.
    nobody = SyncApi(client, factories.login(factories.user()), project.id)
    assert nobody.head(SHA).status_code == 404
    assert client.head(f"/api/v1/sync/blobs/{SHA}?project_id={project.id}").status_code == 401


def test_content_already_in_the_store_must_still_be_sent_and_is_kept_once(
    api: SyncApi, app: Flask, db_session: Session
) -> None:
    """The store holding the content (another project's file, or a completion whose
    transaction did not commit) tells this project nothing: it sends every byte, and the
    store keeps one copy."""
    store = app.extensions["fieldsync"].blobs
    store.put_bytes(CONTENT)
    assert api.head(SHA).headers["Upload-Offset"] == "0"
    assert "Upload-Complete" not in api.head(SHA).headers
    partial = api.patch(SHA, CONTENT[:10], 0, len(CONTENT))
    assert (partial.status_code, partial.headers["Upload-Offset"]) == (204, "10")
    assert "Upload-Complete" not in partial.headers
    last = api.patch(SHA, CONTENT[10:], 10, len(CONTENT))
    assert last.headers["Upload-Complete"] == "1"
    blob = db_session.get(Blob, SHA)
    assert blob is not None and blob.size == len(CONTENT)
    db_session.rollback()
    assert store.path(SHA).read_bytes() == CONTENT
    assert api.missing([SHA]).get_json() == {"missing": []}
