"""The scale-out load: several server hosts (``fieldsync-server run`` processes on their own
ports, each with gunicorn workers and a data directory of its own) on one PostgreSQL database
with the database blob store (``FIELDSYNC_BLOB_STORE=database``), with devices on every host
creating and updating the same hazard areas, some reports with a photo; then the invariants a
single server guarantees are checked on the result, and every photo is downloaded, byte for
byte, from a host other than the one that took it. Used by ``tests/sync/test_scale_out.py`` (short)
and ``bench/scale_out.py`` (long, with throughput)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.scratch_database import create_scratch_database, drop_scratch_database

ROOT = Path(__file__).resolve().parent.parent
SERVER = Path(sys.executable).with_name("fieldsync-server")
FORM_ID = "scale_area_report"
LIST = "scale_areas"
BOUNDARY = "fieldsyncscaleout"
FORM = f"""<?xml version="1.0"?>
<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml"
        xmlns:jr="http://openrosa.org/javarosa" xmlns:entities="http://www.opendatakit.org/xforms/entities">
  <h:head>
    <h:title>Scale-out hazard area</h:title>
    <model entities:entities-version="2024.1.0">
      <instance>
        <data id="{FORM_ID}" version="1">
          <status/><remaining_m2/><team/><photo/>
          <meta><instanceID/>
            <entity dataset="{LIST}" id="" create="1" update="1" baseVersion=""><label/></entity>
          </meta>
        </data>
      </instance>
      <bind nodeset="/data/status" type="string" entities:saveto="status"/>
      <bind nodeset="/data/remaining_m2" type="int" entities:saveto="remaining_m2"/>
      <bind nodeset="/data/team" type="string" entities:saveto="team"/>
      <bind nodeset="/data/photo" type="binary"/>
      <bind nodeset="/data/meta/instanceID" type="string" readonly="true()" jr:preload="uid"/>
    </model>
  </h:head>
  <h:body><input ref="/data/status"><label>Status</label></input></h:body>
</h:html>
"""


PHOTO = "site.jpg"
PASSWORD = "scale-out coordinator passphrase"


def report_xml(
    instance_id: str, area: str, *, create: bool, team: str, remaining: int, photo: bool = False
) -> bytes:
    """A device's report on a hazard area: the first one creates it, later ones update it."""
    flags = 'create="1"' if create else 'update="1"'
    return (
        f'<?xml version="1.0"?><data id="{FORM_ID}" version="1">'
        f"<status>suspected</status><remaining_m2>{remaining}</remaining_m2><team>{team}</team>"
        f"<photo>{PHOTO if photo else ''}</photo>"
        f"<meta><instanceID>{instance_id}</instanceID>"
        f'<entity dataset="{LIST}" id="{area}" {flags}><label>Area {area[:8]}</label></entity>'
        "</meta></data>"
    ).encode()


def multipart(xml: bytes, photo: bytes | None = None) -> bytes:
    body = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
        'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'
    ).encode() + xml
    if photo is not None:
        body += (
            f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="{PHOTO}"; '
            f'filename="{PHOTO}"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode() + photo
    return body + f"\r\n--{BOUNDARY}--\r\n".encode()


@dataclass
class Cluster:
    database_url: str
    data_dirs: list[Path]  # one per host; host 0's also set the cluster up
    env: dict[str, str]
    base_path: str
    project_id: int
    token: str  # a site administrator's, for the REST API
    ports: list[int] = field(default_factory=list)


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(SERVER), *args], env=env, capture_output=True, text=True, check=False, input=stdin
    )
    if done.returncode != 0:
        raise RuntimeError(f"fieldsync-server {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError("a server exited during start-up")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("a server did not answer /healthz in time")


@contextmanager
def cluster(server_url: str, hosts: int, workers: int, threads: int = 4) -> Iterator[Cluster]:
    """A scratch database and ``hosts`` servers on it, each with its own data directory, blobs
    in the database; everything is stopped and removed at the end."""
    url, name = create_scratch_database(server_url, "fieldsync_scale")
    work = Path(tempfile.mkdtemp(prefix="fieldsync-scale-"))
    data_dirs = [work / f"host-{n}" for n in range(hosts)]
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "FIELDSYNC_DATA_DIR": str(data_dirs[0]),
        "FIELDSYNC_BLOB_STORE": "database",
        "SECRET_KEY": uuid.uuid4().hex,
        "FIELDSYNC_ENV": "production",
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        _cli(env, "init", "--no-forms")
        (work / "form.xml").write_text(FORM)
        _cli(env, "forms", "publish", str(work / "form.xml"))
        device_url = _cli(env, "app-user", "create", "scale devices").strip().splitlines()[-1]
        base_path = "/" + device_url.split("://", 1)[1].split("/", 1)[1]
        _cli(env, "user", "create", "scale@example.org", "--site-admin", stdin=PASSWORD + "\n")
        found = Cluster(url, data_dirs, env, base_path, int(base_path.split("/")[-1]), "")
        for data_dir in data_dirs:
            port = _free_port()
            command = [str(SERVER), "run", "--port", str(port), "--threads", str(threads)]
            command += ["--workers", str(workers)] if workers else []
            processes.append(
                subprocess.Popen(
                    command,
                    env={**env, "FIELDSYNC_DATA_DIR": str(data_dir)},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.STDOUT,
                )
            )
            _wait(port, processes[-1])
            found.ports.append(port)
        found.token = _login(found.ports[0])
        yield found
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        drop_scratch_database(server_url, name)
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def _login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"email": "scale@example.org", "password": PASSWORD})
    conn.request("POST", "/v1/sessions", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    answer = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"logging in: {response.status} {answer[:200]!r}")
    return str(json.loads(answer)["token"])


@dataclass
class LoadResult:
    acked: list[str]  # instanceIDs answered 201
    failures: list[str]
    seconds: float
    # (instanceID, the photo's SHA-256, the index of the host that took it) for reports with one
    photos: list[tuple[str, str, int]] = field(default_factory=list)


def run_load(
    found: Cluster, devices_per_host: int, reports_per_device: int, areas: int, seed: int = 17
) -> LoadResult:
    """Every device first creates one of the ``areas`` hazard areas (several devices create the
    same one, on different hosts), then updates areas chosen at random; every fourth report
    carries a photo. Every area is created by at least one device, so no update waits for ever
    for its entity.

    Raises:
        ValueError: more areas than devices.
    """
    if areas > devices_per_host * len(found.ports):
        raise ValueError("every area needs a device that creates it: more devices or fewer areas")
    area_ids = [str(uuid.UUID(int=random.Random(seed + i).getrandbits(128))) for i in range(areas)]
    acked: list[str] = []
    failures: list[str] = []
    photos: list[tuple[str, str, int]] = []
    lock = threading.Lock()

    def device(host: int, port: int, number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {
            "X-OpenRosa-Version": "1.0",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        }
        for i in range(reports_per_device):
            instance_id = f"uuid:{uuid.UUID(int=rng.getrandbits(128))}"
            area = area_ids[number % areas] if i == 0 else rng.choice(area_ids)
            photo = rng.randbytes(24 * 1024) if i % 4 == 1 else None
            body = multipart(
                report_xml(
                    instance_id,
                    area,
                    create=i == 0,
                    team=f"team {number}",
                    remaining=rng.randrange(0, 50_000),
                    photo=photo is not None,
                ),
                photo,
            )
            conn.request("POST", f"{found.base_path}/submission", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            with lock:
                if response.status == 201:
                    acked.append(instance_id)
                    if photo is not None:
                        photos.append((instance_id, hashlib.sha256(photo).hexdigest(), host))
                else:
                    failures.append(f"{response.status}: {answer[:200]!r}")
        conn.close()

    threads = [
        threading.Thread(target=device, args=(h, port, h * devices_per_host + d))
        for h, port in enumerate(found.ports)
        for d in range(devices_per_host)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(acked, failures, time.perf_counter() - started, photos)


def check_invariants(found: Cluster, load: LoadResult) -> list[str]:
    """What a single server guarantees, checked on the shared database: no duplicate, no lost
    update, gap-free versions, and the merged state and conflicts a single server computes when
    the same reports arrive in the same order. Returns the violations (empty when none)."""
    problems: list[str] = []
    engine = create_engine(found.database_url)
    with engine.connect() as conn:
        stored = list(conn.execute(text("SELECT instance_id FROM submission_versions")).scalars())
        versions = conn.execute(
            text(
                "SELECT e.uuid, v.version, v.update_id, e.current_version FROM entity_versions v "
                "JOIN entities e ON e.id = v.entity_id ORDER BY e.uuid, v.version"
            )
        ).all()
        xml_of = dict(
            tuple(r) for r in conn.execute(text("SELECT instance_id, xml FROM submission_versions"))
        )
        state = _entity_state(conn)
        inbox = dict(
            (row[0], row[1])
            for row in conn.execute(text("SELECT update_id, status FROM entity_inbox"))
        )
    engine.dispose()
    if len(stored) != len(set(stored)):
        problems.append(f"duplicate submissions: {len(stored) - len(set(stored))}")
    if set(stored) != set(load.acked) or len(stored) != len(load.acked):
        problems.append(f"{len(load.acked)} acknowledged but {len(stored)} stored")
    applied: dict[str, int] = defaultdict(int)
    by_entity: dict[str, list[int]] = defaultdict(list)
    current: dict[str, int] = {}
    for entity_uuid, version, update_id, current_version in versions:
        applied[update_id] += 1
        by_entity[entity_uuid].append(version)
        current[entity_uuid] = current_version
    # An update that changes nothing is applied without a new version (a duplicate): every
    # acknowledged report must be applied, and in at most one version.
    lost = [i for i in load.acked if inbox.get(i) != "applied"]
    twice = [i for i, n in applied.items() if n > 1]
    if lost:
        problems.append(f"lost updates (acknowledged, not applied): {len(lost)}")
    if twice:
        problems.append(f"updates applied more than once: {len(twice)}")
    for entity_uuid, numbers in by_entity.items():
        if numbers != list(range(1, current[entity_uuid] + 1)):
            problems.append(f"versions of {entity_uuid} are not 1..{current[entity_uuid]}")
    problems += _photos_from_other_hosts(found, load)
    order = [update_id for _u, _v, update_id, _c in versions]
    single = _single_server_state(found, [xml_of[i].encode() for i in order])
    if single != state:
        differing = sorted(k for k in set(single) | set(state) if single.get(k) != state.get(k))
        problems.append(f"merged state differs from a single server's for {differing[:5]}")
    return problems


def _photos_from_other_hosts(found: Cluster, load: LoadResult) -> list[str]:
    """Every acknowledged photo, downloaded through the REST API from the next host (its own
    data directory: it reads the photo from the database), must be the bytes sent."""
    wrong: list[str] = []
    connections: dict[int, http.client.HTTPConnection] = {}
    headers = {"Authorization": f"Bearer {found.token}"}
    for instance_id, sha256, host in load.photos:
        port = found.ports[(host + 1) % len(found.ports)]
        conn = connections.setdefault(
            port, http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        )
        path = (
            f"/v1/projects/{found.project_id}/forms/{FORM_ID}/submissions/{instance_id}"
            f"/attachments/{PHOTO}"
        )
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status != 200 or hashlib.sha256(data).hexdigest() != sha256:
            wrong.append(instance_id)
    for conn in connections.values():
        conn.close()
    if not load.photos:
        return ["no photo was acknowledged"]
    if wrong:
        return [f"photos not served byte-identical by another host: {len(wrong)}"]
    return []


def _entity_state(conn: Any) -> dict[str, Any]:
    entities = conn.execute(
        text("SELECT id, uuid, label, values, conflict, current_version FROM entities")
    ).all()
    conflicts: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for entity_id, key, status in conn.execute(
        text("SELECT entity_id, conflict_key, status FROM entity_conflicts")
    ):
        conflicts[entity_id].append((key, status))
    return {
        str(uuid_): (
            label,
            _json(values),
            conflict,
            current_version,
            sorted(conflicts.get(entity_id, [])),
        )
        for entity_id, uuid_, label, values, conflict, current_version in entities
    }


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


def _single_server_state(found: Cluster, reports: list[bytes]) -> dict[str, Any]:
    """The same reports, in the order the cluster applied them, through one in-process server
    on a fresh database."""
    from server.accounts import service as accounts
    from server.db import transaction
    from server.forms import service as forms
    from server.intake.service import submission_arrives
    from server.migrate import upgrade
    from server.projects import service as projects
    from server.runtime import make_runtime
    from server.settings import Settings
    from server.submissions.service import Submitter

    server_url = found.database_url
    url, name = create_scratch_database(server_url, "fieldsync_single")
    data_dir = Path(tempfile.mkdtemp(prefix="fieldsync-single-"))
    try:
        runtime = make_runtime(
            Settings(data_dir=data_dir, database_url=url, secret_key="x", environment="test")
        )
        upgrade(runtime.engine)
        with transaction(runtime.session_factory) as session:
            project = projects.create_project(session, "single")
            forms.publish(
                session, runtime.blobs, project, "form.xml", FORM.encode(), max_bytes=10**7
            )
            device = accounts.create_app_user(session, project, "single").app_user
        for xml in reports:
            with transaction(runtime.session_factory) as session:
                submission_arrives(session, project, xml, (), Submitter(app_user_id=device.id))
        with runtime.engine.connect() as conn:
            state = _entity_state(conn)
        runtime.engine.dispose()
        return state
    finally:
        drop_scratch_database(server_url, name)
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)
