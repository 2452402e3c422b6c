"""The classic shared-record cases replayed end to end over HTTP, the way ODK Collect and a
coordinator's browser or script drive a running server."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import pytest
import requests
from lxml import etree

from server.accounts.models import Role
from tests.conftest import LiveServer
from tests.entities.builders import Filled
from tests.entities.conftest import Field
from tests.entities.test_entity_service import AREA, clearance, new_area, survey_update
from tests.factories import Device, LoggedIn

OPENROSA = {"X-OpenRosa-Version": "1.0"}
MANIFEST_NS = {"m": "http://openrosa.org/xforms/xformsManifest"}


class Tablet:
    """What ODK Collect does over HTTP, with an app-user token in the server URL."""

    def __init__(self, server: LiveServer, device: Device) -> None:
        self.base = f"{server.url}{device.base_path}"
        self.http = requests.Session()
        self.http.headers.update(OPENROSA)

    def manifest(self, form_id: str) -> dict[str, dict[str, str]]:
        response = self.http.get(f"{self.base}/forms/{form_id}/manifest", timeout=10)
        assert response.status_code == 200
        root = etree.fromstring(response.content)
        files = {}
        for media in root.findall("m:mediaFile", MANIFEST_NS):
            files[media.findtext("m:filename", namespaces=MANIFEST_NS) or ""] = {
                "hash": media.findtext("m:hash", namespaces=MANIFEST_NS) or "",
                "url": media.findtext("m:downloadUrl", namespaces=MANIFEST_NS) or "",
                "type": media.get("type", ""),
            }
        return files

    def hazard_areas(self, form_id: str = "clearance_report") -> dict[str, dict[str, str]]:
        entry = self.manifest(form_id)["hazard_areas.csv"]
        assert entry["type"] == "entityList"
        response = self.http.get(entry["url"], timeout=30)
        assert response.status_code == 200
        return {row["name"]: row for row in csv.DictReader(io.StringIO(response.text))}

    def submit(self, filled: Filled) -> requests.Response:
        self.http.head(f"{self.base}/submission", timeout=10)
        return self.http.post(
            f"{self.base}/submission",
            files={"xml_submission_file": ("submission.xml", filled.xml(), "text/xml")},
            timeout=30,
        )


@pytest.fixture
def tablets(field: Field, live_server: LiveServer) -> tuple[Tablet, Tablet]:
    return (
        Tablet(live_server, field.factories.device(field.project, "team 1")),
        Tablet(live_server, field.factories.device(field.project, "team 2")),
    )


@pytest.fixture
def coordinator(field: Field, live_server: LiveServer) -> Any:
    who: LoggedIn = field.factories.logged_in(field.project, Role.COORDINATOR)
    http = requests.Session()
    http.headers.update(who.headers)
    http.base = f"{live_server.url}/api/v1/projects/{field.project.id}"  # type: ignore[attr-defined]
    return http


def test_classic_cases_over_http(
    field: Field, tablets: tuple[Tablet, Tablet], coordinator: Any
) -> None:
    team1, team2 = tablets
    api = coordinator.base
    before = team2.manifest("clearance_report")["hazard_areas.csv"]["hash"]

    # Team 1 records a new hazard area; team 2's next download has it.
    ha = str(uuid.uuid4())
    assert team1.submit(new_area(field, ha)).status_code == 201
    after = team2.manifest("clearance_report")["hazard_areas.csv"]["hash"]
    assert after != before
    row = team2.hazard_areas()[ha]
    assert (row["__version"], row["status"], row["label"]) == (
        "1",
        "suspected",
        "HA-0145 Xieng Khouang / Phonsavan",
    )
    assert team2.manifest("clearance_report")["hazard_areas.csv"]["hash"] == after

    # Two teams update different properties from the same download: both apply.
    assert team1.submit(survey_update(field, ha, 1, priority="medium")).status_code == 201
    assert team2.submit(survey_update(field, ha, 1, village="Ban Na")).status_code == 201
    row = team1.hazard_areas()[ha]
    assert (row["priority"], row["village"], row["__version"]) == ("medium", "Ban Na", "3")

    # Two teams update the same property from the same download: a hard conflict.
    current = {k: row[k] for k in row if k in AREA}
    assert (
        team1.submit(
            survey_update(field, ha, 3, **{**current, "priority": "low"}, date="2026-11-12")
        ).status_code
        == 201
    )
    assert (
        team2.submit(
            survey_update(field, ha, 3, **{**current, "priority": "high"}, date="2026-11-11")
        ).status_code
        == 201
    )
    open_conflicts = coordinator.get(f"{api}/conflicts?entity={ha}", timeout=10).json()
    assert [c["property"] for c in open_conflicts] == ["priority"]
    assert team1.hazard_areas()[ha]["priority"] == "low"  # later date of information

    # The coordinator resolves it; the resolution reaches devices in the next download.
    resolution = coordinator.post(
        f"{api}/conflicts/{open_conflicts[0]['id']}/resolution",
        json={"values": {"priority": "high"}, "reason": "school next to it: high"},
        timeout=10,
    )
    assert resolution.status_code == 200
    row = team1.hazard_areas()[ha]
    assert row["priority"] == "high"
    assert coordinator.get(f"{api}/conflicts?entity={ha}", timeout=10).json() == []

    # Clearance, then a stale tablet that never saw it: the area stays cleared.
    version = int(row["__version"])
    assert (
        team1.submit(
            clearance(
                field, ha, version, status="cleared", remaining_area_m2="0", cleared_area_m2="12000"
            )
        ).status_code
        == 201
    )
    stale = survey_update(
        field, ha, 3, **{**current, "status": "confirmed", "priority": "low"}, date="2026-11-28"
    )
    assert team2.submit(stale).status_code == 201
    row = team2.hazard_areas()[ha]
    assert row["status"] == "cleared"
    held = coordinator.get(f"{api}/conflicts?entity={ha}", timeout=10).json()
    assert any(stale.instance_id in {v["update_id"] for v in c["incoming"]} for c in held)

    # The same submission twice: 201 both times, one version.
    again = clearance(
        field,
        ha,
        int(row["__version"]),
        status="handed_over",
        remaining_area_m2="0",
        cleared_area_m2="12000",
    )
    assert team1.submit(again).status_code == 201
    assert team1.submit(again).status_code == 201
    versions = coordinator.get(
        f"{api}/entity-lists/hazard_areas/entities/{ha}/versions", timeout=10
    ).json()
    assert [v["update_id"] for v in versions].count(again.instance_id) == 1

    # A reopen, on purpose and with a reason, is the only way back.
    reopened = coordinator.post(
        f"{api}/entity-lists/hazard_areas/entities/{ha}/reopen",
        json={"status": "suspected", "reason": "BLU-26 reported next to the school"},
        timeout=10,
    )
    assert reopened.status_code == 200
    assert team2.hazard_areas()[ha]["status"] == "suspected"


def test_offline_chain_in_reverse_order_over_http(
    field: Field, tablets: tuple[Tablet, Tablet], coordinator: Any
) -> None:
    team1, _team2 = tablets
    ha = str(uuid.uuid4())
    assert team1.submit(new_area(field, ha)).status_code == 201
    branch = str(uuid.uuid4())
    chain = [
        clearance(
            field,
            ha,
            1 + i,
            trunk=1,
            branch=branch,
            cleared_area_m2=str(1000 * (i + 1)),
            remaining_area_m2=str(12000 - 1000 * (i + 1)),
            date=f"2026-11-1{i + 1}",
        )
        for i in range(3)
    ]
    for filled in reversed(chain):
        assert team1.submit(filled).status_code == 201
    row = team1.hazard_areas()[ha]
    assert (row["__version"], row["cleared_area_m2"], row["remaining_area_m2"]) == (
        "4",
        "3000",
        "9000",
    )
    backlog = coordinator.get(f"{coordinator.base}/entity-backlog", timeout=10).json()
    assert backlog == []


def test_concurrent_reports_on_one_area_serialise_into_gap_free_versions(
    field: Field, tablets: tuple[Tablet, Tablet], coordinator: Any
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    team1, team2 = tablets
    ha = str(uuid.uuid4())
    assert team1.submit(new_area(field, ha)).status_code == 201
    reports = [
        clearance(field, ha, 1, cleared_area_m2=str(100 * (i + 1)), date=f"2026-11-{10 + i}")
        for i in range(8)
    ]
    # Every report sent twice at the same time, by two tablets' connections.
    jobs = [(team1 if i % 2 else team2, r) for i, r in enumerate(reports)] * 2
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda job: job[0].submit(job[1]).status_code, jobs))
    assert statuses == [201] * len(jobs)
    versions = coordinator.get(
        f"{coordinator.base}/entity-lists/hazard_areas/entities/{ha}/versions", timeout=10
    ).json()
    assert [v["version"] for v in versions] == list(range(1, 10))
    assert sorted(v["update_id"] for v in versions[1:]) == sorted(r.instance_id for r in reports)
    # The running total is the largest report, whatever the order they were applied in.
    assert team1.hazard_areas()[ha]["cleared_area_m2"] == "800"
