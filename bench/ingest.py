"""Ingest benchmark: many ODK Collect devices submitting to ``fieldsync-server run``.

Creates its own PostgreSQL database and data directory, initialises them, publishes a small
survey form with a photo field, creates an app user, starts the server (waitress) as a
subprocess, and drives it like Collect does: per device a keep-alive connection, a HEAD on
/submission before each batch, then multipart POSTs with unique instanceIDs. Prints
submissions/s and p50/p95/p99 latency of the POSTs for small submissions at several
concurrencies, for submissions with a 200 KB photo, and the server's resident memory over a long
run. Everything it created is removed at the end.

    .venv/bin/python bench/ingest.py                      # default, about a minute
    .venv/bin/python bench/ingest.py --count 20000        # the long run for flat memory
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import multiprocessing.pool
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scratch_database import create_scratch_database, drop_scratch_database  # noqa: E402

SERVER = ROOT / ".venv" / "bin" / "fieldsync-server"
BOUNDARY = "fieldsyncbench7d93b1"
FORM_ID = "bench_site_report"
BATCH = 10  # submissions per "Send finalized forms" session, each opened by a HEAD

BENCH_FORM = f"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
        xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms">
  <h:head>
    <h:title>Bench site report</h:title>
    <model>
      <instance>
        <data id="{FORM_ID}" version="1">
          <team/><site_name/><status/><area_m2/><devices_found/><remarks/><photo/>
          <meta><instanceID/><instanceName/></meta>
        </data>
      </instance>
      <bind nodeset="/data/team" type="string"/>
      <bind nodeset="/data/site_name" type="string"/>
      <bind nodeset="/data/status" type="string"/>
      <bind nodeset="/data/area_m2" type="int"/>
      <bind nodeset="/data/devices_found" type="int"/>
      <bind nodeset="/data/remarks" type="string"/>
      <bind nodeset="/data/photo" type="binary"/>
      <bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>
    </model>
  </h:head>
  <h:body>
    <input ref="/data/team"><label>Team</label></input>
    <input ref="/data/site_name"><label>Site</label></input>
    <input ref="/data/status"><label>Status</label></input>
    <input ref="/data/area_m2"><label>Area</label></input>
    <input ref="/data/devices_found"><label>Devices found</label></input>
    <input ref="/data/remarks"><label>Remarks</label></input>
    <upload ref="/data/photo" mediatype="image/*"><label>Photo</label></upload>
  </h:body>
</h:html>
"""


# --- the simulated devices -----------------------------------------------------------------------


def instance_xml(instance_id: str, photo: str) -> bytes:
    return (
        f'<?xml version="1.0"?><data xmlns:jr="http://openrosa.org/javarosa" '
        f'xmlns:orx="http://openrosa.org/xforms" id="{FORM_ID}" version="1">'
        "<team>Team 3</team><site_name>North ridge, block 14</site_name>"
        "<status>confirmed</status><area_m2>12500</area_m2><devices_found>4</devices_found>"
        "<remarks>BLU-97 remnants near the track; marked and reported.</remarks>"
        f"<photo>{photo}</photo><meta><instanceID>{instance_id}</instanceID>"
        "<instanceName>North ridge</instanceName></meta></data>"
    ).encode()


def multipart(xml: bytes, photo: bytes | None) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
        f'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'.encode(),
        xml,
        b"\r\n",
    ]
    if photo is not None:
        parts += [
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photo.jpg"; '
            f'filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode(),
            photo,
            b"\r\n",
        ]
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


@dataclass
class DeviceResult:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def run_device(
    port: int, base_path: str, count: int, photo_bytes: int, result: DeviceResult
) -> None:
    """One tablet: a keep-alive connection, HEAD before each batch, then POSTs."""
    photo = os.urandom(photo_bytes) if photo_bytes else None
    headers = {
        "X-OpenRosa-Version": "1.0",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "User-Agent": "org.odk.collect.android/v2024.3.0 (bench)",
        "Accept-Encoding": "gzip",
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(count):
        if i % BATCH == 0:
            conn.request("HEAD", f"{base_path}/submission", headers={"X-OpenRosa-Version": "1.0"})
            response = conn.getresponse()
            response.read()
            if response.status != 204:
                result.failures.append(f"HEAD {response.status}")
        body = multipart(instance_xml(f"uuid:{uuid.uuid4()}", "photo.jpg" if photo else ""), photo)
        started = time.perf_counter()
        conn.request("POST", f"{base_path}/submission", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        result.latencies.append(time.perf_counter() - started)
        if response.status != 201:
            result.failures.append(f"POST {response.status}: {answer[:200]!r}")
    conn.close()


def _process_worker(args: tuple[int, str, list[int], int]) -> DeviceResult:
    port, base_path, counts, photo_bytes = args
    results = [DeviceResult() for _ in counts]
    threads = [
        threading.Thread(target=run_device, args=(port, base_path, n, photo_bytes, r))
        for n, r in zip(counts, results, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = DeviceResult()
    for r in results:
        merged.latencies += r.latencies
        merged.failures += r.failures
    return merged


@dataclass
class Run:
    label: str
    concurrency: int
    submissions: int
    seconds: float
    latencies: list[float]
    failures: list[str]
    server_cpu: float = 0.0  # seconds of server CPU during the run

    @property
    def rate(self) -> float:
        return self.submissions / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    def line(self) -> str:
        return (
            f"{self.label:<24} c={self.concurrency:<3} n={self.submissions:<6} "
            f"{self.rate:8.1f} subs/s   p50 {self.percentile(50):6.1f} ms   "
            f"p95 {self.percentile(95):6.1f} ms   p99 {self.percentile(99):6.1f} ms   "
            f"server CPU {self.server_cpu / max(1, self.submissions) * 1000:5.1f} ms/sub"
            + (f"   FAILURES {len(self.failures)}" if self.failures else "")
        )


@dataclass
class Target:
    """The running server and the client processes that load it."""

    pool: multiprocessing.pool.Pool
    processes: int
    port: int
    base_path: str
    pid: int


def load(target: Target, label: str, concurrency: int, total: int, photo_bytes: int = 0) -> Run:
    """``concurrency`` devices spread over the client processes, ``total`` POSTs in all."""
    per_device = [
        total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)
    ]
    groups: list[list[int]] = [[] for _ in range(min(target.processes, concurrency))]
    for i, n in enumerate(per_device):
        groups[i % len(groups)].append(n)
    cpu_before = cpu_seconds(target.pid)
    started = time.perf_counter()
    results = target.pool.map(
        _process_worker, [(target.port, target.base_path, g, photo_bytes) for g in groups]
    )
    seconds = time.perf_counter() - started
    latencies = [x for r in results for x in r.latencies]
    failures = [x for r in results for x in r.failures]
    return Run(
        label,
        concurrency,
        len(latencies),
        seconds,
        latencies,
        failures,
        server_cpu=cpu_seconds(target.pid) - cpu_before,
    )


# --- server lifecycle ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(SERVER), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"fieldsync-server {' '.join(args)} failed: {done.stderr.strip()}")
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


def free_port() -> int:
    import socket

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
    parser.add_argument(
        "--small", type=int, default=2000, help="small submissions per concurrency level"
    )
    parser.add_argument(
        "--concurrency", default="1,8,32", help="comma-separated device counts for the small runs"
    )
    parser.add_argument(
        "--photos", type=int, default=400, help="submissions with a photo (concurrency 8)"
    )
    parser.add_argument("--photo-kb", type=int, default=200)
    parser.add_argument(
        "--count",
        type=int,
        default=4000,
        help="submissions in the long run that samples server memory",
    )
    parser.add_argument("--threads", type=int, default=8, help="waitress threads")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument(
        "--keep", action="store_true", help="keep the database and data directory for inspection"
    )
    args = parser.parse_args()

    db_url, db_name = create_scratch_database(args.database_url, "fieldsync_bench")
    data_dir = Path(tempfile.mkdtemp(prefix="fieldsync-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "FIELDSYNC_DATA_DIR": str(data_dir),
        "SECRET_KEY": uuid.uuid4().hex,
        "FIELDSYNC_ENV": "production",
        "FIELDSYNC_LOG_LEVEL": "INFO",
    }
    server: subprocess.Popen[bytes] | None = None
    try:
        cli(env, "init", "--no-forms")
        form_path = data_dir / "bench_form.xml"
        form_path.write_text(BENCH_FORM)
        cli(env, "forms", "publish", str(form_path))
        device_url = cli(env, "app-user", "create", "bench devices").strip().splitlines()[-1]
        base_path = device_url.split("://", 1)[1].split("/", 1)[1]
        base_path = "/" + base_path

        port = free_port()
        log = (data_dir / "server.log").open("wb")
        server = subprocess.Popen(
            [str(SERVER), "run", "--port", str(port), "--threads", str(args.threads)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until_up(port, server)
        print(
            f"fieldsync-server run on PostgreSQL, {args.threads} waitress threads, "
            f"{os.cpu_count()} CPUs shared with {args.client_processes} client processes"
        )

        with multiprocessing.Pool(args.client_processes) as pool:
            target = Target(pool, args.client_processes, port, base_path, server.pid)
            load(target, "warm-up", 4, 200)
            rss_start = rss_mb(server.pid)
            runs = []
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                runs.append(load(target, "small submissions", concurrency, args.small))
                print(runs[-1].line(), flush=True)
            if args.photos:
                runs.append(
                    load(
                        target,
                        f"with a {args.photo_kb} KB photo",
                        8,
                        args.photos,
                        photo_bytes=args.photo_kb * 1024,
                    )
                )
                print(runs[-1].line(), flush=True)

            print(f"long run: {args.count} small submissions at c=8, server memory sampled")
            samples = [rss_mb(server.pid)]
            done = 0
            step = max(500, args.count // 10)
            long_runs = []
            while done < args.count:
                n = min(step, args.count - done)
                long_runs.append(load(target, "long run", 8, n))
                done += n
                samples.append(rss_mb(server.pid))
            total_seconds = sum(r.seconds for r in long_runs)
            all_latencies = [x for r in long_runs for x in r.latencies]
            failures = [x for r in long_runs for x in r.failures]
            summary = Run(
                "long run",
                8,
                len(all_latencies),
                total_seconds,
                all_latencies,
                failures,
                server_cpu=sum(r.server_cpu for r in long_runs),
            )
            print(summary.line())
            print(
                "server RSS (MB) after warm-up, then every "
                f"{step} submissions: " + ", ".join(f"{s:.0f}" for s in samples)
            )
            print(
                f"server RSS: {rss_start:.0f} MB after warm-up, {samples[-1]:.0f} MB at the "
                f"end, max {max(samples):.0f} MB"
            )

        with psycopg.connect(
            make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
        ) as conn:
            stored = conn.execute("SELECT count(*) FROM submissions").fetchone()
        expected = 200 + sum(r.submissions for r in runs) + summary.submissions
        print(f"submissions stored: {stored[0] if stored else 0} (sent {expected})")
        failed = [f for r in [*runs, summary] for f in r.failures]
        if failed:
            print(f"{len(failed)} requests failed, first: {failed[0]}")
            sys.exit(1)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            drop_scratch_database(args.database_url, db_name)
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"kept database {db_name} and data directory {data_dir}")


if __name__ == "__main__":
    main()
