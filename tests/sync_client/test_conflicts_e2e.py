"""Conflicts end to end through the client: two teams' offline edits of one hazard area are
imported and pushed, the conflict shows up after a pull and in ``fieldsync conflicts``, a
coordinator resolves it, the resolution syncs up, and the next pull closes it locally."""

from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import select

from server.forms.models import Form, FormVersion
from sync_client.store import STORE_NAME
from tests.entities.conftest import Field
from tests.entities.test_entity_service import new_area, survey_update
from tests.factories import DEFAULT_PASSWORD, Factories
from tests.sync_client.conftest import Fieldsync

pytestmark = pytest.mark.e2e


def write_filled(instances: Path, name: str, xml: bytes) -> None:
    folder = instances / name
    folder.mkdir(parents=True)
    (folder / f"{name}.xml").write_bytes(xml)


def local_conflicts(home: Path) -> dict[str, tuple[str, str]]:
    """conflict key -> (state, kind), as the last pull left them."""
    with closing(sqlite3.connect(home / STORE_NAME)) as conn:
        rows = conn.execute("SELECT conflict_id, state, data FROM conflicts").fetchall()
    return {key: (state, json.loads(data)["kind"]) for key, state, data in rows}


def test_conflict_listed_resolved_and_synced(
    factories: Factories, live_server: object, tmp_path: Path
) -> None:
    project = factories.project("Coalition")
    factories.publish_library(project)
    with factories.session() as session:
        rows = session.execute(
            select(Form.xml_form_id, FormVersion)
            .join(FormVersion, FormVersion.form_id == Form.id)
            .where(Form.project_id == project.id)
        ).all()
    field = Field(factories, project, {form_id: version for form_id, version in rows})
    coordinator = factories.user(project, "coordinator")
    url = live_server.url  # type: ignore[attr-defined]

    fieldsync = Fieldsync(tmp_path / "laptop")
    login = fieldsync("login", url, "--email", coordinator.email, input=DEFAULT_PASSWORD + "\n")
    assert login.returncode == 0, login.stderr

    ha = str(uuid.uuid4())
    instances = tmp_path / "instances"
    write_filled(instances, "hazard_report_1", new_area(field, ha).xml())
    first = fieldsync("import", str(instances))
    assert "imported 1 forms" in first.stdout
    assert fieldsync("push").returncode == 0
    # Two teams surveyed the area offline from version 1 and disagree on its priority.
    write_filled(instances, "hazard_report_2", survey_update(field, ha, 1, priority="medium").xml())
    write_filled(
        instances,
        "hazard_report_3",
        survey_update(field, ha, 1, priority="low", date="2026-11-12").xml(),
    )
    assert "imported 2 forms" in fieldsync("import", str(instances)).stdout
    synced = fieldsync("sync")
    assert synced.returncode == 0, synced.stderr
    [hard] = [k for k, (state, kind) in local_conflicts(fieldsync.home).items() if kind == "hard"]
    assert local_conflicts(fieldsync.home)[hard][0] == "open"
    assert "conflicts:   1 open needing review" in fieldsync("status").stdout

    listed = fieldsync("conflicts")
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.strip().splitlines()
    assert f"hazard_areas/{ha}" in line
    assert "property priority" in line
    conflict_id = line.split()[0]

    queued = fieldsync(
        "conflicts",
        "resolve",
        conflict_id,
        "--value",
        "priority=medium",
        "--reason",
        "team leader confirmed by radio",
    )
    assert queued.returncode == 0, queued.stderr
    pushed = fieldsync("push")
    assert pushed.returncode == 0, pushed.stderr
    assert "1 resolutions sent" in pushed.stdout
    assert fieldsync("conflicts").stdout.strip() == "no open conflicts"
    assert field.entity(ha).values["priority"] == "medium"

    assert fieldsync("pull").returncode == 0
    assert local_conflicts(fieldsync.home)[hard] == ("closed", "hard")
    assert "conflicts:   0 open needing review" in fieldsync("status").stdout
    with closing(sqlite3.connect(fieldsync.home / STORE_NAME)) as conn:
        [(data,)] = conn.execute(
            "SELECT data FROM entities WHERE list_name = 'hazard_areas' AND uuid = ?", (ha,)
        ).fetchall()
    assert '"priority": "medium"' in data
