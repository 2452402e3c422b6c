"""pyodk writing entities against a live fieldsync: ``entities.create``, ``create_many``,
``update`` with ``base_version`` and with ``force``, ``delete``. Expected shapes and codes are
Central's (docs.getodk.org/central-api-entity-management; central-backend's problem codes
409.3, 409.15 and 400.28). Where fieldsync differs on purpose (a stale base is merged, and a
status never moves back), the test says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from pyodk.client import Client
from pyodk.errors import PyODKError
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.entities.models import Entity, EntityConflict
from server.feed.models import SyncChange
from tests.central_api.conftest import Central
from tests.factories import Factories

FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = pytest.mark.e2e

CENTRAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NORTH = "4b1c5f1e-7a50-4d1e-9a0b-000000000001"
EAST = "4b1c5f1e-7a50-4d1e-9a0b-000000000002"
WEST = "4b1c5f1e-7a50-4d1e-9a0b-000000000003"

LIST = "hazard_areas"


@pytest.fixture
def client(central: Central, factories: Factories, admin_client: Client) -> Client:
    # Publishing the register creates the list with the properties it saves to.
    factories.publish_bytes(
        central.project, "area_register.xml", (FIXTURES / "area_register.xml").read_bytes()
    )
    return admin_client


def entity_url(central: Central, uuid: str = "") -> str:
    base = f"projects/{central.project.id}/datasets/{LIST}/entities"
    return f"{base}/{uuid}" if uuid else base


def test_create_one_entity_as_central_answers(
    central: Central, client: Client, factories: Factories
) -> None:
    created = client.entities.create(
        label="North field",
        data={"status": "suspected", "village": "Ban Na"},
        entity_list_name=LIST,
        uuid=NORTH,
    )
    assert created.uuid == NORTH
    assert created.currentVersion.label == "North field"
    assert created.currentVersion.version == 1
    assert created.currentVersion.current is True
    assert created.currentVersion.data == {"status": "suspected", "village": "Ban Na"}
    assert created.creatorId == created.currentVersion.creatorId
    assert created.conflict is None
    assert created.updatedAt is None
    assert created.deletedAt is None
    raw = client.get(entity_url(central, NORTH)).json()
    assert CENTRAL_TIME.match(raw["createdAt"])
    # The entity is in the list devices download, and in the audit log with its author.
    listed = client.entities.list(entity_list_name=LIST)
    assert [e.uuid for e in listed] == [NORTH]
    with factories.session() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "entity.create"))
        assert [(a.target_id, a.actor_user_id) for a in audit] == [
            (f"{LIST}/{NORTH}", created.creatorId)
        ]


def test_create_refusals_are_centrals(central: Central, client: Client) -> None:
    client.entities.create(label="North field", data={}, entity_list_name=LIST, uuid=NORTH)
    with pytest.raises(PyODKError) as raised:
        client.entities.create(label="Again", data={}, entity_list_name=LIST, uuid=NORTH)
    assert raised.value.args[1].status_code == 409
    assert raised.value.args[1].json()["code"] == 409.3
    with pytest.raises(PyODKError) as raised:
        client.entities.create(label="East", data={"depth": "3"}, entity_list_name=LIST)
    body = raised.value.args[1].json()
    assert (raised.value.args[1].status_code, body["code"]) == (400, 400.28)
    assert "depth" in body["message"]
    with pytest.raises(PyODKError) as raised:
        client.entities.create(label="", data={}, entity_list_name=LIST)
    assert raised.value.args[1].json()["code"] == 400.28
    assert [e.uuid for e in client.entities.list(entity_list_name=LIST)] == [NORTH]


def test_create_many_is_all_or_nothing(central: Central, client: Client) -> None:
    done = client.entities.create_many(
        [
            {"label": "East ridge", "status": "confirmed", "village": "Ban Phon"},
            {"label": "West bank", "status": "suspected", "village": ""},
        ],
        entity_list_name=LIST,
        create_source="survey-2026.csv",
        source_size="2",
    )
    assert done is True
    labels = {e.currentVersion.label for e in client.entities.list(entity_list_name=LIST)}
    assert labels == {"East ridge", "West bank"}
    table = client.entities.get_table(entity_list_name=LIST)
    rows = {r["label"]: r for r in table["value"]}
    assert rows["East ridge"]["status"] == "confirmed"
    assert rows["East ridge"]["__system"]["version"] == 1
    # One bad entity: none is created.
    with pytest.raises(PyODKError) as raised:
        client.entities.create_many(
            [{"label": "Good"}, {"label": "Bad", "nope": "x"}], entity_list_name=LIST
        )
    assert raised.value.args[1].json()["code"] == 400.28
    assert len(client.entities.list(entity_list_name=LIST)) == 2


def test_update_with_base_version_and_force(central: Central, client: Client) -> None:
    client.entities.create(
        label="North field",
        data={"status": "suspected", "village": "Ban Na"},
        entity_list_name=LIST,
        uuid=NORTH,
    )
    updated = client.entities.update(
        NORTH, entity_list_name=LIST, data={"status": "confirmed"}, base_version=1
    )
    assert updated.currentVersion.version == 2
    assert updated.currentVersion.baseVersion == 1
    assert updated.currentVersion.data == {"status": "confirmed", "village": "Ban Na"}
    assert updated.updatedAt is not None

    forced = client.entities.update(NORTH, entity_list_name=LIST, label="North", force=True)
    assert forced.currentVersion.version == 3
    assert forced.currentVersion.label == "North"
    assert forced.currentVersion.data["status"] == "confirmed"
    versions = client.get(f"{entity_url(central, NORTH)}/versions").json()
    assert [(v["version"], v["label"], v["data"]["status"]) for v in versions] == [
        (1, "North field", "suspected"),
        (2, "North field", "confirmed"),
        (3, "North", "confirmed"),
    ]
    with pytest.raises(PyODKError) as raised:
        client.entities.update(NORTH, entity_list_name=LIST, data={"status": "x"}, base_version=9)
    body = raised.value.args[1].json()
    assert (raised.value.args[1].status_code, body["code"]) == (409, 409.15)
    assert body["details"]["fieldsyncCode"] == "central.entity_version"
    assert client.get(entity_url(central, NORTH)).json()["currentVersion"]["version"] == 3


def test_a_stale_base_is_409_15_and_merged_into_the_conflict_queue(
    central: Central, client: Client, factories: Factories
) -> None:
    client.entities.create(
        label="North field",
        data={"status": "suspected", "village": "Ban Na"},
        entity_list_name=LIST,
        uuid=NORTH,
    )
    client.entities.update(
        NORTH, entity_list_name=LIST, data={"village": "Ban Phon"}, base_version=1
    )
    # A script that read version 1 changes the same property: Central refuses with 409.15.
    with pytest.raises(PyODKError) as raised:
        client.entities.update(
            NORTH, entity_list_name=LIST, data={"village": "Ban Xai"}, base_version=1
        )
    response = raised.value.args[1]
    body = response.json()
    assert (response.status_code, body["code"]) == (409, 409.15)
    details = body["details"]
    assert details["fieldsyncCode"] == "central.entity_merged"
    assert (details["current"], details["provided"], details["version"]) == (2, 1, 3)
    assert details["conflict"] == "hard"
    assert details["conflictingProperties"] == ["village"]
    # Here the update was not lost: it is version 3 and waits in the conflict queue.
    now = client.get(entity_url(central, NORTH)).json()
    assert now["currentVersion"]["version"] == 3
    assert now["conflict"] == "hard"
    with factories.session() as session:
        entity = session.scalars(select(Entity).where(Entity.uuid == NORTH)).one()
        open_conflicts = session.scalars(
            select(EntityConflict).where(
                EntityConflict.entity_id == entity.id, EntityConflict.status == "open"
            )
        ).all()
    assert [c.property_name for c in open_conflicts] == ["village"]
    # Both competing values are kept in the conflict, for a reviewer to choose.
    kept = str(open_conflicts[0].details)
    assert "Ban Phon" in kept and "Ban Xai" in kept
    queue = f"{central.server.url}/api/v1/projects/{central.project.id}/conflicts"
    headers = factories.login(central.user).headers
    assert len(requests.get(queue, headers=headers, timeout=10).json()) == 1
    # Deleting the entity takes its conflicts out of the review queue.
    client.entities.delete(NORTH, entity_list_name=LIST)
    assert requests.get(queue, headers=headers, timeout=10).json() == []


def test_force_never_moves_a_cleared_area_back(central: Central, client: Client) -> None:
    client.entities.create(
        label="North field", data={"status": "cleared"}, entity_list_name=LIST, uuid=NORTH
    )
    back = client.entities.update(
        NORTH, entity_list_name=LIST, data={"status": "suspected"}, force=True
    )
    # Central would write "suspected"; the list's policy holds the regression for review.
    assert back.currentVersion.data["status"] == "cleared"
    assert back.conflict == "hard"
    table = client.entities.get_table(entity_list_name=LIST)
    assert [r["status"] for r in table["value"]] == ["cleared"]


def test_delete_removes_the_entity_everywhere_but_keeps_its_history(
    central: Central, client: Client, factories: Factories
) -> None:
    client.entities.create(label="North field", data={}, entity_list_name=LIST, uuid=NORTH)
    client.entities.create(label="East ridge", data={}, entity_list_name=LIST, uuid=EAST)
    assert client.entities.delete(NORTH, entity_list_name=LIST) is True
    assert [e.uuid for e in client.entities.list(entity_list_name=LIST)] == [EAST]
    gone = client.get(entity_url(central, NORTH))
    assert (gone.status_code, gone.json()["code"]) == (404, 404.1)
    table = client.entities.get_table(entity_list_name=LIST, count=True)
    assert (table["@odata.count"], [r["__id"] for r in table["value"]]) == (1, [EAST])
    lists = client.get(
        f"projects/{central.project.id}/datasets", headers={"X-Extended-Metadata": "true"}
    ).json()
    assert lists[0]["entities"] == 1
    # fieldsync's own API and the list devices download leave it out too.
    own = requests.get(
        f"{central.server.url}/api/v1/projects/{central.project.id}/entity-lists/{LIST}/entities",
        headers=factories.login(central.user).headers,
        timeout=10,
    ).json()
    assert [e["uuid"] for e in own] == [EAST]
    # A uuid once used stays taken, as in Central.
    with pytest.raises(PyODKError) as raised:
        client.entities.create(label="Again", data={}, entity_list_name=LIST, uuid=NORTH)
    assert raised.value.args[1].json()["code"] == 409.3
    with factories.session() as session:
        entity = session.scalars(select(Entity).where(Entity.uuid == NORTH)).one()
        assert entity.deleted_at is not None
        deleted = session.scalars(
            select(SyncChange).where(SyncChange.key == f"{LIST}/{NORTH}")
        ).all()
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.target_id == f"{LIST}/{NORTH}")
        ).all()
    assert deleted[-1].data["deleted"] is True
    assert list(actions) == ["entity.create", "entity.delete"]


def test_a_data_collector_cannot_write_entities(central: Central, factories: Factories) -> None:
    from server.accounts.models import Role

    factories.publish_bytes(
        central.project, "area_register.xml", (FIXTURES / "area_register.xml").read_bytes()
    )
    collector = factories.user(central.project, Role.DATA_COLLECTOR, email="dc@example.org")
    with central.client(collector.email) as client:
        with pytest.raises(PyODKError) as raised:
            client.entities.create(label="x", data={}, entity_list_name=LIST, uuid=WEST)
        assert raised.value.args[1].json()["code"] == 403.1


def visit(instance: str, entity: str, village: str, base: int) -> str:
    """A device's update of an area, as the register's XML carries it."""
    return (
        '<data id="area_register" version="1">'
        f"<area_name>North field</area_name><status></status><village>{village}</village>"
        f'<landowner></landowner><meta><entity dataset="{LIST}" id="{entity}" update="1" '
        f'baseVersion="{base}"></entity><instanceID>uuid:{instance}</instanceID></meta></data>'
    )


def test_device_updates_wait_for_an_api_creation_and_never_revive_a_deletion(
    central: Central, client: Client, factories: Factories
) -> None:
    from server.entities.models import EntityInbox

    # A tablet's update of an area the server does not know yet is held ...
    client.submissions.create(visit("v-1", NORTH, "Ban Phon", 1), form_id="area_register")
    with factories.session() as session:
        held = session.scalars(select(EntityInbox.status)).all()
    assert list(held) == ["held"]
    # ... and merged as soon as the API creates the area.
    client.entities.create(
        label="North field", data={"village": "Ban Na"}, entity_list_name=LIST, uuid=NORTH
    )
    north = client.get(entity_url(central, NORTH)).json()
    assert north["currentVersion"]["version"] == 2
    assert north["currentVersion"]["data"]["village"] == "Ban Phon"

    client.entities.delete(NORTH, entity_list_name=LIST)
    client.submissions.create(visit("v-2", NORTH, "Ban Xai", 2), form_id="area_register")
    with factories.session() as session:
        rows = session.scalars(select(EntityInbox).order_by(EntityInbox.id)).all()
        entity = session.scalars(select(Entity).where(Entity.uuid == NORTH)).one()
        assert [r.status for r in rows] == ["applied", "rejected"]
        assert "deleted" in rows[1].reason
        assert (entity.current_version, entity.values["village"]) == (2, "Ban Phon")
        assert entity.deleted_at is not None
    assert client.entities.list(entity_list_name=LIST) == []
