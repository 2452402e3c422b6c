"""The database blob store (``FIELDSYNC_BLOB_STORE=database``) on SQLite and PostgreSQL: contents
in ``blob_contents`` in chunks, written in the registering transaction, read by another host
through its own cache; a photo submitted to one host over HTTP is downloaded, and exported, from
the other byte for byte; ``fieldsync-server blobs migrate`` moves file blobs in and out."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from server.accounts.models import Role
from server.blobs import service as blob_service
from server.blobs.database import DB_CHUNK, BlobCorrupt, DatabaseBlobStore
from server.blobs.models import Blob, BlobContent
from server.blobs.store import BlobSizeMismatch, BlobTooLarge, FileBlobStore
from server.cli import main
from server.db import make_session_factory, transaction, utcnow
from server.settings import Settings, SettingsError
from server.sync import uploads
from tests.conftest import LiveServer
from tests.factories import Factories
from tests.openrosa.helpers import (
    OPENROSA,
    publish_fixture,
    requests_files,
    simple_xml,
    upload_media,
)


def store_of(app: Flask) -> DatabaseBlobStore:
    store = app.extensions["fieldsync"].blobs
    assert isinstance(store, DatabaseBlobStore)
    return store


def chunks_of(app: Flask, sha256: str) -> list[int]:
    with app.extensions["fieldsync"].session_factory() as session:
        query = select(BlobContent.chunk).where(BlobContent.sha256 == sha256)
        return sorted(session.scalars(query))


def put_and_register(app: Flask, data: bytes) -> str:
    runtime = app.extensions["fieldsync"]
    with transaction(runtime.session_factory) as session:
        stored = runtime.blobs.put_stream(io.BytesIO(data))
        blob_service.register(session, stored, "image/jpeg")
    return stored.sha256


def test_content_is_chunked_in_the_database_and_another_host_reads_it(
    app: Flask, host_b: Flask
) -> None:
    photo = os.urandom(2 * DB_CHUNK + 1000)  # three chunks, the last one short
    sha = put_and_register(app, photo)
    assert sha == hashlib.sha256(photo).hexdigest()
    assert chunks_of(app, sha) == [0, 1, 2]

    other = store_of(host_b)
    assert not other.path(sha).exists()  # host B's cache is its own
    assert other.exists(sha)
    with other.open(sha) as fh:
        assert fh.read() == photo
    assert other.path(sha).read_bytes() == photo  # cached now
    assert b"".join(other.iter_chunks(sha)) == photo


def test_an_empty_blob_is_one_empty_chunk(app: Flask, host_b: Flask) -> None:
    sha = put_and_register(app, b"")
    assert chunks_of(app, sha) == [0]
    with store_of(host_b).open(sha) as fh:
        assert fh.read() == b""


def test_the_same_content_twice_is_stored_once(app: Flask, factories: Factories) -> None:
    photo = os.urandom(DB_CHUNK + 10)
    first = put_and_register(app, photo)
    second = put_and_register(app, photo)
    assert first == second
    assert chunks_of(app, first) == [0, 1]
    with factories.session() as session:
        assert session.scalar(select(func.count()).select_from(Blob)) == 1


def test_rolled_back_content_is_not_in_the_database(app: Flask, host_b: Flask) -> None:
    runtime = app.extensions["fieldsync"]
    photo = os.urandom(5000)
    with pytest.raises(RuntimeError), transaction(runtime.session_factory) as session:
        stored = runtime.blobs.put_bytes(photo)
        blob_service.register(session, stored)
        raise RuntimeError("the submission failed after its files")
    assert chunks_of(app, stored.sha256) == []
    assert not store_of(host_b).exists(stored.sha256)
    with pytest.raises(FileNotFoundError):
        store_of(host_b).open(stored.sha256)


def test_size_limit_and_size_mismatch_leave_nothing_behind(app: Flask) -> None:
    store = store_of(app)
    with pytest.raises(BlobTooLarge):
        store.put_stream(io.BytesIO(b"x" * 2000), max_bytes=1000)
    with pytest.raises(BlobSizeMismatch):
        store.put_stream(io.BytesIO(b"x" * 2000), expect_size=1999)
    assert list(store.tmp.iterdir()) == []
    with app.extensions["fieldsync"].session_factory() as session:
        assert session.scalar(select(func.count()).select_from(BlobContent)) == 0


def test_content_that_does_not_match_its_hash_is_refused_when_read(
    app: Flask, host_b: Flask
) -> None:
    sha = put_and_register(app, b"original photo bytes")
    with transaction(app.extensions["fieldsync"].session_factory) as session:
        session.execute(
            update(BlobContent).where(BlobContent.sha256 == sha).values(data=b"tampered bytes!!")
        )
    other = store_of(host_b)
    with pytest.raises(BlobCorrupt):
        other.open(sha)
    assert not other.path(sha).exists()
    assert list(other.tmp.iterdir()) == []


def test_removing_a_blob_row_removes_its_contents(app: Flask) -> None:
    """What the retention purge relies on: its blob rows go, and their bytes with them."""
    sha = put_and_register(app, os.urandom(DB_CHUNK * 2))
    with transaction(app.extensions["fieldsync"].session_factory) as session:
        session.execute(delete(Blob).where(Blob.sha256 == sha))
    assert chunks_of(app, sha) == []


def test_a_blob_removed_on_one_host_leaves_the_other_hosts_cache_at_its_sweep(
    app: Flask, host_b: Flask, tmp_path: Path, database_url: str
) -> None:
    """A purged person's photo must not stay on the disks of the hosts that had read it: each
    host's sweep deletes its cached copies of blobs the database no longer has, once they are
    older than a running request could be."""
    gone, kept = (put_and_register(app, os.urandom(1000 + n)) for n in range(2))
    cache = store_of(host_b)
    for sha in (gone, kept):
        cache.fetch(sha)  # host B served both, so it has cached both
    young = cache.put_bytes(b"stored by a request that has not committed yet").sha256
    with transaction(app.extensions["fieldsync"].session_factory) as session:
        session.execute(delete(Blob).where(Blob.sha256 == gone))  # the purge, on host A
    store_of(app).path(gone).unlink()  # and its delete_files

    runtime = host_b.extensions["fieldsync"]
    with transaction(runtime.session_factory) as session:
        now = uploads.sweep(session, tmp_path / "uploads", cache)
    assert now.uncached == 0  # everything is younger than the grace
    assert cache.path(gone).exists()
    later = utcnow() + uploads.CACHE_GRACE + timedelta(seconds=1)
    with transaction(runtime.session_factory) as session:
        report = uploads.sweep(session, tmp_path / "uploads", cache, now=later)
    assert report.uncached == 2
    assert not cache.path(gone).exists() and not cache.path(young).exists()
    assert cache.path(kept).exists()
    with cache.open(kept) as fh:
        assert len(fh.read()) == 1001

    # The same content stored again is fresh: the sweep keeps it while its request runs.
    again = cache.put_bytes(cache.path(kept).read_bytes())
    assert again.sha256 == kept
    os.utime(cache.path(kept), (0, 0))  # as if cached long ago ...
    cache.put_bytes(cache.path(kept).read_bytes())  # ... then received again
    assert cache.path(kept).stat().st_mtime > later.timestamp() - 3600

    env = {
        "DATABASE_URL": database_url,
        "FIELDSYNC_DATA_DIR": str(tmp_path / "host-b"),
        "FIELDSYNC_BLOB_STORE": "database",
    }
    code, output = run(env, "blobs", "sweep")
    assert code == 0, output
    assert "removed 0 cached files of blobs no longer in the database" in output


def test_a_photo_sent_to_one_host_is_downloaded_and_exported_from_the_other(
    app: Flask, host_b: Flask, live_server: LiveServer, live_b: LiveServer, factories: Factories
) -> None:
    project = factories.project()
    for name in ("simple_form", "hazard_registration", "hazard_visit"):
        publish_fixture(factories, project, name)
    villages = b"name,label\n" + b"".join(b"v%d,Village %d\n" % (i, i) for i in range(300))
    upload_media(factories, project.id, "hazard_visit", "villages.csv", villages)
    device = factories.device(project)
    coordinator = factories.login(factories.user(project, Role.COORDINATOR))
    photo = os.urandom(3 * DB_CHUNK // 2)
    instance = f"uuid:{uuid.uuid4()}"

    sent = requests.post(
        f"{live_server.url}{device.base_path}/submission",
        files=requests_files(simple_xml(instance, photo="site.jpg"), {"site.jpg": photo}),
        headers=OPENROSA,
        timeout=30,
    )
    assert sent.status_code == 201, sent.text
    sha = hashlib.sha256(photo).hexdigest()
    assert chunks_of(app, sha) == [0, 1]
    assert not store_of(host_b).path(sha).exists()

    base = f"{live_b.url}/v1/projects/{project.id}/forms/simple"
    got = requests.get(
        f"{base}/submissions/{instance}/attachments/site.jpg",
        headers=coordinator.headers,
        timeout=30,
    )
    assert got.status_code == 200
    assert got.content == photo

    exported = requests.get(f"{base}/submissions.csv.zip", headers=coordinator.headers, timeout=60)
    assert exported.status_code == 200
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        media = [n for n in archive.namelist() if n.endswith("site.jpg")]
        assert len(media) == 1
        assert archive.read(media[0]) == photo

    media_url = f"{live_b.url}{device.base_path}/forms/hazard_visit/attachments/villages.csv"
    assert requests.get(media_url, headers=OPENROSA, timeout=30).content == villages
    assert store_of(host_b).path(sha).read_bytes() == photo


def file_store_sessions(app: Flask) -> sessionmaker[Session]:
    """Sessions as a file-store server has them: registering a blob writes no contents."""
    return make_session_factory(app.extensions["fieldsync"].engine)


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_blobs_migrate_moves_file_blobs_into_the_database_and_back(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    # Blobs a file-store server wrote: registered rows, contents only in its data directory.
    data_dir = tmp_path / "file-host"
    files = FileBlobStore(data_dir / "blobs")
    contents = [os.urandom(n) for n in (10, DB_CHUNK, DB_CHUNK * 2 + 7)]
    with transaction(file_store_sessions(app)) as session:
        for data in contents:
            blob_service.register(session, files.put_bytes(data))
    hashes = [hashlib.sha256(d).hexdigest() for d in contents]
    assert all(chunks_of(app, sha) == [] for sha in hashes)

    env = {"DATABASE_URL": database_url, "FIELDSYNC_DATA_DIR": str(data_dir)}
    code, output = run(env, "blobs", "migrate", "--to", "database")
    assert code == 0, output
    assert "copied 3 blobs" in output
    assert "0 missing" in output
    assert chunks_of(app, hashes[2]) == [0, 1, 2]
    code, output = run(env, "blobs", "migrate", "--to", "database")
    assert code == 0, output
    assert "copied 0 blobs" in output
    assert "3 there already" in output

    # A host with an empty data directory reads them all from the database ...
    fresh = DatabaseBlobStore(tmp_path / "new-host" / "blobs", app.extensions["fieldsync"].engine)
    for sha, data in zip(hashes, contents, strict=True):
        with fresh.open(sha) as fh:
            assert fh.read() == data
    # ... and '--to file' writes them into a data directory for the file store.
    back_env = {**env, "FIELDSYNC_DATA_DIR": str(tmp_path / "back")}
    code, output = run(back_env, "blobs", "migrate", "--to", "file")
    assert code == 0, output
    assert "copied 3 blobs" in output
    back = FileBlobStore(tmp_path / "back" / "blobs")
    assert [back.path(sha).read_bytes() for sha in hashes] == contents


def test_blobs_migrate_names_a_file_that_is_missing_and_fails(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "file-host"
    files = FileBlobStore(data_dir / "blobs")
    with transaction(file_store_sessions(app)) as session:
        stored = files.put_bytes(b"a photo whose file was lost")
        blob_service.register(session, stored)
    files.path(stored.sha256).unlink()
    env = {"DATABASE_URL": database_url, "FIELDSYNC_DATA_DIR": str(data_dir)}
    code, output = run(env, "blobs", "migrate", "--to", "database")
    assert code == 1
    assert "1 missing" in output
    assert stored.sha256 in output


def test_the_blob_store_setting_is_read_and_checked() -> None:
    base = {"FIELDSYNC_DATA_DIR": "/tmp/fieldsync-settings-check", "SECRET_KEY": "k"}
    assert Settings.from_env(base).blob_store == "file"
    assert Settings.from_env({**base, "FIELDSYNC_BLOB_STORE": "Database"}).blob_store == "database"
    with pytest.raises(
        SettingsError, match="FIELDSYNC_BLOB_STORE='s3' is not one of file, database"
    ):
        Settings.from_env({**base, "FIELDSYNC_BLOB_STORE": "s3"})
