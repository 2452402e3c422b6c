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
    assert "imported 1 form " in first.stdout
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
    line, *sent = listed.stdout.strip().splitlines()
    assert f"hazard_areas/{ha}" in line
    # The value both teams started from, then who sent each competing value, from which device
    # and when.
    assert "property priority: base 'high', now 'low'" in line
    assert len(sent) == 2
    [medium] = [s for s in sent if "'medium'" in s]
    assert "on device collect:test-device" in medium
    assert "from user " in medium
    assert "information of 2026-11-10" in medium
    assert "received 20" in medium
    conflict_id = line.split()[0]

    story = fieldsync("conflicts", "show", conflict_id)
    assert story.returncode == 0, story.stderr
    assert f"conflict {conflict_id} (hard) on hazard_areas/{ha}" in story.stdout
    assert "base value: 'high'" in story.stdout
    assert "information of 2026-11-12" in story.stdout
    versions = [v for v in story.stdout.splitlines() if v.startswith("  v")]
    assert [v.split()[0] for v in versions] == ["v1", "v2", "v3"]
    assert "priority='medium'" in story.stdout
    missing = fieldsync("conflicts", "show", "999999")
    assert missing.returncode == 2
    assert "knows no conflict 999999" in missing.stderr

    # Checked against the last pull before anything is queued, the real problem first.
    unknown = fieldsync("conflicts", "resolve", "999999", "--value", "owner=x", "--reason", "ok")
    assert unknown.returncode == 2
    assert "no conflict 999999 in the last pull (open ones: " in unknown.stderr
    assert conflict_id in unknown.stderr.split("open ones: ")[1].split(")")[0].split(", ")
    no_such_property = fieldsync(
        "conflicts", "resolve", conflict_id, "--value", "owner=x", "--reason", "ok"
    )
    assert no_such_property.returncode == 2
    assert "list 'hazard_areas' has no property 'owner'" in no_such_property.stderr
    assert "priority" in no_such_property.stderr
    short = fieldsync("conflicts", "resolve", conflict_id, "--reason", "ok")
    assert short.returncode == 2
    assert "3 characters at least" in short.stderr
    assert "pending:     0 submissions, 0 B to send\n" in fieldsync("status").stdout

    # What only the server can judge comes back in its own words, and can be looked at and
    # discarded.
    blank = fieldsync(
        "conflicts", "resolve", conflict_id, "--value", "status=", "--reason", "cleared by QA"
    )
    assert blank.returncode == 0, blank.stderr
    refused = fieldsync("push")
    assert refused.returncode == 6
    assert "status: a blank value is not allowed" in refused.stdout
    assert "check these fields" not in refused.stdout
    assert "fieldsync outbox list" in refused.stderr
    [row] = fieldsync("outbox", "list").stdout.splitlines()[:1]
    item_id = row.split()[0]
    assert f"rejected  resolution  {conflict_id}" in row
    assert "a blank value is not allowed" in row
    detail = fieldsync("outbox", "show", item_id)
    assert "values:      status=''" in detail.stdout
    assert "reason:      cleared by QA" in detail.stdout
    assert "request.invalid" in detail.stdout
    dropped = fieldsync("outbox", "discard", item_id, "--reason", "typed the wrong property")
    assert dropped.returncode == 0, dropped.stderr
    assert "refused:     0 in conflict, 0 rejected" in fieldsync("status").stdout
    audit = fieldsync("outbox", "list", "--discarded").stdout
    assert f"{item_id}  resolution {conflict_id} (rejected) discarded " in audit
    assert "typed the wrong property" in audit
    again = fieldsync("outbox", "show", item_id)
    assert again.returncode == 2
    assert "was discarded on" in again.stderr

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
    assert "1 resolution sent" in pushed.stdout
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
