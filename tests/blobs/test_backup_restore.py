"""With the database blob store, ``pg_dump`` alone is the backup: taken while devices go on
submitting photos to a ``fieldsync-server run`` (2 workers), restored into a fresh database, it
holds every submission acknowledged before the backup began and the photo of every submission
it holds, read back by a host with an empty data directory. PostgreSQL only; 100 submissions.
(The long form is ``bench/backup_restore.py``.)"""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from server.blobs.database import BlobCorrupt, DatabaseBlobStore
from server.db import make_engine
from tests.scale_out_load import BOUNDARY, cluster, multipart, report_xml
from tests.scratch_database import create_scratch_database, drop_scratch_database

POSTGRES = os.environ.get("FIELDSYNC_TEST_DATABASE_URL", "").strip()

pytestmark = [
    pytest.mark.database,
    pytest.mark.skipif(
        not POSTGRES or POSTGRES.startswith("sqlite"), reason="pg_dump backs up PostgreSQL"
    ),
]

TOTAL = 100
BACKUP_AFTER = 40
DEVICES = 3


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_pg_dump_taken_under_load_restores_every_acknowledged_submission_and_photo() -> None:
    with cluster(POSTGRES, hosts=1, workers=2, threads=4) as found:
        acked: list[tuple[str, str]] = []  # (instanceID, the photo's SHA-256 or "")
        failures: list[str] = []
        lock = threading.Lock()
        sent = [0]  # submissions begun, by all devices
        enough = threading.Event()

        def device(number: int) -> None:
            rng = random.Random(number)
            conn = http.client.HTTPConnection("127.0.0.1", found.ports[0], timeout=120)
            headers = {
                "X-OpenRosa-Version": "1.0",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            }
            n = 0
            while True:
                with lock:
                    if sent[0] >= TOTAL:
                        break
                    sent[0] += 1
                n += 1
                instance_id = f"uuid:{uuid.UUID(int=rng.getrandbits(128))}"
                area = str(uuid.UUID(int=rng.getrandbits(128)))
                photo = rng.randbytes(48 * 1024) if n % 2 else None
                xml = report_xml(
                    instance_id, area, create=True, team="t", remaining=1, photo=bool(photo)
                )
                conn.request(
                    "POST", f"{found.base_path}/submission", multipart(xml, photo), headers
                )
                response = conn.getresponse()
                answer = response.read()
                with lock:
                    if response.status == 201:
                        digest = hashlib.sha256(photo).hexdigest() if photo else ""
                        acked.append((instance_id, digest))
                    else:
                        failures.append(f"{response.status}: {answer[:200]!r}")
                    if len(acked) >= BACKUP_AFTER:
                        enough.set()
            conn.close()

        threads = [threading.Thread(target=device, args=(d,)) for d in range(DEVICES)]
        for thread in threads:
            thread.start()
        assert enough.wait(timeout=600), failures[:3]
        with lock:
            before = list(acked)
        work = Path(tempfile.mkdtemp(prefix="fieldsync-dump-"))
        dump = work / "fieldsync.dump"
        # The backup, while the devices go on submitting.
        subprocess.run(["pg_dump", "-Fc", "-f", str(dump), libpq(found.database_url)], check=True)
        for thread in threads:
            thread.join()
        assert failures == []
        assert len(acked) == TOTAL

        restored_url, restored_name = create_scratch_database(POSTGRES, "fieldsync_restored")
        try:
            subprocess.run(
                ["pg_restore", "--no-owner", "-d", libpq(restored_url), str(dump)], check=True
            )
            engine = create_engine(restored_url)
            with engine.connect() as conn:
                stored = set(
                    conn.execute(text("SELECT instance_id FROM submission_versions")).scalars()
                )
                named = list(
                    conn.execute(
                        text(
                            "SELECT blob_sha256 FROM submission_attachments "
                            "WHERE blob_sha256 IS NOT NULL"
                        )
                    ).scalars()
                )
            engine.dispose()
            assert {i for i, _d in before} <= stored
            # A host with an empty data directory on the restored database.
            restored = make_engine(restored_url)
            reader = DatabaseBlobStore(work / "new-host" / "blobs", restored)
            photos = {d for i, d in acked if d and i in stored}
            assert {d for _i, d in before if d} <= photos
            assert set(named) == photos
            unreadable = []
            for sha in photos:
                try:
                    with reader.open(sha) as fh:
                        if hashlib.sha256(fh.read()).hexdigest() != sha:
                            unreadable.append(sha)
                except (FileNotFoundError, BlobCorrupt):
                    unreadable.append(sha)
            restored.dispose()
            assert unreadable == []
        finally:
            drop_scratch_database(POSTGRES, restored_name)
            import shutil

            shutil.rmtree(work, ignore_errors=True)
