"""A device writes only into the entity list its form version declares: an entity block naming
another list (or any list, from a form that saves to none) is refused before any list is looked
up, so no record is created, no list is created and no list's columns are widened."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import func, select

from server.accounts.models import Role
from server.entities.models import Entity, EntityInbox, EntityList
from server.forms.models import Form, FormVersion
from server.projects.models import Project
from server.submissions.models import Submission
from tests.factories import Device, Factories
from tests.openrosa.helpers import OPENROSA, form_data
from tests.sync.conftest import SyncApi

OR = "{http://openrosa.org/http/response}"


@dataclass
class Lists:
    """What a device could have changed: every list's columns and entity count, and counts."""

    columns: dict[str, list[str]]
    entities: dict[str, int]
    submissions: int
    inbox: int


@pytest.fixture
def project(factories: Factories) -> Project:
    project = factories.project("Coalition")
    factories.publish_library(project)
    return project


@pytest.fixture
def device(factories: Factories, project: Project) -> Device:
    return factories.device(project, "EORE team")


def snapshot(app: Flask, project: Project) -> Lists:
    with app.extensions["fieldsync"].session_factory() as session:
        lists = list(session.scalars(select(EntityList).where(EntityList.project_id == project.id)))
        counts = {
            row.name: int(
                session.scalar(
                    select(func.count()).select_from(Entity).where(Entity.list_id == row.id)
                )
                or 0
            )
            for row in lists
        }
        return Lists(
            columns={row.name: list(row.properties) for row in lists},
            entities=counts,
            submissions=int(session.scalar(select(func.count()).select_from(Submission)) or 0),
            inbox=int(session.scalar(select(func.count()).select_from(EntityInbox)) or 0),
        )


def version_of(app: Flask, project: Project, form_id: str) -> str:
    with app.extensions["fieldsync"].session_factory() as session:
        return str(
            session.scalars(
                select(FormVersion.version)
                .join(Form, Form.id == FormVersion.form_id)
                .where(Form.project_id == project.id, Form.xml_form_id == form_id)
            ).first()
        )


def forged(form_id: str, version: str, dataset: str, fields: str) -> bytes:
    """A submission of ``form_id`` carrying an entity block for ``dataset``, with values for
    properties of that list (names, phone) that the form does not save."""
    return (
        f'<data xmlns:jr="http://openrosa.org/javarosa" id="{form_id}" version="{version}">'
        f"{fields}<survivor_name>Injected Person</survivor_name><phone>+000</phone>"
        f"<village>Nowhere</village><extra_1>x</extra_1><extra_2>y</extra_2>"
        f'<meta><entity dataset="{dataset}" create="1" id="{uuid.uuid4()}">'
        "<label>Injected Person</label></entity>"
        f"<instanceID>uuid:{uuid.uuid4()}</instanceID></meta></data>"
    ).encode()


def submit(client: FlaskClient, device: Device, xml: bytes) -> tuple[int, str]:
    response = client.post(device.base_path + "/submission", data=form_data(xml), headers=OPENROSA)
    message = etree.fromstring(response.data).find(f"{OR}message")
    assert message is not None
    return response.status_code, message.get("nature", "")


@pytest.mark.parametrize(
    ("form_id", "dataset"),
    [
        ("eore_session", "survivors"),  # a form with no entity list names the survivors list
        ("eore_session", "informants"),  # ... or a list nobody declared
        ("hazard_report", "survivors"),  # a form of another list names the survivors list
        ("hazard_report", "brand_new_list"),
    ],
)
def test_a_block_naming_an_undeclared_list_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, project: Project, device: Device, form_id: str, dataset: str
) -> None:
    before = snapshot(app, project)
    assert "survivors" in before.columns  # the survivor forms declare it
    xml = forged(form_id, version_of(app, project, form_id), dataset, "<district>North</district>")

    assert submit(client, device, xml) == (400, "entity.undeclared_list")

    after = snapshot(app, project)
    assert after == before
    assert dataset not in after.columns or dataset == "survivors"


def test_a_pushed_item_naming_an_undeclared_list_is_rejected_and_changes_nothing(
    app: Flask, client: FlaskClient, factories: Factories, project: Project
) -> None:
    api = SyncApi(client, factories.logged_in(project, Role.DATA_COLLECTOR), project.id)
    before = snapshot(app, project)
    xml = forged("eore_session", version_of(app, project, "eore_session"), "survivors", "")

    response = api.push(
        {"project_id": project.id, "items": [{"client_id": "c1", "xml": xml.decode()}]},
        key=str(uuid.uuid4()),
    )

    assert response.status_code == 200
    (result,) = response.get_json()["results"]
    assert (result["status"], result["code"]) == ("rejected", "entity.undeclared_list")
    assert snapshot(app, project) == before
