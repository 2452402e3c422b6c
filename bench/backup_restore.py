"""Backup and restore, tested: back up while devices are submitting, restore into a fresh
database (and data directory), and find every submission (and its photo) that had been
acknowledged with a 201 before the backup began.

    .venv/bin/python bench/backup_restore.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--devices 4] [--seconds 8] [--blob-store database|file]

With the database blob store (the default here, ``FIELDSYNC_BLOB_STORE=database``) the backup is
``pg_dump`` alone: a photo's chunks commit with its submission, so the dump's snapshot holds
every photo of every submission it holds; the photos are read back from the restored database
by a server host with an empty data directory. With the file store the order is the one
docs/deploy.md gives: the database first, then the blob directory. Blobs are written (and
fsynced) before the row that names them commits, and never change once written, so every blob
the dump names is already on disk when the copy starts. It exits with status 1, naming what is
missing, if anything acknowledged is not in the restored copy.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from devices import (  # noqa: E402
    BENCH_FORM,
    BOUNDARY,
    SERVER,
    cli,
    free_port,
    instance_xml,
    multipart,
    wait_until_up,
)

from server.blobs.database import BlobCorrupt, DatabaseBlobStore  # noqa: E402
from server.db import make_engine  # noqa: E402
from tests.scratch_database import create_scratch_database, drop_scratch_database  # noqa: E402


def device(
    port: int, base: str, stop: threading.Event, acked: list[tuple[float, str, str]]
) -> None:
    """Submit until told to stop; every 201 is recorded with its time, instanceID and the
    photo's hash (every third submission carries one)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {
        "X-OpenRosa-Version": "1.0",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    n = 0
    while not stop.is_set():
        n += 1
        photo = os.urandom(20 * 1024) if n % 3 == 0 else None
        instance_id = f"uuid:{uuid.uuid4()}"
        body = multipart(instance_xml(instance_id, "photo.jpg" if photo else ""), photo)
        conn.request("POST", f"{base}/submission", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status == 201:
            digest = hashlib.sha256(photo).hexdigest() if photo else ""
            acked.append((time.time(), instance_id, digest))
    conn.close()


def _readable(store: DatabaseBlobStore, sha256: str) -> bool:
    """The restored database gives back the photo's bytes (the store checks them against the
    hash on the way)."""
    try:
        store.fetch(sha256)
    except (FileNotFoundError, BlobCorrupt):
        return False
    return True


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0, help="load before the backup")
    parser.add_argument(
        "--blob-store",
        choices=("database", "file"),
        default="database",
        help="FIELDSYNC_BLOB_STORE of the server: with 'database' pg_dump alone is the backup",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fieldsync-backup-"))
    data_dir = work / "data"
    db_url, db_name = create_scratch_database(args.database_url, "fieldsync_backup")
    restored_url, restored_name = create_scratch_database(args.database_url, "fieldsync_restored")
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "FIELDSYNC_DATA_DIR": str(data_dir),
        "SECRET_KEY": uuid.uuid4().hex,
        "FIELDSYNC_ENV": "production",
        "FIELDSYNC_BLOB_STORE": args.blob_store,
    }
    server: subprocess.Popen[bytes] | None = None
    try:
        cli(env, "init", "--no-forms")
        (work / "form.xml").write_text(BENCH_FORM)
        cli(env, "forms", "publish", str(work / "form.xml"))
        url = cli(env, "app-user", "create", "backup test").strip().splitlines()[-1]
        base = "/" + url.split("://", 1)[1].split("/", 1)[1]
        port = free_port()
        server = subprocess.Popen(
            [str(SERVER), "run", "--port", str(port), "--workers", "2", "--threads", "4"],
            env=env,
            stdout=(work / "server.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_until_up(port, server)

        stop = threading.Event()
        acked: list[tuple[float, str, str]] = []
        threads = [
            threading.Thread(target=device, args=(port, base, stop, acked))
            for _ in range(args.devices)
        ]
        for thread in threads:
            thread.start()
        time.sleep(args.seconds)

        # The backup, while the devices go on submitting: the database, then (file store only)
        # the blobs.
        began = time.time()
        dump = work / "fieldsync.dump"
        subprocess.run(["pg_dump", "-Fc", "-f", str(dump), libpq(db_url)], check=True)
        blob_copy = work / "blobs-backup"
        if args.blob_store == "file":
            shutil.copytree(
                data_dir / "blobs", blob_copy, ignore=shutil.ignore_patterns(".incoming")
            )
        finished = time.time()
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join()

        # The restore: a fresh database and a fresh blob directory.
        subprocess.run(
            ["pg_restore", "--no-owner", "-d", libpq(restored_url), str(dump)], check=True
        )
        engine = create_engine(restored_url)
        with engine.connect() as conn:
            stored = set(
                conn.execute(text("SELECT instance_id FROM submission_versions")).scalars()
            )
        engine.dispose()
        before = [(i, d) for t, i, d in acked if t < began]
        missing = [i for i, _d in before if i not in stored]
        if args.blob_store == "database":
            # A new host: an empty data directory, the restored database.
            restored_engine = make_engine(restored_url)
            reader = DatabaseBlobStore(work / "new-host" / "blobs", restored_engine)
            lost_photos = [i for i, d in before if d and not _readable(reader, d)]
            restored_engine.dispose()
        else:
            lost_photos = [
                i for i, d in before if d and not (blob_copy / d[:2] / d[2:4] / d).exists()
            ]
        print(
            f"{len(acked)} submissions acknowledged, {len(before)} before the backup began "
            f"({args.blob_store} blob store; backup took {finished - began:.1f} s under load); "
            "restored database holds "
            f"{len(stored)}; acknowledged before the backup and missing: {len(missing)}; "
            f"photos missing: {len(lost_photos)}"
        )
        if missing or lost_photos:
            print("missing:", ", ".join((missing + lost_photos)[:10]))
            sys.exit(1)
        print("every acknowledged submission and photo is in the restored copy")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        drop_scratch_database(args.database_url, db_name)
        drop_scratch_database(args.database_url, restored_name)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
