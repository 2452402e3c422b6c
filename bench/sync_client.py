"""Sync client benchmark: bytes on the wire per submission, and time to push 10,000 small
submissions with ``fieldsync push`` to ``fieldsync-server run`` on PostgreSQL over loopback.

Creates its own PostgreSQL database and data directory, initialises them, publishes a small
site-report form, creates a coordinator, starts the server (waitress) as a subprocess, writes
10,000 ODK Collect instance folders, imports them into a fresh client store, and pushes them
through a counting TCP relay on loopback (so every byte of headers and bodies, both ways, is
counted). Prints the raw XML size, the bytes on the wire and their ratio, and the push time.
Everything it created is removed at the end.

    .venv/bin/python bench/sync_client.py                  # 10,000 submissions
    .venv/bin/python bench/sync_client.py --count 2000 --batch-size 50
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tests.scratch_database import create_scratch_database, drop_scratch_database  # noqa: E402
from tests.sync_client.faultproxy import FaultProxy  # noqa: E402 (after the path is set)

SERVER = ROOT / ".venv" / "bin" / "fieldsync-server"
FORM_ID = "bench_site_report"
PASSWORD = "bench password 2026"

BENCH_FORM = f"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
        xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms">
  <h:head>
    <h:title>Bench site report</h:title>
    <model>
      <instance>
        <data id="{FORM_ID}" version="1">
          <team/><site_name/><survey_date/><status/><area_m2/><devices_found/><remarks/>
          <meta><instanceID/><instanceName/></meta>
        </data>
      </instance>
      <bind nodeset="/data/team" type="string"/>
      <bind nodeset="/data/site_name" type="string"/>
      <bind nodeset="/data/survey_date" type="date"/>
      <bind nodeset="/data/status" type="string"/>
      <bind nodeset="/data/area_m2" type="int"/>
      <bind nodeset="/data/devices_found" type="int"/>
      <bind nodeset="/data/remarks" type="string"/>
      <bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>
    </model>
  </h:head>
  <h:body>
    <input ref="/data/team"><label>Team</label></input>
    <input ref="/data/site_name"><label>Site</label></input>
    <input ref="/data/survey_date"><label>Date</label></input>
    <input ref="/data/status"><label>Status</label></input>
    <input ref="/data/area_m2"><label>Area</label></input>
    <input ref="/data/devices_found"><label>Devices found</label></input>
    <input ref="/data/remarks"><label>Remarks</label></input>
  </h:body>
</h:html>
"""

TEAMS = ["Team 1", "Team 2", "Team 3", "MTT Alpha", "MTT Bravo", "NTS North"]
SITES = ["North ridge", "River bend", "School road", "Market field", "Old airstrip", "Well 4"]
STATUSES = ["suspected", "confirmed", "worked_on", "cleared"]
REMARKS = [
    "BLU-97 remnants near the track; marked and reported.",
    "No evidence found; landowner confirms use of the field since 2019.",
    "Strike marks and container fragments east of the well.",
    "Two M77 submunitions found at 10 cm; destroyed in situ.",
    "",
]


def instance_xml(rng: random.Random, instance_id: str) -> bytes:
    site = f"{rng.choice(SITES)}, block {rng.randint(1, 60)}"
    return (
        f'<?xml version="1.0"?><data xmlns:jr="http://openrosa.org/javarosa" '
        f'xmlns:orx="http://openrosa.org/xforms" id="{FORM_ID}" version="1">'
        f"<team>{rng.choice(TEAMS)}</team><site_name>{site}</site_name>"
        f"<survey_date>2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}</survey_date>"
        f"<status>{rng.choice(STATUSES)}</status><area_m2>{rng.randint(100, 90000)}</area_m2>"
        f"<devices_found>{rng.randint(0, 12)}</devices_found>"
        f"<remarks>{rng.choice(REMARKS)}</remarks>"
        f"<orx:meta><orx:instanceID>{instance_id}</orx:instanceID>"
        f"<orx:instanceName>{site}</orx:instanceName></orx:meta></data>"
    ).encode()


def write_instances(root: Path, count: int, seed: int) -> int:
    """``count`` Collect instance folders under ``root``; returns the XML bytes written."""
    rng = random.Random(seed)
    total = 0
    for i in range(count):
        name = f"{FORM_ID}_2026-11-29_10-{i // 60 % 60:02d}-{i % 60:02d}_{i}"
        folder = root / name
        folder.mkdir(parents=True)
        xml = instance_xml(rng, f"uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}")
        (folder / f"{name}.xml").write_bytes(xml)
        total += len(xml)
    return total


# --- server lifecycle ----------------------------------------------------------------------------


def server_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(SERVER), *args], env=env, capture_output=True, text=True, input=stdin, check=False
    )
    if done.returncode != 0:
        sys.exit(f"fieldsync-server {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def fieldsync(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sync_client.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        input=stdin,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        sys.exit(f"fieldsync {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def wait_until_up(port: int, server: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit("the server exited during start-up; see its log")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("the server did not answer /healthz in time")


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the server and its workers have used so far; NaN where /proc
    is missing."""
    try:
        from devices import cpu_seconds
    except ImportError:
        return float("nan")
    try:
        return cpu_seconds(pid)
    except OSError:
        return float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server to create the bench database on",
    )
    parser.add_argument("--count", type=int, default=10_000, help="submissions to push")
    parser.add_argument("--batch-size", type=int, default=200, help="submissions per push")
    parser.add_argument("--parallel", type=int, default=2, help="batches in flight at once")
    parser.add_argument("--threads", type=int, default=8, help="threads per server process")
    parser.add_argument(
        "--workers", type=int, default=0, help="gunicorn workers (0: waitress, one process)"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="keep what was created")
    args = parser.parse_args()

    db_url, db_name = create_scratch_database(args.database_url, "fieldsync_bench")
    work = Path(tempfile.mkdtemp(prefix="fieldsync-client-bench-"))
    server_env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "FIELDSYNC_DATA_DIR": str(work / "server"),
        "SECRET_KEY": uuid.uuid4().hex,
        "FIELDSYNC_ENV": "production",
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }
    client_env = {
        **os.environ,
        "FIELDSYNC_HOME": str(work / "laptop"),
        "PYTHONPATH": str(ROOT),
    }
    server: subprocess.Popen[bytes] | None = None
    relay: FaultProxy | None = None
    try:
        server_cli(server_env, "init", "--no-forms")
        form_path = work / "bench_form.xml"
        form_path.write_text(BENCH_FORM)
        server_cli(server_env, "forms", "publish", str(form_path))
        server_cli(
            server_env,
            "user",
            "create",
            "coordinator@bench.local",
            "--role",
            "coordinator",
            stdin=PASSWORD + "\n",
        )
        port = free_port()
        log = (work / "server.log").open("wb")
        server = subprocess.Popen(
            [str(SERVER), "run", "--port", str(port), "--threads", str(args.threads)]
            + (["--workers", str(args.workers)] if args.workers else []),
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until_up(port, server)
        relay = FaultProxy(port).start()  # no faults: it only counts bytes
        print(
            f"fieldsync-server run on PostgreSQL ({args.workers or 1} process(es) of "
            f"{args.threads} threads), load {os.getloadavg()[0]:.1f}, "
            f"{os.cpu_count()} CPUs shared by server, client and relay"
        )

        started = time.perf_counter()
        raw_xml = write_instances(work / "tablet" / "instances", args.count, args.seed)
        fieldsync(client_env, "import", str(work / "tablet" / "instances"))
        import_seconds = time.perf_counter() - started
        print(
            f"wrote and imported {args.count} instance folders in {import_seconds:.1f} s "
            f"(raw XML {raw_xml / 1e6:.2f} MB, {raw_xml / args.count:.0f} B per submission)"
        )
        fieldsync(
            client_env,
            "login",
            relay.url,
            "--email",
            "coordinator@bench.local",
            stdin=PASSWORD + "\n",
        )

        before_up, before_down = relay.stats.bytes_up, relay.stats.bytes_down
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_cpu_before = process_cpu_seconds(server.pid)
        started = time.perf_counter()
        out = fieldsync(
            client_env,
            "push",
            "--batch-size",
            str(args.batch_size),
            "--parallel",
            str(args.parallel),
        )
        push_seconds = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_cpu = process_cpu_seconds(server.pid) - server_cpu_before
        client_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
            cpu_after.ru_stime - cpu_before.ru_stime
        )
        up = relay.stats.bytes_up - before_up
        down = relay.stats.bytes_down - before_down
        wire = up + down

        with psycopg.connect(
            make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
        ) as conn:
            row = conn.execute("SELECT count(*) FROM submissions").fetchone()
        stored = row[0] if row else 0

        print(out.strip().splitlines()[0])
        print(
            f"bytes on the wire: {wire / 1e6:.2f} MB ({up / 1e6:.2f} MB up, "
            f"{down / 1e6:.2f} MB down), {wire / args.count:.0f} B per submission"
        )
        print(
            f"wire / raw XML: {100 * wire / raw_xml:.1f}% (target <= 35%), batches of "
            f"{args.batch_size}, {args.parallel} in flight, gzip both ways, headers included"
        )
        print(
            f"push of {args.count} submissions: {push_seconds:.1f} s including client start-up "
            f"({args.count / push_seconds:.0f} submissions/s; target < 30 s)"
        )
        print(
            f"CPU during the push: client {client_cpu:.1f} s, server process {server_cpu:.1f} s "
            f"(PostgreSQL not counted), over {push_seconds:.1f} s"
        )
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"submissions stored on the server: {stored} (pushed {args.count})")
        if stored != args.count:
            sys.exit(1)
    finally:
        if relay is not None:
            relay.stop()
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            drop_scratch_database(args.database_url, db_name)
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept database {db_name} and {work}")


if __name__ == "__main__":
    main()
