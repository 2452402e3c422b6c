"""Benchmark: the cost of a pull with nothing new, against a PostgreSQL server whose change feed
holds 1,000,000 rows.

    .venv/bin/python bench/sync_server.py [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--rows 1000000] [--repeat 200]

Creates a scratch database (dropped at the end), fills ``sync_changes`` with N entity_version
rows in one project (the rows a pull reads; one per entity version), serves the app with
``fieldsync-server run`` (waitress) on loopback, and times, over HTTP with keep-alive:
- an unchanged pull from the tip cursor (200, empty page) and the same with ``If-None-Match``
  (304), each one request;
- for comparison, the first page from scratch (500 and 5000 changes);
- the same unchanged pull in-process (Flask test client, no HTTP server), with the number of SQL
  statements it runs, to separate the app's cost from the HTTP server's and the machine's load.
Figures are printed, not asserted. Target: an unchanged pull in one request under 50 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import server.models  # noqa: E402, F401 - every model mapped, as in server.runtime
from server.accounts import service as accounts  # noqa: E402
from server.accounts.models import Role  # noqa: E402
from server.db import make_engine, make_session_factory, transaction  # noqa: E402
from server.feed.cursors import Position, encode_cursor  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.projects import service as projects  # noqa: E402
from server.settings import normalise_database_url  # noqa: E402
from tests.scratch_database import create_scratch_database, drop_scratch_database  # noqa: E402

PASSWORD = "bench password, not secret"
SECRET = "bench-secret-key"

FILL_SQL = """
INSERT INTO sync_changes (project_id, kind, key, data, created_at, xid)
SELECT :project_id, 'entity_version', 'hazard_areas/' || md5(g::text),
       json_build_object(
           'list', 'hazard_areas', 'uuid', md5(g::text), 'version', 1 + g % 7,
           'label', 'HA-' || lpad(g::text, 7, '0'),
           'values', json_build_object('status', 'open', 'remaining_area_m2', (g % 90000)::text,
                                       'contamination', 'cmr uxo'),
           'conflict', null),
       now() - make_interval(secs => (:rows - g)),
       -- Spread the rows over the transaction ids already used, as a real history would be.
       1 + (g::bigint * (:top - 2)) / :rows
FROM generate_series(0, :rows - 1) AS g
"""


def fill(url: str, rows: int) -> tuple[int, str, Position]:
    """Make a project with a coordinator and ``rows`` feed rows; returns (project id, scope,
    tip position)."""
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        project = projects.create_project(session, "Bench project")
        user = accounts.create_user(session, "bench@example.org", PASSWORD)
        accounts.grant_role(session, user, project, Role.COORDINATOR)
        project_id = project.id
        scope = f"{project.id}:{project.created_at.isoformat()}"
    started = time.perf_counter()
    with engine.begin() as conn:
        top = int(conn.scalar(text("SELECT pg_current_xact_id()::text::bigint")))
        conn.execute(text(FILL_SQL), {"project_id": project_id, "rows": rows, "top": top})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE sync_changes"))
    with engine.connect() as conn:
        tip = conn.execute(
            text(
                "SELECT xid, id FROM sync_changes WHERE project_id = :p "
                "ORDER BY xid DESC, id DESC LIMIT 1"
            ),
            {"p": project_id},
        ).one()
        size = conn.scalar(text("SELECT pg_total_relation_size('sync_changes')"))
    print(
        f"filled sync_changes with {rows:,} rows in {time.perf_counter() - started:.1f} s "
        f"({size / 1e6:.0f} MB with indexes)"
    )
    engine.dispose()
    return project_id, scope, Position(int(tip.xid), int(tip.id))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(session: requests.Session, url: str, repeat: int, **headers: str) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = session.get(url, headers=headers, timeout=30)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times


def summary(label: str, times: list[float], response: requests.Response) -> None:
    ordered = sorted(times)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    print(
        f"{label}: median {statistics.median(times):6.2f} ms, p95 {p95:6.2f} ms, "
        f"max {max(times):6.2f} ms over {len(times)} requests; "
        f"HTTP {response.status_code}, {response.headers.get('Content-Length', '0')} bytes "
        f"on the wire ({len(response.content)} decoded)"
    )


def measure(url: str, project_id: int, scope: str, tip: Position, repeat: int) -> None:
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="fieldsync-bench-sync-")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FIELDSYNC_DATA_DIR": data_dir,
        "SECRET_KEY": SECRET,
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "run", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        http = requests.Session()
        token = http.post(
            f"{base}/api/v1/sessions",
            json={"email": "bench@example.org", "password": PASSWORD},
            timeout=30,
        ).json()["token"]
        http.headers["Authorization"] = f"Bearer {token}"
        http.headers["Accept-Encoding"] = "gzip"

        # The laptop's stored cursor after it caught up with the whole feed.
        cursor = encode_cursor(SECRET, scope, tip)
        pull = f"{base}/api/v1/sync/changes?project_id={project_id}&cursor={cursor}"
        first = http.get(pull, timeout=30)
        assert first.status_code == 200 and first.json()["changes"] == [], first.text
        timed(http, pull, 20)  # warm the connection pool and caches
        summary("unchanged pull, 200 empty page", timed(http, pull, repeat), first)
        etag = first.headers["ETag"]
        not_modified = http.get(pull, headers={"If-None-Match": etag}, timeout=30)
        summary(
            "unchanged pull, If-None-Match 304",
            timed(http, pull, repeat, **{"If-None-Match": etag}),
            not_modified,
        )
        for limit in (500, 5000):
            page_url = f"{base}/api/v1/sync/changes?project_id={project_id}&limit={limit}"
            page = http.get(page_url, timeout=30)
            summary(
                f"first page from scratch, limit {limit} (gzip)",
                timed(http, page_url, max(5, repeat // 20)),
                page,
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


def measure_in_process(url: str, project_id: int, scope: str, tip: Position, repeat: int) -> None:
    from sqlalchemy import event

    from server import create_app
    from server.settings import Settings

    data_dir = Path(tempfile.mkdtemp(prefix="fieldsync-bench-sync-"))
    app = create_app(
        Settings(
            data_dir=data_dir,
            database_url=normalise_database_url(url),
            secret_key=SECRET,
            log_level="WARNING",
        )
    )
    client = app.test_client()
    token = client.post(
        "/api/v1/sessions", json={"email": "bench@example.org", "password": PASSWORD}
    ).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    pull = (
        f"/api/v1/sync/changes?project_id={project_id}&cursor={encode_cursor(SECRET, scope, tip)}"
    )
    etag = client.get(pull, headers=headers).headers["ETag"]
    statements = 0

    def count(*_args: object) -> None:
        nonlocal statements
        statements += 1

    engine = app.extensions["fieldsync"].engine
    event.listen(engine, "before_cursor_execute", count)
    for _ in range(20):
        client.get(pull, headers=headers)
    statements = 0
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(pull, headers={**headers, "If-None-Match": etag})
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 304
    ordered = sorted(times)
    print(
        f"unchanged pull in-process (no HTTP), 304: median {statistics.median(times):6.2f} ms, "
        f"p95 {ordered[int(len(ordered) * 0.95) - 1]:6.2f} ms; "
        f"{statements / repeat:.0f} SQL statements per pull"
    )
    engine.dispose()
    shutil.rmtree(data_dir, ignore_errors=True)


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
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    url, name = create_scratch_database(args.database_url, "fieldsync_bench")
    try:
        project_id, scope, tip = fill(url, args.rows)
        measure(url, project_id, scope, tip, args.repeat)
        measure_in_process(url, project_id, scope, tip, args.repeat)
    finally:
        drop_scratch_database(url, name)


if __name__ == "__main__":
    main()
