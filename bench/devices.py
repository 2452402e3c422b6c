"""The simulated ODK Collect devices and the server-process measurements that the ingest
benchmarks share (``bench/ingest.py``, ``bench/scale_out.py``)."""

from __future__ import annotations

import http.client
import multiprocessing.pool
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


ENTITY_FORM_ID = "bench_area_report"
ENTITY_FORM = f"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
        xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms"
        xmlns:entities="http://www.opendatakit.org/xforms/entities">
  <h:head>
    <h:title>Bench hazard area</h:title>
    <model entities:entities-version="2024.1.0">
      <instance>
        <data id="{ENTITY_FORM_ID}" version="1">
          <area_name/><status/><area_m2/>
          <meta><instanceID/>
            <entity dataset="bench_areas" id="" create="1"><label/></entity>
          </meta>
        </data>
      </instance>
      <bind nodeset="/data/area_name" type="string" entities:saveto="area_name"/>
      <bind nodeset="/data/status" type="string" entities:saveto="status"/>
      <bind nodeset="/data/area_m2" type="int" entities:saveto="area_m2"/>
      <bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>
    </model>
  </h:head>
  <h:body>
    <input ref="/data/area_name"><label>Area</label></input>
    <input ref="/data/status"><label>Status</label></input>
    <input ref="/data/area_m2"><label>Area m2</label></input>
  </h:body>
</h:html>
"""


def library_template(path: Path) -> str:
    """A filled hazard report of the form library (``forms/hazard_report.xlsx``), entity block
    included, as Collect sends it: an instance template for ``run_device``'s "template" kind.
    The reports' facts are kept for it at intake, which the bench's own forms do not have."""
    from types import SimpleNamespace

    from server.forms.compile import compile_upload
    from tests.entities.builders import Filled
    from tests.entities.test_entity_service import AREA

    compiled = compile_upload(path.name, path.read_bytes())
    # The hazard area the shared-record tests report, placed in the bundled gazetteer.
    values = {**AREA, "admin1_pcode": "LA09", "admin2_pcode": "LA0901"}
    form = SimpleNamespace(entity_spec=compiled.entity_spec, version=compiled.version)
    filled = Filled(
        form_id=compiled.form_id,
        form=form,  # type: ignore[arg-type]
        instance_id="{instance_id}",
        entity_id="{entity_id}",
        create=True,
        label=f"{AREA['ha_code']} {AREA['admin_area']}",
        values=values,
        device_id="collect:bench",
    )
    return filled.xml().decode()


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


def entity_xml(instance_id: str) -> bytes:
    """A report that creates a new hazard area (no base: nothing to derive from)."""
    entity_id = uuid.uuid4()
    return (
        f'<?xml version="1.0"?><data xmlns:jr="http://openrosa.org/javarosa" '
        f'xmlns:orx="http://openrosa.org/xforms" id="{ENTITY_FORM_ID}" version="1">'
        "<area_name>North ridge, block 14</area_name><status>suspected</status>"
        f"<area_m2>12500</area_m2><meta><instanceID>{instance_id}</instanceID>"
        f'<entity dataset="bench_areas" id="{entity_id}" create="1">'
        "<label>North ridge 14</label></entity></meta></data>"
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
    port: int,
    base_path: str,
    count: int,
    photo_bytes: int,
    result: DeviceResult,
    kind: str,
    template: str = "",
) -> None:
    """One tablet: a keep-alive connection, HEAD before each batch, then POSTs. ``kind`` is
    "small" (the site report, with a photo when ``photo_bytes``), "entity" (a report that
    creates a hazard area) or "template" (``template``, an instance whose ``{instance_id}`` and
    ``{entity_id}`` are filled with new ids: a library form)."""
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
        instance_id = f"uuid:{uuid.uuid4()}"
        if kind == "template":
            filled = template.replace("{instance_id}", instance_id)
            xml = filled.replace("{entity_id}", str(uuid.uuid4())).encode()
        elif kind == "entity":
            xml = entity_xml(instance_id)
        else:
            xml = instance_xml(instance_id, "photo.jpg" if photo else "")
        body = multipart(xml, photo)
        started = time.perf_counter()
        conn.request("POST", f"{base_path}/submission", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        result.latencies.append(time.perf_counter() - started)
        if response.status != 201:
            result.failures.append(f"POST {response.status}: {answer[:200]!r}")
    conn.close()


def _process_worker(args: tuple[int, str, list[int], int, str, str]) -> DeviceResult:
    port, base_path, counts, photo_bytes, kind, template = args
    results = [DeviceResult() for _ in counts]
    threads = [
        threading.Thread(
            target=run_device, args=(port, base_path, n, photo_bytes, r, kind, template)
        )
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
    server_cpu: float = 0.0  # seconds of server CPU during the run (every worker)
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)  # the machine's load averages after it

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
            f"server CPU {self.server_cpu / max(1, self.submissions) * 1000:5.1f} ms/sub   "
            f"load {self.load[0]:.1f} {self.load[1]:.1f} {self.load[2]:.1f}"
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
    runs: list[Run] = field(default_factory=list)

    def report(self, run: Run) -> None:
        self.runs.append(run)
        print(run.line(), flush=True)


def load(
    target: Target,
    label: str,
    concurrency: int,
    total: int,
    photo_bytes: int = 0,
    kind: str = "small",
    template: str = "",
) -> Run:
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
        _process_worker,
        [(target.port, target.base_path, g, photo_bytes, kind, template) for g in groups],
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
        load=os.getloadavg(),
    )


# --- server lifecycle ----------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a gunicorn master and its workers), Linux /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(stat[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process and its workers have used (Linux /proc)."""
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_rss_mb(pid: int) -> list[float]:
    """Resident memory of each serving process: the workers of a gunicorn master, or the
    process itself when it serves alone (waitress)."""
    members = process_tree(pid)
    workers = members[1:] or members
    return [rss_mb(m) for m in workers]


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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
