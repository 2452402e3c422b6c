"""pyodk's entity reading against a live fieldsync: entity lists, entities, one entity, its
versions and the OData table, for hazard areas registered by submissions. Expected shapes are
Central's (docs.getodk.org/central-api-dataset-management, central-api-entity-management)."""

from __future__ import annotations

import pytest
import requests
from pyodk.client import Client
from pyodk.errors import PyODKError
from sqlalchemy import select

from server.entities.models import Entity
from tests.central_api.conftest import Central
from tests.factories import Factories
from tests.openrosa.helpers import publish_fixture

pytestmark = pytest.mark.e2e

NORTH = "7a1e7a52-0001-4bd6-9d43-8f8d1f0c0001"
SOUTH = "7a1e7a52-0002-4bd6-9d43-8f8d1f0c0002"


def registration(instance: str, entity: str, name: str, status: str, contamination: str) -> str:
    return (
        '<data id="hazard_registration" version="1">'
        f"<area_name>{name}</area_name><status>{status}</status>"
        f"<contamination>{contamination}</contamination>"
        f'<meta><entity dataset="hazard_areas" create="1" id="{entity}"><label>{name}</label>'
        f"</entity><instanceID>uuid:{instance}</instanceID></meta></data>"
    )


@pytest.fixture
def registered(central: Central, factories: Factories, pyodk_client: Client) -> Client:
    publish_fixture(factories, central.project, "hazard_registration")
    create = pyodk_client.submissions.create
    create(
        registration("r-1", NORTH, "North field", "suspected", "mines"),
        form_id="hazard_registration",
    )
    create(
        registration("r-2", SOUTH, "South ridge", "confirmed", "uxo"),
        form_id="hazard_registration",
    )
    return pyodk_client


def test_entity_lists_and_entities(
    central: Central, factories: Factories, registered: Client
) -> None:
    lists = registered.entity_lists.list()
    assert [(el.name, el.projectId, el.approvalRequired) for el in lists] == [
        ("hazard_areas", central.project.id, False)
    ]
    one = registered.entity_lists.get("hazard_areas")
    assert sorted(p.name for p in one.properties or []) == ["contamination", "status"]

    entities = registered.entities.list(entity_list_name="hazard_areas")
    assert [(e.uuid, e.currentVersion.label, e.currentVersion.version) for e in entities] == [
        (NORTH, "North field", 1),
        (SOUTH, "South ridge", 1),
    ]
    assert [e.creatorId for e in entities] == [central.user.id, central.user.id]
    # The conflict is what fieldsync's merge decided for the list's policies: shown as stored.
    with factories.session() as session:
        stored = dict(session.execute(select(Entity.uuid, Entity.conflict)).all())
        values = dict(session.execute(select(Entity.uuid, Entity.values)).all())
    assert [(e.conflict, e.deletedAt) for e in entities] == [
        (stored[NORTH], None),
        (stored[SOUTH], None),
    ]
    assert {e.conflict for e in entities} <= {None, "soft", "hard"}

    base = f"projects/{central.project.id}/datasets/hazard_areas/entities"
    north = registered.get(f"{base}/{NORTH}").json()
    # The merged state, as devices download it (a value held for review is not in it yet).
    assert north["currentVersion"]["data"] == values[NORTH]
    assert north["currentVersion"]["data"]["status"] == "suspected"
    versions = registered.get(f"{base}/{NORTH}/versions").json()
    assert [(v["version"], v["current"], v["label"]) for v in versions] == [
        (1, True, "North field")
    ]


def test_entities_get_table(central: Central, registered: Client) -> None:
    table = registered.entities.get_table(entity_list_name="hazard_areas", count=True, top=1)
    assert table["@odata.count"] == 2
    [first] = table["value"]
    system = first.pop("__system")
    north = registered.get(
        f"projects/{central.project.id}/datasets/hazard_areas/entities/{NORTH}"
    ).json()
    properties = registered.entity_lists.get("hazard_areas").properties or []
    assert first == {
        "__id": NORTH,
        "label": "North field",
        **{p.name: north["currentVersion"]["data"].get(p.name) for p in properties},
    }
    assert first["status"] == "suspected"
    assert system["creatorId"] == str(central.user.id)
    assert system["version"] == 1
    assert system["updates"] == 0
    assert system["conflict"] == registered.entities.list("hazard_areas")[0].conflict
    rest = registered.get(table["@odata.nextLink"]).json()
    assert [r["__id"] for r in rest["value"]] == [SOUTH]
    assert "@odata.nextLink" not in rest
    with pytest.raises(PyODKError) as raised:
        registered.entities.get_table(
            entity_list_name="hazard_areas", filter="__system/version eq 1"
        )
    assert raised.value.args[1].json()["code"] == 400.8


def test_an_unknown_entity_list_is_centrals_404(central: Central, registered: Client) -> None:
    response = registered.get(f"projects/{central.project.id}/datasets/nothing/entities")
    assert isinstance(response, requests.Response)
    assert response.status_code == 404
    assert response.json()["code"] == 404.1
