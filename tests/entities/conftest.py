"""Fixtures for shared-record tests: a project with the form library published, and a way to
receive filled forms through the same service the OpenRosa and sync routes use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from server.db import transaction
from server.entities.models import Entity, EntityConflict, EntityInbox, EntityList
from server.forms.models import Form, FormVersion
from server.intake.service import submission_arrives
from server.projects.models import Project
from server.submissions import service as submissions
from tests.entities.builders import Filled
from tests.factories import Factories


@dataclass
class Field:
    """A project with the library published, and helpers to fill and receive its forms."""

    factories: Factories
    project: Project
    forms: dict[str, FormVersion]

    def fill(self, form_id: str, **kwargs: Any) -> Filled:
        return Filled(form_id=form_id, form=self.forms[form_id], **kwargs)

    def receive(self, filled: Filled) -> submissions.IngestResult:
        with transaction(self.factories.runtime.session_factory) as session:
            project = session.get(Project, self.project.id)
            assert project is not None
            return submission_arrives(
                session, project, filled.xml(), submitter=submissions.Submitter(app_user_id=None)
            )

    def entity(self, uuid: str, list_name: str = "hazard_areas") -> Entity:
        with self.factories.session() as session:
            return session.scalars(
                select(Entity)
                .join(EntityList, EntityList.id == Entity.list_id)
                .where(
                    EntityList.project_id == self.project.id,
                    EntityList.name == list_name,
                    Entity.uuid == uuid,
                )
            ).one()

    def open_conflicts(self, uuid: str) -> list[EntityConflict]:
        entity = self.entity(uuid)
        with self.factories.session() as session:
            return list(
                session.scalars(
                    select(EntityConflict)
                    .where(EntityConflict.entity_id == entity.id, EntityConflict.status == "open")
                    .order_by(EntityConflict.conflict_key)
                )
            )

    def inbox(self, update_id: str) -> EntityInbox:
        with self.factories.session() as session:
            return session.scalars(
                select(EntityInbox).where(EntityInbox.update_id == update_id)
            ).one()


@pytest.fixture
def field(factories: Factories) -> Field:
    project = factories.project("Coalition")
    factories.publish_library(project)
    with factories.session() as session:
        rows = session.execute(
            select(Form.xml_form_id, FormVersion)
            .join(FormVersion, FormVersion.form_id == Form.id)
            .where(Form.project_id == project.id)
        ).all()
    return Field(factories, project, {form_id: version for form_id, version in rows})
