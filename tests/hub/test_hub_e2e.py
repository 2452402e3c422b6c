"""A central server and a field hub as two processes, tablets talking only to the hub.

The centre is the app served on loopback by this test process; the hub is `fieldsync hub`
in a process of its own, as on a coordinator's laptop; `fieldsync sync` runs as a third.
"""

from __future__ import annotations

import csv
import io
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from server.accounts.models import Role
from server.submissions.models import Submission, SubmissionVersion
from tests.conftest import LiveServer, free_port
from tests.entities.builders import Filled
from tests.entities.conftest import Field
from tests.entities.test_entity_service import clearance, new_area
from tests.factories import DEFAULT_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
OPENROSA = {"X-OpenRosa-Version": "1.0"}


def fieldsync(
    home: Path, *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIELDSYNC_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "sync_client.cli", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Hub:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.output = home.parent / f"hub-{self.port}.out"

    def printed(self) -> str:
        """What the hub printed on standard output so far."""
        return self.output.read_text() if self.output.exists() else ""

    def warnings(self) -> str:
        """What the hub printed on standard error (after it stopped)."""
        assert self.process is not None and self.process.stderr is not None
        return self.process.stderr.read().decode()

    def start(self, *extra: str) -> None:
        env = {**os.environ, "FIELDSYNC_HOME": str(self.home)}
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sync_client.cli",
                "hub",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--url",
                self.url,
                *extra,
            ],
            env=env,
            cwd=ROOT,
            stdout=self.output.open("ab"),
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.url}/healthz", timeout=1)
                return
            except requests.ConnectionError:
                if self.process.poll() is not None:
                    raise AssertionError(
                        self.process.stderr.read().decode()  # type: ignore[union-attr]
                    ) from None
                time.sleep(0.2)
        raise AssertionError("the hub did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def add_device(self, name: str) -> Tablet:
        result = fieldsync(self.home, "hub", "add-device", name, "--url", self.url)
        assert result.returncode == 0, result.stderr
        return Tablet(result.stdout.strip().splitlines()[-1])


class Tablet:
    def __init__(self, base: str) -> None:
        assert "/v1/key/" in base
        self.base = base
        self.http = requests.Session()
        self.http.headers.update(OPENROSA)

    def form_ids(self) -> set[str]:
        response = self.http.get(f"{self.base}/formList", timeout=10)
        assert response.status_code == 200
        return {part.split("</formID>")[0] for part in response.text.split("<formID>")[1:]}

    def hazard_areas(self) -> dict[str, dict[str, str]]:
        response = self.http.get(f"{self.base}/forms/clearance_report/manifest", timeout=10)
        assert response.status_code == 200
        entry = response.text.split("<filename>hazard_areas.csv</filename>")[1]
        url = entry.split("<downloadUrl>")[1].split("</downloadUrl>")[0]
        data = self.http.get(url.replace("&amp;", "&"), timeout=30)
        assert data.status_code == 200, (url, data.text)
        return {r["name"]: r for r in csv.DictReader(io.StringIO(data.text))}

    def submit(self, filled: Filled) -> int:
        return self.http.post(
            f"{self.base}/submission",
            files={"xml_submission_file": ("submission.xml", filled.xml(), "text/xml")},
            timeout=30,
        ).status_code


@pytest.fixture
def laptop(field: Field, live_server: LiveServer, tmp_path: Path) -> Iterator[Hub]:
    coordinator = field.factories.user(
        field.project, Role.COORDINATOR, email="coordinator@example.org"
    )
    home = tmp_path / "laptop"
    login = fieldsync(
        home,
        "login",
        live_server.url,
        "--email",
        coordinator.email,
        "--project",
        str(field.project.id),
        stdin=DEFAULT_PASSWORD + "\n",
    )
    assert login.returncode == 0, login.stderr
    hub = Hub(home)
    yield hub
    hub.stop()


def centre_versions(field: Field) -> list[SubmissionVersion]:
    with field.factories.session() as session:
        return list(session.scalars(select(SubmissionVersion).order_by(SubmissionVersion.id)))


def test_tablets_work_through_the_hub_and_the_centre_stays_authoritative(
    field: Field, live_server: LiveServer, laptop: Hub
) -> None:
    # A hazard area already known at the centre before the coordinator leaves.
    known = str(uuid.uuid4())
    field.receive(new_area(field, known))
    pulled = fieldsync(laptop.home, "pull")
    assert pulled.returncode == 0, pulled.stderr
    laptop.start()
    team1 = laptop.add_device("team 1 tablet")
    team2 = laptop.add_device("team 2 tablet")

    # Tablets download forms and the entity list from the hub.
    assert {"hazard_report", "clearance_report", "eore_session"} <= team1.form_ids()
    assert team1.hazard_areas()[known]["__version"] == "1"

    # Team 1 submits three reports, one of them updating the known hazard area.
    created = str(uuid.uuid4())
    reports = [
        clearance(
            field,
            known,
            1,
            status="in_clearance",
            cleared_area_m2="2000",
            remaining_area_m2="10000",
            date="2026-11-21",
        ),
        new_area(field, created, ha_code="HA-0200", admin_area="Phonsavan / Ban Na"),
        _plain(field, "eore_session"),
    ]
    for report in reports:
        assert team1.submit(report) == 201

    # Team 2's next download from the hub already shows team 1's update.
    seen = team2.hazard_areas()
    assert seen[known]["status"] == "in_clearance"
    assert seen[known]["cleared_area_m2"] == "2000"
    assert created in seen
    # ...and team 2 builds on it (a report based on the hub's provisional version).
    later = clearance(
        field,
        known,
        int(seen[known]["__version"]),
        status="in_clearance",
        cleared_area_m2="5000",
        remaining_area_m2="7000",
        date="2026-11-22",
    )
    assert team2.submit(later) == 201
    assert len(centre_versions(field)) == 1  # only the report made before the trip

    # The coordinator syncs: everything reaches the centre, once, with its provenance.
    synced = fieldsync(laptop.home, "sync")
    assert synced.returncode == 0, synced.stdout + synced.stderr
    received = {v.instance_id: v for v in centre_versions(field)}
    for report in [*reports, later]:
        assert report.instance_id in received
    hops = received[later.instance_id].provenance
    assert [h["hop"] for h in hops] == ["device", "hub", "server"]
    assert hops[0]["app_user"] == "team 2 tablet"
    assert all(h.get("received_at") for h in hops)

    # The centre merged team 2's report on top of team 1's: no conflict, totals right.
    entity = field.entity(known)
    assert entity.values["cleared_area_m2"] == "5000"
    assert entity.values["remaining_area_m2"] == "7000"
    assert entity.current_version == 3
    assert [c for c in field.open_conflicts(known) if c.requires_review] == []

    # A change made at the centre reaches the tablets through the hub.
    coordinator = field.factories.logged_in(field.project, Role.COORDINATOR)
    edited = requests.patch(
        f"{live_server.url}/api/v1/projects/{field.project.id}/entity-lists/hazard_areas/"
        f"entities/{created}",
        json={"base_version": 1, "values": {"priority": "low"}},
        headers=coordinator.headers,
        timeout=10,
    )
    assert edited.status_code == 200
    assert fieldsync(laptop.home, "sync").returncode == 0
    after = team1.hazard_areas()
    assert after[created]["priority"] == "low"
    assert after[known]["__version"] == "3"
    assert after[known]["cleared_area_m2"] == "5000"


def _plain(field: Field, form_id: str) -> Filled:
    """A report without an entity block (risk education session)."""

    class Plain(Filled):
        def xml(self) -> bytes:
            return (
                f'<?xml version="1.0"?><data id="{form_id}" version="{self.form.version}">'
                f"<date_of_information>2026-11-21</date_of_information>"
                f"<meta><instanceID>{self.instance_id}</instanceID></meta></data>"
            ).encode()

    return Plain(form_id=form_id, form=field.forms[form_id])


def test_killing_the_hub_and_the_sync_loses_and_duplicates_nothing(
    field: Field, live_server: LiveServer, laptop: Hub
) -> None:
    assert fieldsync(laptop.home, "pull").returncode == 0
    laptop.start()
    tablet = laptop.add_device("tablet")
    reports = [_plain(field, "eore_session") for _ in range(12)]
    for report in reports[:6]:
        assert tablet.submit(report) == 201
    # The hub dies (battery) and comes back.
    laptop.kill()
    laptop.start()
    for report in reports[6:]:
        assert tablet.submit(report) == 201
    rng = random.Random(7)
    env = {**os.environ, "FIELDSYNC_HOME": str(laptop.home)}
    for _attempt in range(3):
        # A sync killed at a random moment.
        proc = subprocess.Popen(
            [sys.executable, "-m", "sync_client.cli", "sync"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    final = fieldsync(laptop.home, "sync")
    assert final.returncode == 0, final.stdout + final.stderr
    with field.factories.session() as session:
        stored = session.scalar(select(func.count()).select_from(Submission))
        ids = list(session.scalars(select(SubmissionVersion.instance_id)))
    assert stored == len(reports)
    assert sorted(ids) == sorted(r.instance_id for r in reports)
    status = fieldsync(laptop.home, "status")
    assert "pending:     0 submissions" in status.stdout
    assert f"sent:        {len(reports)} submissions" in status.stdout


def test_hub_identity_is_scoped_and_revocable(
    field: Field, live_server: LiveServer, laptop: Hub
) -> None:
    other = field.factories.project("Another coalition")
    from tests.factories import Factories

    factories: Factories = field.factories
    factories.publish_library(other)
    # The hub's login has no role in the other project: the centre refuses to take forms
    # for it from this hub.
    token = _token(laptop.home)
    refused = requests.post(
        f"{live_server.url}/api/v1/sync/push",
        json={"project_id": other.id, "items": []},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    assert refused.status_code == 404

    # Revoked at the centre: the hub's next sync fails with an authentication error.
    admin = factories.user(site_admin=True)
    admin_login = factories.login(admin)
    revoked = requests.delete(
        f"{live_server.url}/api/v1/users/coordinator@example.org/sessions",
        headers=admin_login.headers,
        timeout=10,
    )
    assert revoked.status_code == 204
    result = fieldsync(laptop.home, "sync")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "login" in result.stderr


def _token(home: Path) -> str:
    import json

    for path in home.rglob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (ValueError, OSError):
            continue
        if isinstance(data, dict) and data.get("token"):
            return str(data["token"])
    raise AssertionError("no stored token")


def _wait_for(hub: Hub, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        printed = hub.printed()
        if text in printed:
            return printed
        time.sleep(0.2)
    raise AssertionError(f"the hub never printed {text!r}:\n{hub.printed()}")


def test_the_hub_reports_each_tablet_event_and_a_summary(
    field: Field, live_server: LiveServer, laptop: Hub
) -> None:
    # Nothing pulled yet: the hub says what to do instead of serving an empty form list.
    laptop.start()
    laptop.stop()
    first = laptop.warnings()
    assert "nothing was pulled from the centre yet" in first
    assert "fieldsync pull" in first
    # Bound to loopback: no tablet can reach it, and it says how to fix that.
    assert "no tablet can reach it" in first

    assert fieldsync(laptop.home, "pull").returncode == 0
    laptop.start("--summary-every", "2")
    tablet = laptop.add_device("team 3 tablet")
    assert "eore_session" in tablet.form_ids()
    form = tablet.http.get(f"{tablet.base}/forms/eore_session.xml", timeout=10)
    assert form.status_code == 200
    report = _plain(field, "eore_session")
    assert tablet.submit(report) == 201
    printed = _wait_for(laptop, "sent form eore_session")
    lines = printed.splitlines()
    assert any("tablet 'team 3 tablet' checked the form list" in line for line in lines)
    [download] = [line for line in lines if "downloaded form eore_session" in line]
    assert "tablet 'team 3 tablet'" in download
    assert re.search(r"\(\d+(\.\d)? (B|KB)\)$", download), download
    [sent] = [line for line in lines if "sent form eore_session" in line]
    assert "tablet 'team 3 tablet' sent form eore_session (" in sent
    # The form's answers never reach the hub's output.
    assert "2026-11-21" not in printed
    summary = _wait_for(laptop, "; 1 received since the hub started")
    lines = [s for s in summary.splitlines() if "received since the hub started" in s]
    assert any("1 form received" in s and "by 1 tablet" in s for s in lines), lines
    laptop.stop()
    assert "nothing was pulled" not in laptop.warnings()


def test_nobody_logged_in_and_loopback_addresses_are_explained(tmp_path: Path) -> None:
    hub = Hub(tmp_path / "fresh")
    hub.start()
    hub.stop()
    warnings = hub.warnings()
    assert "nobody is logged in on this laptop" in warnings
    assert "fieldsync login URL" in warnings
    assert "127.0.0.1 (loopback) is this laptop only: no tablet can reach it" in warnings
    assert "fieldsync hub --host 0.0.0.0" in warnings

    added = fieldsync(hub.home, "hub", "add-device", "tab", "--url", hub.url)
    assert added.returncode == 0, added.stderr
    assert "no tablet can reach it" in added.stderr
    assert "--url http://ADDRESS:PORT" in added.stderr
    assert added.stdout.strip().splitlines()[-1].startswith(f"{hub.url}/v1/key/")


def test_add_device_checks_the_png_path_before_issuing_a_token(tmp_path: Path) -> None:
    home = tmp_path / "laptop"
    url = "http://192.0.2.10:8765"
    for bad in (tmp_path / "missing" / "qr.png", tmp_path):
        result = fieldsync(home, "hub", "add-device", "tab", "--url", url, "--png", str(bad))
        assert result.returncode == 2, result.stdout + result.stderr
        assert "unexpected system error" not in result.stderr
        assert "/v1/key/" not in result.stdout
    assert "no device was added" in result.stderr or "is a folder" in result.stderr
    assert fieldsync(home, "hub", "devices").stdout.strip() == ""

    png = tmp_path / "qr.png"
    done = fieldsync(home, "hub", "add-device", "tab", "--url", url, "--png", str(png))
    assert done.returncode == 0, done.stderr
    assert png.read_bytes().startswith(b"\x89PNG")
    assert done.stdout.strip().splitlines()[-1].startswith(f"{url}/v1/key/")
    [device] = fieldsync(home, "hub", "devices").stdout.strip().splitlines()
    assert device.endswith("\ttab\tactive")


def test_add_device_for_a_form_the_hub_does_not_serve_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "laptop"
    url = "http://192.0.2.10:8765"
    result = fieldsync(home, "hub", "add-device", "tab", "--url", url, "--form", "no_such_form")
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "no_such_form" in line, line
    assert "internal error" not in line and "Problem" not in line
    assert fieldsync(home, "hub", "devices").stdout.strip() == ""
