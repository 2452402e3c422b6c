"""Blobs are scoped to a project, and uploads in progress to their uploader: a user of one
project cannot test whether another holds a file, attach it by its hash and download it, or
reset someone else's upload. Sweeping and the per-user quota bound what uploads leave on disk."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.blobs.models import ProjectBlob
from server.db import utcnow
from server.projects.models import Project
from server.submissions.models import Submission
from server.sync.models import BlobUpload
from tests.factories import Factories
from tests.sync.conftest import FIXTURES, SyncApi, instance_xml, new_instance_id, sha256_hex

SECRET_PHOTO = os.urandom(50_000)  # a survivor's photo, held by project A
COMMAND = str(Path(sys.executable).parent / "fieldsync-server")


@pytest.fixture
def projects(factories: Factories) -> tuple[Project, Project]:
    a, b = factories.project("Victim assistance"), factories.project("Other NGO")
    for project in (a, b):
        factories.publish(project, FIXTURES / "simple_form.xml")
    return a, b


@pytest.fixture
def alice(client: FlaskClient, factories: Factories, projects: tuple[Project, Project]) -> SyncApi:
    return SyncApi(client, factories.logged_in(projects[0], Role.DATA_COLLECTOR), projects[0].id)


@pytest.fixture
def mallory(
    client: FlaskClient, factories: Factories, projects: tuple[Project, Project]
) -> SyncApi:
    """A data collector of project B only."""
    return SyncApi(client, factories.logged_in(projects[1], Role.DATA_COLLECTOR), projects[1].id)


def _push_photo(api: SyncApi, photo_sha: str) -> dict[str, object]:
    item = {
        "client_id": "c",
        "xml": instance_xml(new_instance_id(), photo="photo.jpg"),
        "attachments": [{"name": "photo.jpg", "sha256": photo_sha}],
    }
    response = api.push({"project_id": api.project_id, "items": [item]}, str(uuid.uuid4()))
    assert response.status_code == 200
    return dict(response.get_json()["results"][0])


def _count(session: Session, model: object, *where: object) -> int:
    query = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
    try:
        return int(session.scalar(query) or 0)
    finally:
        session.rollback()  # no transaction left open for the server's next request


def test_another_projects_blob_is_invisible_and_cannot_be_attached(
    alice: SyncApi,
    mallory: SyncApi,
    db_session: Session,
    factories: Factories,
    projects: tuple[Project, Project],
) -> None:
    sha = alice.upload(SECRET_PHOTO)
    assert _push_photo(alice, sha)["status"] == "stored"
    assert alice.missing([sha]).get_json() == {"missing": []}

    # Project B cannot tell that the file exists...
    assert mallory.missing([sha]).get_json() == {"missing": [sha]}
    head = mallory.client.head(
        mallory.blob_path(sha),
        headers=mallory.headers(**{"Upload-Length": str(len(SECRET_PHOTO))}),
    )
    assert (head.status_code, head.headers["Upload-Offset"]) == (200, "0")
    assert "Upload-Complete" not in head.headers and "Upload-Length" not in head.headers
    # ...nor ask about project A's blobs directly (a project it has no role in is not found).
    other = mallory.client.post(
        "/api/v1/sync/blobs/missing",
        json={"project_id": projects[0].id, "sha256": [sha]},
        headers=mallory.headers(),
    )
    assert (other.status_code, other.get_json()["code"]) == (404, "not_found")
    # A first chunk is not answered "complete" because someone else holds the content.
    chunk = mallory.patch(sha, SECRET_PHOTO[:1], 0, len(SECRET_PHOTO))
    assert (chunk.status_code, chunk.headers["Upload-Offset"]) == (204, "1")
    assert "Upload-Complete" not in chunk.headers

    # Attaching it by its hash is refused, and nothing is stored in project B.
    result = _push_photo(mallory, sha)
    assert (result["status"], result["code"]) == ("rejected", "blob.missing")
    assert _count(db_session, Submission, Submission.project_id == projects[1].id) == 0
    assert _count(db_session, ProjectBlob, ProjectBlob.project_id == projects[1].id) == 0
    # So there is nothing of project B's to download it from, even for B's coordinator.
    boss = factories.logged_in(projects[1], Role.COORDINATOR)
    download = mallory.client.get(
        f"/api/v1/projects/{projects[1].id}/forms/simple/submissions/"
        f"{result['instance_id']}/attachments/photo.jpg",
        headers=boss.headers,
    )
    assert (download.status_code, download.get_json()["code"]) == (404, "not_found")


def test_someone_elses_upload_in_progress_cannot_be_reset(
    client: FlaskClient,
    factories: Factories,
    alice: SyncApi,
    mallory: SyncApi,
    projects: tuple[Project, Project],
) -> None:
    sha = sha256_hex(SECRET_PHOTO)
    assert alice.patch(sha, SECRET_PHOTO[:20_000], 0, len(SECRET_PHOTO)).status_code == 204
    colleague = SyncApi(
        client, factories.logged_in(projects[0], Role.DATA_COLLECTOR), projects[0].id
    )
    for attacker in (mallory, colleague):
        # A restart from zero with another length used to replace the upload, whoever sent it.
        restart = attacker.patch(sha, b"junk", 0, len(SECRET_PHOTO) + 7)
        assert restart.status_code == 204
        assert attacker.head(sha).headers["Upload-Offset"] == "4"
        assert alice.head(sha).headers["Upload-Offset"] == "20000"
    done = alice.patch(sha, SECRET_PHOTO[20_000:], 20_000, len(SECRET_PHOTO))
    assert done.headers["Upload-Complete"] == "1"
    # Completing it does not complete anybody else's.
    assert "Upload-Complete" not in mallory.head(sha).headers


@pytest.mark.parametrize("quota", [30_000])
def test_uploads_beyond_the_per_user_quota_are_507(
    app: Flask, alice: SyncApi, db_session: Session, quota: int
) -> None:
    runtime = app.extensions["fieldsync"]
    runtime.settings = runtime.settings.with_overrides(upload_quota_bytes=quota)
    first = os.urandom(20_000)
    assert alice.patch(sha256_hex(first), first[:10], 0, len(first)).status_code == 204
    second = os.urandom(20_000)
    refused = alice.patch(sha256_hex(second), second[:10], 0, len(second))
    assert refused.status_code == 507
    body = refused.get_json()
    assert (body["code"], body["limit"], body["in_progress"]) == (
        "blob.quota_exceeded",
        quota,
        20_000,
    )
    assert _count(db_session, BlobUpload, BlobUpload.sha256 == sha256_hex(second)) == 0
    uploads_dir = runtime.settings.data_dir / "uploads"
    assert not list(uploads_dir.glob(f"*{sha256_hex(second)}.part"))
    # Finishing the first frees the quota.
    assert alice.patch(sha256_hex(first), first[10:], 10, len(first)).status_code == 204
    assert alice.patch(sha256_hex(second), second[:10], 0, len(second)).status_code == 204


def test_blobs_sweep_removes_expired_and_orphaned_partial_uploads(
    app: Flask, alice: SyncApi, db_session: Session, database_url: str
) -> None:
    settings = app.extensions["fieldsync"].settings
    uploads_dir = settings.data_dir / "uploads"
    kept, expired = os.urandom(3000), os.urandom(3000)
    alice.patch(sha256_hex(kept), kept[:100], 0, len(kept))
    alice.patch(sha256_hex(expired), expired[:100], 0, len(expired))
    row = db_session.scalars(
        select(BlobUpload).where(BlobUpload.sha256 == sha256_hex(expired))
    ).one()
    row.updated_at = utcnow() - timedelta(days=8)
    db_session.commit()
    orphan = uploads_dir / f"{'0' * 64}.part"  # a crash, or an upload of an older version
    orphan.write_bytes(b"left behind")
    stale_chunk = uploads_dir / ".chunk-abandoned"
    stale_chunk.write_bytes(b"x")
    old = (utcnow() - timedelta(days=1)).timestamp()
    for path in (orphan, stale_chunk):
        os.utime(path, (old, old))

    result = subprocess.run(
        [COMMAND, "blobs", "sweep"],
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "FIELDSYNC_DATA_DIR": str(settings.data_dir),
            "SECRET_KEY": "test-secret-key",
            "FIELDSYNC_LOG_LEVEL": "WARNING",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "removed 1 expired uploads, 1 orphaned partial files, 1 temporary files"
    )
    assert sorted(p.name for p in uploads_dir.iterdir()) == [
        row.partial_name.replace(sha256_hex(expired), sha256_hex(kept))
    ]
    assert alice.head(sha256_hex(kept)).headers["Upload-Offset"] == "100"
    assert _count(db_session, BlobUpload) == 1
