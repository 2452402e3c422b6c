"""Benchmark: entity updates applied per second, and the entity-list CSV for 100,000 hazard
areas, streamed over HTTP, on PostgreSQL.

    .venv/bin/python bench/entities.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--entities 100000] [--updates 400]

Creates a scratch database (dropped at the end), publishes the form library, and prints:
- updates/s for clearance reports on distinct hazard areas (no conflicts), and for pairs of
  concurrent reports on the same areas (every second one opens a hard conflict);
- the time to stream the CSV of N hazard areas through ``fieldsync-server run`` (first byte and
  last byte), its size, and its gzip size.
Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

import requests
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.db import transaction  # noqa: E402
from server.entities.models import Entity, EntityVersion  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.runtime import make_runtime  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.scratch_database import create_scratch_database, drop_scratch_database  # noqa: E402


def area_values(i: int) -> dict[str, str]:
    return {
        "ha_code": f"HA-{i:06d}",
        "admin_area": f"District {i % 40} / Village {i % 997}",
        "hazard_type": "sha" if i % 3 else "cha",
        "status": "suspected",
        "contamination_types": "cmr uxo",
        "evidence": "indirect",
        "estimated_area_m2": str(5000 + i % 20000),
        "remaining_area_m2": str(5000 + i % 20000),
        "cleared_area_m2": "0",
        "land_use": "agriculture",
        "blockages": "farmland",
        "priority": "medium",
        "landowner": "community",
        "date_of_information": "2026-10-01",
    }


def bulk_entities(runtime: object, project_id: int, count: int) -> list[str]:
    """Insert ``count`` hazard areas at version 1 directly (the load being measured is the
    download, not their creation)."""
    from server.entities.store import ensure_list

    factory = runtime.session_factory  # type: ignore[attr-defined]
    with transaction(factory) as session:
        entity_list = ensure_list(session, project_id, "hazard_areas")
        list_id = entity_list.id
    uuids = [str(uuid.uuid4()) for _ in range(count)]
    batch = 5000
    for start in range(0, count, batch):
        with transaction(factory) as session:
            rows = []
            for i in range(start, min(count, start + batch)):
                values = area_values(i)
                rows.append(
                    {
                        "list_id": list_id,
                        "uuid": uuids[i],
                        "label": f"{values['ha_code']} {values['admin_area']}",
                        "values": values,
                        "current_version": 1,
                    }
                )
            session.execute(insert(Entity), rows)
            ids = dict(
                session.execute(
                    text("SELECT uuid, id FROM entities WHERE list_id = :l AND id > :after"),
                    {"l": list_id, "after": 0 if start == 0 else -1},
                ).all()
            )
            session.execute(
                insert(EntityVersion),
                [
                    {
                        "entity_id": ids[r["uuid"]],
                        "version": 1,
                        "base_version": None,
                        "update_id": f"bulk:{r['uuid']}",
                        "kind": "create",
                        "update": {
                            "update_id": f"bulk:{r['uuid']}",
                            "kind": "create",
                            "base_ids": [],
                            "values": {**r["values"], "label": r["label"]},
                            "date_of_information": "2026-10-01",
                            "source": "bench",
                            "reason": None,
                            "resolves": [],
                        },
                        "result": {"label": r["label"], "values": r["values"]},
                        "conflicts_opened": [],
                        "conflicts_closed": [],
                        "forced": False,
                    }
                    for r in rows
                ],
            )
    return uuids


def clearance_xml(form_version: object, ha: str, base: int, date: str, cleared: str) -> bytes:
    from tests.entities.builders import Filled

    filled = Filled(
        form_id="clearance_report",
        form=form_version,  # type: ignore[arg-type]
        entity_id=ha,
        update=True,
        base_version=base,
        trunk_version=base,
        values={
            "status": "in_clearance",
            "remaining_area_m2": "4000",
            "cleared_area_m2": cleared,
            "contamination_types": "cmr uxo",
            "hazard_type": "sha",
            "evidence": "indirect",
        },
        date_of_information=date,
    )
    return filled.xml()


def measure_updates(runtime: object, project_id: int, uuids: list[str], count: int) -> None:
    from sqlalchemy import select

    from server.forms.models import Form, FormVersion
    from server.intake.service import submission_arrives
    from server.projects.models import Project
    from server.submissions.service import Submitter

    factory = runtime.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        form_version = session.scalars(
            select(FormVersion)
            .join(Form, Form.id == FormVersion.form_id)
            .where(Form.project_id == project_id, Form.xml_form_id == "clearance_report")
        ).one()
        project = session.get(Project, project_id)

    def run(payloads: list[bytes]) -> float:
        started = time.perf_counter()
        for payload in payloads:
            with transaction(factory) as session:
                submission_arrives(session, session.merge(project), payload, submitter=Submitter())
        return time.perf_counter() - started

    plain = [clearance_xml(form_version, uuids[i], 1, "2026-11-10", "1000") for i in range(count)]
    seconds = run(plain)
    print(
        f"entity updates, no conflicts:   {count / seconds:8.1f} updates/s "
        f"({count} clearance reports on distinct hazard areas, {seconds:.2f} s)"
    )
    # Two teams report on the same areas from the same base: the second opens a conflict.
    pairs = []
    for i in range(count, count + count // 2):
        pairs.append(clearance_xml(form_version, uuids[i], 1, "2026-11-10", "1000"))
        pairs.append(clearance_xml(form_version, uuids[i], 1, "2026-11-11", "2500"))
    seconds = run(pairs)
    print(
        f"entity updates, with conflicts: {len(pairs) / seconds:8.1f} updates/s "
        f"({len(pairs)} reports, half of them opening a conflict, {seconds:.2f} s)"
    )


def measure_csv_in_process(runtime: object, project_id: int, count: int) -> None:
    """Producing the CSV, streamed, without the HTTP server in the way."""
    from server.entities.listing import entity_list_csv

    factory = runtime.session_factory  # type: ignore[attr-defined]
    for attempt in range(3):
        started = time.perf_counter()
        with factory() as session:
            found = entity_list_csv(session, project_id, "hazard_areas")
        assert found is not None
        size = sum(len(chunk) for chunk in found[1])
        print(
            f"entity-list CSV produced in-process, {count} hazard areas, run {attempt + 1}: "
            f"{time.perf_counter() - started:.2f} s, {size / 1e6:.1f} MB"
        )


def measure_csv(env: dict[str, str], project_id: int, count: int) -> None:
    port = 5931
    server = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "run", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        password = env["BENCH_PASSWORD"]
        token = requests.post(
            f"{base}/api/v1/sessions",
            json={"email": "bench@example.org", "password": password},
            timeout=10,
        ).json()["token"]
        url = f"{base}/api/v1/projects/{project_id}/entity-lists/hazard_areas/entities.csv"
        for attempt in range(3):
            started = time.perf_counter()
            response = requests.get(
                url, headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=120
            )
            first = None
            size = 0
            body = bytearray()
            for chunk in response.iter_content(65536):
                if first is None:
                    first = time.perf_counter() - started
                size += len(chunk)
                body.extend(chunk)
            total = time.perf_counter() - started
            rows = body.count(b"\n") - 1
            print(
                f"entity-list CSV, {count} hazard areas, run {attempt + 1}: "
                f"first byte {first * 1000:.0f} ms, complete {total:.2f} s, "
                f"{size / 1e6:.1f} MB ({len(gzip.compress(bytes(body))) / 1e6:.1f} MB gzip), "
                f"{rows} rows"
            )
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=400)
    args = parser.parse_args()

    url, name = create_scratch_database(args.database_url, "fieldsync_bench")
    try:
        with TemporaryDirectory() as data_dir:
            settings = Settings(
                data_dir=Path(data_dir), database_url=url, secret_key="bench", log_level="WARNING"
            )
            runtime = make_runtime(settings)
            upgrade(runtime.engine)
            from server.accounts import service as accounts
            from server.accounts.models import Role
            from server.forms.service import bundled_form_files, publish_many
            from server.projects.service import create_project
            from server.settings import BUNDLED_FORMS_DIR

            password = "bench-password-123"
            with transaction(runtime.session_factory) as session:
                project = create_project(session, "Bench")
                user = accounts.create_user(session, "bench@example.org", password)
                accounts.grant_role(session, user, project, Role.VIEWER)
                publish_many(
                    session,
                    runtime.blobs,
                    project,
                    bundled_form_files(BUNDLED_FORMS_DIR),
                    max_bytes=10**7,
                )
                project_id = project.id
            started = time.perf_counter()
            uuids = bulk_entities(runtime, project_id, max(args.entities, args.updates * 2))
            print(
                f"(setup: {len(uuids)} hazard areas inserted in "
                f"{time.perf_counter() - started:.1f} s)"
            )
            measure_updates(runtime, project_id, uuids, args.updates)
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "FIELDSYNC_DATA_DIR": data_dir,
                "SECRET_KEY": "bench",
                "FIELDSYNC_LOG_LEVEL": "WARNING",
                "BENCH_PASSWORD": password,
            }
            measure_csv_in_process(runtime, project_id, len(uuids))
            measure_csv(env, project_id, len(uuids))
            runtime.engine.dispose()
    finally:
        drop_scratch_database(url, name)
    print(json.dumps({"database": "postgresql", "entities": args.entities}))


if __name__ == "__main__":
    main()
