"""The review API for shared records: entities, versions, conflicts, resolutions, API edits,
and the CSV devices download."""

from __future__ import annotations

import csv
import io
import uuid

from flask.testing import FlaskClient

from server.accounts.models import Role
from tests.entities.conftest import Field
from tests.entities.test_entity_service import new_area, survey_update


def hazard_area_with_conflict(field: Field) -> tuple[str, str, str]:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    early = survey_update(field, ha, 1, priority="medium", date="2026-11-05")
    late = survey_update(field, ha, 1, priority="low", date="2026-11-09")
    field.receive(early)
    field.receive(late)
    return ha, early.instance_id, late.instance_id


def base(field: Field) -> str:
    return f"/api/v1/projects/{field.project.id}"


def test_conflicts_list_shows_base_current_and_each_incoming_value(
    client: FlaskClient, field: Field
) -> None:
    ha, early, late = hazard_area_with_conflict(field)
    viewer = field.factories.logged_in(field.project, Role.VIEWER)
    response = client.get(
        f"{base(field)}/conflicts?list=hazard_areas&entity={ha}", headers=viewer.headers
    )
    assert response.status_code == 200
    [conflict] = response.json
    assert conflict["property"] == "priority"
    assert conflict["kind"] == "hard"
    assert conflict["base_value"] == "high"
    assert conflict["current_value"] == "low"
    incoming = {v["update_id"]: v for v in conflict["incoming"]}
    assert incoming[early]["value"] == "medium"
    assert incoming[early]["date_of_information"] == "2026-11-05"
    assert incoming[early]["submission_instance_id"] == early
    assert incoming[early]["received_at"]
    assert "submission" in incoming[late]["source"]

    other_list = client.get(f"{base(field)}/conflicts?list=survivors", headers=viewer.headers)
    assert other_list.json == []


def test_resolving_a_conflict_shows_in_the_csv(client: FlaskClient, field: Field) -> None:
    ha, _early, _late = hazard_area_with_conflict(field)
    coordinator = field.factories.logged_in(field.project, Role.COORDINATOR)
    [conflict] = client.get(f"{base(field)}/conflicts", headers=coordinator.headers).json

    missing_reason = client.post(
        f"{base(field)}/conflicts/{conflict['id']}/resolution",
        json={"values": {"priority": "medium"}},
        headers=coordinator.headers,
    )
    assert missing_reason.status_code == 400

    viewer = field.factories.logged_in(field.project, Role.VIEWER)
    refused = client.post(
        f"{base(field)}/conflicts/{conflict['id']}/resolution",
        json={"values": {"priority": "medium"}, "reason": "checked"},
        headers=viewer.headers,
    )
    assert refused.status_code == 403

    resolved = client.post(
        f"{base(field)}/conflicts/{conflict['id']}/resolution",
        json={"values": {"priority": "medium"}, "reason": "team leader confirmed by radio"},
        headers=coordinator.headers,
    )
    assert resolved.status_code == 200, resolved.json
    assert resolved.json["status"] == "resolved"
    assert resolved.json["entity"]["values"]["priority"] == "medium"
    assert client.get(f"{base(field)}/conflicts", headers=coordinator.headers).json == []

    again = client.post(
        f"{base(field)}/conflicts/{conflict['id']}/resolution",
        json={"values": {"priority": "low"}, "reason": "changed my mind"},
        headers=coordinator.headers,
    )
    assert again.status_code == 409

    csv_response = client.get(
        f"{base(field)}/entity-lists/hazard_areas/entities.csv", headers=coordinator.headers
    )
    rows = {r["__id"]: r for r in csv.DictReader(io.StringIO(csv_response.data.decode()))}
    assert rows[ha]["priority"] == "medium"
    assert rows[ha]["__version"] == "4"
    etag = csv_response.headers["ETag"]
    unchanged = client.get(
        f"{base(field)}/entity-lists/hazard_areas/entities.csv",
        headers={**coordinator.headers, "If-None-Match": etag},
    )
    assert unchanged.status_code == 304


def test_entity_versions_and_history(client: FlaskClient, field: Field) -> None:
    ha, early, late = hazard_area_with_conflict(field)
    viewer = field.factories.logged_in(field.project, Role.VIEWER)
    history = client.get(
        f"{base(field)}/entity-lists/hazard_areas/entities/{ha}/versions", headers=viewer.headers
    ).json
    assert [v["version"] for v in history] == [1, 2, 3]
    assert [v["update_id"] for v in history[1:]] == [early, late]
    assert history[2]["base_version"] == 1
    assert history[2]["sent"]["priority"] == "low"
    assert history[2]["conflicts_opened"]
    one = client.get(
        f"{base(field)}/entity-lists/hazard_areas/entities/{ha}", headers=viewer.headers
    ).json
    assert one["version"] == 3
    assert one["conflict"] == "hard"
    assert any(c["property"] == "priority" for c in one["conflicts"])


def test_api_edit_with_stale_base_is_refused_or_merged(client: FlaskClient, field: Field) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    field.receive(survey_update(field, ha, 1, priority="medium"))
    coordinator = field.factories.logged_in(field.project, Role.COORDINATOR)
    url = f"{base(field)}/entity-lists/hazard_areas/entities/{ha}"
    stale = client.patch(
        url, json={"base_version": 1, "values": {"landowner": "Mr K."}}, headers=coordinator.headers
    )
    assert stale.status_code == 409
    assert stale.json["code"] == "entity.stale_base"
    assert stale.json["current_version"] == 2

    merged = client.patch(
        url,
        json={"base_version": 1, "values": {"landowner": "Mr K."}, "merge": True},
        headers=coordinator.headers,
    )
    assert merged.status_code == 200
    assert merged.json["values"]["landowner"] == "Mr K."
    assert merged.json["values"]["priority"] == "medium"

    fresh = client.patch(
        url, json={"base_version": 3, "values": {"priority": "low"}}, headers=coordinator.headers
    )
    assert fresh.status_code == 200
    assert fresh.json["values"]["priority"] == "low"

    bad = client.patch(
        url, json={"base_version": 4, "values": {"nonsense": "x"}}, headers=coordinator.headers
    )
    assert bad.status_code == 400
    assert "nonsense" in bad.json["errors"]


def test_reopen_through_the_api(client: FlaskClient, field: Field) -> None:
    from tests.entities.test_entity_service import clearance

    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha))
    field.receive(
        clearance(field, ha, 1, status="cleared", remaining_area_m2="0", cleared_area_m2="12000")
    )
    coordinator = field.factories.logged_in(field.project, Role.COORDINATOR)
    url = f"{base(field)}/entity-lists/hazard_areas/entities/{ha}/reopen"
    no_reason = client.post(url, json={"status": "suspected"}, headers=coordinator.headers)
    assert no_reason.status_code == 400
    reopened = client.post(
        url,
        json={"status": "suspected", "reason": "new evidence: BLU-97 found by a farmer"},
        headers=coordinator.headers,
    )
    assert reopened.status_code == 200
    assert reopened.json["values"]["status"] == "suspected"
    history = client.get(
        f"{base(field)}/entity-lists/hazard_areas/entities/{ha}/versions",
        headers=coordinator.headers,
    ).json
    assert history[-1]["kind"] == "reopen"
    assert history[-1]["reason"] == "new evidence: BLU-97 found by a farmer"


def test_entity_lists_and_backlog(client: FlaskClient, field: Field) -> None:
    from tests.entities.test_entity_service import clearance

    hazard_area_with_conflict(field)
    orphan = clearance(field, str(uuid.uuid4()), 1)
    field.receive(orphan)
    coordinator = field.factories.logged_in(field.project, Role.COORDINATOR)
    lists = {
        x["name"]: x
        for x in client.get(f"{base(field)}/entity-lists", headers=coordinator.headers).json
    }
    assert lists["hazard_areas"]["entities"] == 1
    assert lists["hazard_areas"]["entities_in_conflict"] == 1
    assert "survivors" in lists
    backlog = client.get(f"{base(field)}/entity-backlog", headers=coordinator.headers).json
    assert [(b["update_id"], b["status"]) for b in backlog] == [(orphan.instance_id, "held")]


def test_conflicts_reach_the_change_feed_with_their_id(client: FlaskClient, field: Field) -> None:
    hazard_area_with_conflict(field)
    coordinator = field.factories.logged_in(field.project, Role.COORDINATOR)
    [conflict] = client.get(f"{base(field)}/conflicts", headers=coordinator.headers).json
    feed = client.get(
        f"/api/v1/sync/changes?project_id={field.project.id}&limit=5000",
        headers=coordinator.headers,
    )
    assert feed.status_code == 200
    opened = [
        c
        for c in feed.json["changes"]
        if c["kind"] == "conflict" and c["data"]["state"] == "open" and c["data"]["requires_review"]
    ]
    assert [(c["data"]["id"], c["data"]["key"]) for c in opened] == [
        (conflict["id"], conflict["key"])
    ]


def test_entity_csv_quotes_what_needs_quoting(client: FlaskClient, field: Field) -> None:
    ha = str(uuid.uuid4())
    awkward = 'Ban "Na", Phonsavan\nnorth field — ເມືອງ'
    field.receive(new_area(field, ha, admin_area=awkward, village="Mr K., family"))
    viewer = field.factories.logged_in(field.project, Role.VIEWER)
    response = client.get(
        f"{base(field)}/entity-lists/hazard_areas/entities.csv", headers=viewer.headers
    )
    assert response.status_code == 200
    reader = csv.DictReader(io.StringIO(response.data.decode("utf-8")))
    assert reader.fieldnames is not None
    assert reader.fieldnames[:2] == ["__id", "label"]
    rows = list(reader)
    assert [r["__id"] for r in rows] == [ha]
    assert rows[0]["admin_area"] == awkward
    assert rows[0]["village"] == "Mr K., family"
    assert rows[0]["label"] == f"HA-0145 {awkward}"
    assert rows[0]["cleared_area_m2"] == ""


def test_the_conflict_list_takes_the_same_queries_for_one_conflict_or_many(
    client: FlaskClient, field: Field
) -> None:
    from sqlalchemy import event

    engine = field.factories.runtime.engine
    viewer = field.factories.logged_in(field.project, Role.VIEWER)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    def queries_for_the_list() -> tuple[int, int]:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.get(f"{base(field)}/conflicts", headers=viewer.headers)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200
        return len(response.json), len(statements)

    hazard_area_with_conflict(field)
    conflicts_one, queries_one = queries_for_the_list()
    for _ in range(3):
        hazard_area_with_conflict(field)
    conflicts_four, queries_four = queries_for_the_list()
    assert (conflicts_one, conflicts_four) == (1, 4)
    assert queries_four == queries_one
