"""Export benchmark: ``submissions.csv.zip`` of 10,000 and 100,000 submissions, each with a
repeat of 3, from ``fieldsync-server run`` (waitress) in a subprocess.

For each size it creates a scratch database (PostgreSQL by default, ``--database-url
sqlite`` for a SQLite file), publishes a form with a group, a repeat, a select-multiple and a
geopoint, writes the submissions straight into the tables (the export is measured, not the
ingest), starts the server, downloads the export as a client would, and prints the time, the
bytes, and the server process's resident memory before and at its peak (VmHWM). Flat peak
memory from the small to the large size is the goal. Everything it created is removed.

    .venv/bin/python bench/export.py
    .venv/bin/python bench/export.py --sizes 10000,100000 --database-url sqlite
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import free_port, wait_until_up  # noqa: E402
from tests.scratch_database import create_scratch_database, drop_scratch_database  # noqa: E402

SERVER = ROOT / ".venv" / "bin" / "fieldsync-server"
FORM_ID = "bench_clearance"
PASSWORD = "bench password 123"
CHUNK = 5000

FORM = f"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
        xmlns:jr="http://openrosa.org/javarosa">
  <h:head>
    <h:title>Bench clearance</h:title>
    <model>
      <instance>
        <data id="{FORM_ID}" version="1">
          <site><team/><site_name/><visit_date/></site>
          <location/><hazards/><area_m2/>
          <item jr:template=""><kind/><depth_cm/><found_at/></item>
          <remarks/>
          <meta><instanceID/></meta>
        </data>
      </instance>
      <bind nodeset="/data/site/team" type="string"/>
      <bind nodeset="/data/site/site_name" type="string"/>
      <bind nodeset="/data/site/visit_date" type="date"/>
      <bind nodeset="/data/location" type="geopoint"/>
      <bind nodeset="/data/hazards" type="string"/>
      <bind nodeset="/data/area_m2" type="decimal"/>
      <bind nodeset="/data/item/kind" type="string"/>
      <bind nodeset="/data/item/depth_cm" type="int"/>
      <bind nodeset="/data/item/found_at" type="geopoint"/>
      <bind nodeset="/data/remarks" type="string"/>
      <bind nodeset="/data/meta/instanceID" type="string" jr:preload="uid"/>
    </model>
  </h:head>
  <h:body>
    <group ref="/data/site">
      <input ref="/data/site/team"/><input ref="/data/site/site_name"/>
      <input ref="/data/site/visit_date"/>
    </group>
    <input ref="/data/location"/>
    <select ref="/data/hazards">
      <item><label>Mine</label><value>mine</value></item>
      <item><label>UXO</label><value>uxo</value></item>
    </select>
    <input ref="/data/area_m2"/>
    <repeat nodeset="/data/item">
      <input ref="/data/item/kind"/><input ref="/data/item/depth_cm"/>
      <input ref="/data/item/found_at"/>
    </repeat>
    <input ref="/data/remarks"/>
  </h:body>
</h:html>
"""


def instance(n: int, instance_id: str) -> str:
    items = "".join(
        f"<item><kind>{'AP mine' if i % 2 else 'UXO, 60 mm mortar'}</kind><depth_cm>{5 + i}"
        f"</depth_cm><found_at>17.{n % 9973:04d} 102.{i}{n % 97:02d} 170 4</found_at></item>"
        for i in range(3)
    )
    return (
        f'<data id="{FORM_ID}" version="1"><site><team>Team {n % 40}</team>'
        f"<site_name>Ban Na {n} — ບ້ານນາ</site_name><visit_date>2026-03-01</visit_date></site>"
        f"<location>17.{n % 9973:04d} 102.{n % 6113:04d} 170.5 4.0</location>"
        f"<hazards>mine uxo</hazards><area_m2>{n % 5000}.5</area_m2>{items}"
        f'<remarks>"quoted", line one\nline two</remarks>'
        f"<meta><instanceID>{instance_id}</instanceID></meta></data>"
    )


def fill(database_url: str, data_dir: Path, count: int) -> int:
    """Create the project, a viewer, the form and ``count`` submissions; returns the project id."""
    from server.accounts import service as accounts
    from server.accounts.models import Role
    from server.db import make_engine, make_session_factory, transaction
    from server.forms import service as forms
    from server.forms.models import Form, FormVersion
    from server.migrate import upgrade
    from server.projects import service as projects
    from server.runtime import make_runtime
    from server.settings import Settings
    from server.submissions.models import Submission, SubmissionVersion

    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    settings = Settings(
        data_dir=data_dir, database_url=database_url, secret_key="bench", environment="test"
    )
    runtime = make_runtime(settings)
    factory = make_session_factory(runtime.engine, settings=settings)
    with transaction(factory) as session:
        project = projects.create_project(session, "Bench")
        user = accounts.create_user(session, "viewer@example.org", PASSWORD)
        accounts.grant_role(session, user, project, Role.VIEWER)
        forms.publish(session, runtime.blobs, project, "bench.xml", FORM.encode(), max_bytes=10**7)
        device = accounts.create_app_user(session, project, "bench tablet").app_user
        form = session.query(Form).filter_by(project_id=project.id).one()
        version = session.query(FormVersion).filter_by(form_id=form.id).one()
        ids = (project.id, form.id, version.id, device.id)
    project_id, form_pk, version_pk, device_pk = ids
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for first in range(1, count + 1, CHUNK):
        subs, versions = [], []
        for n in range(first, min(first + CHUNK, count + 1)):
            instance_id = f"uuid:{uuid.UUID(int=n)}"
            xml = instance(n, instance_id)
            moment = start + timedelta(seconds=n)
            subs.append(
                {
                    "id": n,
                    "project_id": project_id,
                    "form_id": form_pk,
                    "root_instance_id": instance_id,
                    "current_instance_id": instance_id,
                    "review_state": "received",
                    "created_at": moment,
                    "updated_at": moment,
                }
            )
            versions.append(
                {
                    "id": n,
                    "submission_id": n,
                    "form_id": form_pk,
                    "form_version_id": version_pk,
                    "instance_id": instance_id,
                    "xml": xml,
                    "xml_sha256": hashlib.sha256(xml.encode()).hexdigest(),
                    "xml_size": len(xml.encode()),
                    "device_id": "collect:bench",
                    "submitter_app_user_id": device_pk,
                    "provenance": [],
                    "received_at": moment,
                    "is_current": True,
                    "instance_name": "",
                }
            )
        with transaction(factory) as session:
            session.execute(insert(Submission), subs)
            session.execute(insert(SubmissionVersion), versions)
    if runtime.engine.dialect.name == "postgresql":
        # Fresh statistics, as autovacuum gathers after a bulk load; without them the planner
        # takes the tables for empty.
        with runtime.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    runtime.engine.dispose()
    return project_id


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return -1


def measure(database_url: str, count: int, fmt: str) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="fieldsync-bench-export-"))
    scratch = None
    if database_url == "sqlite":
        url = f"sqlite:///{data_dir / 'bench.sqlite3'}"
    else:
        url, scratch = create_scratch_database(database_url, "fieldsync_bench")
    server: subprocess.Popen[bytes] | None = None
    try:
        started = time.perf_counter()
        project_id = fill(url, data_dir, count)
        filled = time.perf_counter() - started
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "FIELDSYNC_DATA_DIR": str(data_dir),
            "SECRET_KEY": "bench",
            "FIELDSYNC_ENV": "production",
            "FIELDSYNC_LOG_LEVEL": "WARNING",
        }
        port = free_port()
        log = (data_dir / "server.log").open("wb")
        server = subprocess.Popen(
            [str(SERVER), "run", "--port", str(port), "--threads", "4"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until_up(port, server)
        base = f"http://127.0.0.1:{port}"
        token = requests.post(
            f"{base}/api/v1/sessions",
            json={"email": "viewer@example.org", "password": PASSWORD},
            timeout=30,
        ).json()["token"]
        before = status_kb(server.pid, "VmRSS")
        url_export = f"{base}/api/v1/projects/{project_id}/forms/{FORM_ID}/submissions.{fmt}"
        out = data_dir / f"export.{fmt}"
        t0 = time.perf_counter()
        first_byte = None
        with requests.get(
            url_export, headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=600
        ) as response:
            response.raise_for_status()
            with out.open("wb") as sink:
                for chunk in response.iter_content(256 * 1024):
                    if first_byte is None:
                        first_byte = time.perf_counter() - t0
                    sink.write(chunk)
        total = time.perf_counter() - t0
        peak = status_kb(server.pid, "VmHWM")
        detail = ""
        if fmt == "csv.zip":
            with zipfile.ZipFile(out) as archive:
                rows = {i.filename: archive.open(i).read().count(b"\n") for i in archive.infolist()}
            detail = ", lines " + ", ".join(f"{k}: {v}" for k, v in rows.items())
        backend = "SQLite" if database_url == "sqlite" else "PostgreSQL"
        print(
            f"{fmt}, {count} submissions x 3 repeats on {backend}: "
            f"{total:.1f} s (first byte {first_byte or 0:.2f} s), "
            f"{out.stat().st_size / 1e6:.1f} MB; server RSS {before / 1024:.0f} MB before, "
            f"peak {peak / 1024:.0f} MB (fill {filled:.0f} s){detail}",
            flush=True,
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
        if scratch is not None:
            drop_scratch_database(database_url, scratch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server to create the bench database on, or 'sqlite'",
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated counts")
    parser.add_argument("--formats", default="csv.zip", help="e.g. csv.zip,xlsx,geojson")
    args = parser.parse_args()
    for fmt in args.formats.split(","):
        for size in args.sizes.split(","):
            measure(args.database_url, int(size), fmt)


if __name__ == "__main__":
    main()
