"""A project with the form library and a form with personal fields, filled in by two teams, and
a logged-in person for each role the protection of personal data tells apart."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from server.accounts import service as accounts
from server.accounts.models import Role, User
from server.audit.models import AuditEntry
from server.db import transaction
from server.forms.models import Form, FormVersion
from server.projects.models import Project
from tests.conftest import LiveServer
from tests.entities.builders import Filled
from tests.factories import Device, Factories, LoggedIn

FIXTURES = Path(__file__).parent / "fixtures"
OPENROSA = {"X-OpenRosa-Version": "1.0"}
SURVIVOR_FORMS = ("survivor_needs_assessment", "survivor_followup")
ROLES = (
    "administrator",
    "coordinator",
    "caseworker",
    "viewer",
    "data_collector",
)


@dataclass
class Programme:
    """The project, its people and devices, and what they sent."""

    factories: Factories
    server: LiveServer
    project: Project
    people: dict[str, LoggedIn]
    va_device: Device  # the victim-assistance team's tablet (survivor forms assigned)
    other_device: Device  # a clearance team's tablet
    forms: dict[str, FormVersion]

    @property
    def api(self) -> str:
        return f"{self.server.url}/api/v1/projects/{self.project.id}"

    @property
    def central(self) -> str:
        return f"{self.server.url}/v1/projects/{self.project.id}"

    def get(self, role: str, url: str, **kwargs: Any) -> requests.Response:
        headers = {**self.people[role].headers, **kwargs.pop("headers", {})}
        return requests.get(url, headers=headers, timeout=30, **kwargs)

    def device_get(self, device: Device, path: str) -> requests.Response:
        return requests.get(
            f"{self.server.url}{device.base_path}{path}", headers=OPENROSA, timeout=30
        )

    def fill(self, form_id: str, **kwargs: Any) -> Filled:
        return Filled(form_id=form_id, form=self.forms[form_id], **kwargs)

    def submit(
        self, device: Device, filled: Filled, files: dict[str, bytes] | None = None
    ) -> requests.Response:
        parts: dict[str, Any] = {
            "xml_submission_file": ("submission.xml", filled.xml(), "text/xml")
        }
        for name, data in (files or {}).items():
            parts[name] = (name, data, "image/jpeg")
        return requests.post(
            f"{self.server.url}{device.base_path}/submission",
            files=parts,
            headers=OPENROSA,
            timeout=30,
        )

    def reads_audited(self, role: str) -> list[AuditEntry]:
        user_id = self.people[role].user.id
        with self.factories.session() as session:
            return list(
                session.scalars(
                    select(AuditEntry)
                    .where(
                        AuditEntry.action == "personal_data.read",
                        AuditEntry.actor_user_id == user_id,
                    )
                    .order_by(AuditEntry.id)
                )
            )


def zip_names(response: requests.Response) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return set(archive.namelist())


def zip_text(response: requests.Response, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return archive.read(name).decode("utf-8")


@pytest.fixture
def programme(factories: Factories, live_server: LiveServer) -> Programme:
    project = factories.project("Victim assistance")
    factories.publish_library(project)
    factories.publish(project, FIXTURES / "case_visit.xml")
    people: dict[str, LoggedIn] = {}
    for role in ROLES:
        held = Role.COORDINATOR if role == "caseworker" else Role(role)
        user: User = factories.user(project, held)
        if role == "caseworker":
            with transaction(factories.runtime.session_factory) as session:
                found = session.get(User, user.id)
                db_project = session.get(Project, project.id)
                assert found is not None and db_project is not None
                accounts.grant_role(session, found, db_project, held, personal_data=True)
        people[role] = factories.login(user)
    with factories.session() as session:
        rows = session.execute(
            select(Form.xml_form_id, FormVersion)
            .join(FormVersion, FormVersion.form_id == Form.id)
            .where(Form.project_id == project.id)
        ).all()
    return Programme(
        factories,
        live_server,
        project,
        people,
        factories.device(project, "VA team tablet", forms_assigned=SURVIVOR_FORMS),
        factories.device(project, "Clearance team tablet"),
        {form_id: version for form_id, version in rows},
    )
