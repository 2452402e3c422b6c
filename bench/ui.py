"""Web UI benchmark: the submissions table of a form with 100,000 submissions, a page of 50
rows, from ``fieldsync-server run`` (waitress) in a subprocess on PostgreSQL.

It fills a scratch database the way ``bench/export.py`` does (the same form and submissions,
written straight into the tables), logs in through the login form, and prints the server's
time to first byte of the table (first page, a deep page, filtered, sorted by device and by
submitter) as the median and 95th percentile of ``--repeat`` requests, and the page's weight:
the bytes a browser downloads on first load (HTML and every script, stylesheet and image it
names, gzipped as served) and on the next load (the HTML only: the static files are cached as
immutable); and the weight of the maps' base layer (the bundled Lao PDR provinces' boundaries,
with Leaflet).

    .venv/bin/python bench/ui.py
    .venv/bin/python bench/ui.py --count 10000 --database-url sqlite
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.export import FORM_ID, PASSWORD, SERVER, fill  # noqa: E402
from bench.ingest import free_port, wait_until_up  # noqa: E402
from tests.scratch_database import create_scratch_database, drop_scratch_database  # noqa: E402

ASSET = re.compile(r'(?:src|href)="(/ui/static/[^"]+)"')
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def log_in(base: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{base}/ui/login", timeout=30)
    token = TOKEN.search(page.text)
    assert token is not None
    answer = http.post(
        f"{base}/ui/login",
        data={"email": "viewer@example.org", "password": PASSWORD, "csrf_token": token.group(1)},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 303, answer.status_code
    return http


def first_byte(http: requests.Session, url: str) -> tuple[float, requests.Response]:
    started = time.perf_counter()
    with http.get(url, stream=True, timeout=60) as response:
        next(response.iter_content(1), b"")
        return time.perf_counter() - started, response


def weight(http: requests.Session, base: str, url: str) -> tuple[int, int, int]:
    """Bytes on the wire: the HTML, and the HTML with every static file it names."""
    page = http.get(url, stream=True, timeout=60)
    html = page.raw.read(decode_content=False)
    text = http.get(url, timeout=60).text
    assets = sorted(set(ASSET.findall(text)))
    total = len(html)
    for asset in assets:
        response = http.get(f"{base}{asset}", stream=True, timeout=60)
        total += len(response.raw.read(decode_content=False))
    return len(html), total, len(assets)


def map_weight(http: requests.Session, base: str, project_id: int, env: dict[str, str]) -> None:
    """The maps' base layer: the bundled gazetteer's province boundaries (stored by ``gazetteer
    publish``, as ``init`` does) and Leaflet, gzipped as served."""
    subprocess.run(
        [str(SERVER), "gazetteer", "publish", "--project", str(project_id)],
        env=env,
        check=True,
        capture_output=True,
    )
    url = f"{base}/ui/projects/{project_id}/gazetteer/boundaries.geojson"
    boundaries = len(http.get(url, stream=True, timeout=60).raw.read(decode_content=False))
    from server.ui.assets import asset_url

    leaflet = 0
    for asset in ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "ui.js"):
        response = http.get(f"{base}{asset_url(asset)}", stream=True, timeout=60)
        leaflet += len(response.raw.read(decode_content=False))
    print(
        f"  map base layer: boundaries {boundaries / 1024:.0f} KB (17 provinces, gzip, cached "
        f"by version), Leaflet and the map script {leaflet / 1024:.0f} KB"
    )


def measure(database_url: str, count: int, repeat: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="fieldsync-bench-ui-"))
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
        http = log_in(base)
        table = f"{base}/ui/projects/{project_id}/forms/{FORM_ID}/submissions"
        backend = "SQLite" if database_url == "sqlite" else "PostgreSQL"
        print(f"{count} submissions on {backend} (filled in {filled:.0f} s), page of 50 rows:")
        cases = {
            "first page, newest first": table,
            "page 1,000 (rows 49,951-50,000)": f"{table}?page=1000",
            "filtered: received in January, state received": (
                f"{table}?from=2026-01-01&to=2026-01-31&state=received"
            ),
            "sorted by device, ascending": f"{table}?sort=device&order=asc",
            "sorted by device, page 20": f"{table}?sort=device&order=asc&page=20",
            "sorted by submitter, ascending": f"{table}?sort=submitter&order=asc",
            "sorted by submitter, descending": f"{table}?sort=submitter&order=desc",
        }
        for label, case in cases.items():
            first_byte(http, case)  # warm the server's caches (form fields, templates)
            times = []
            for _ in range(repeat):
                elapsed, response = first_byte(http, case)
                assert response.status_code == 200, response.status_code
                times.append(elapsed * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
            print(
                f"  {label}: time to first byte median {statistics.median(times):.0f} ms, "
                f"p95 {p95:.0f} ms ({repeat} requests)"
            )
        html, total, assets = weight(http, base, table)
        print(
            f"  page weight: first load {total / 1024:.0f} KB ({assets} static files, gzip), "
            f"cached load {html / 1024:.0f} KB (the HTML)"
        )
        record = f"{base}/ui/projects/{project_id}/entities"
        html, total, assets = weight(http, base, record)
        print(f"  (the shared-records page: first load {total / 1024:.0f} KB)")
        map_weight(http, base, project_id, env)
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
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    measure(args.database_url, args.count, args.repeat)


if __name__ == "__main__":
    main()
