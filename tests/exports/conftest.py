"""A hazard survey with groups, nested repeats, a select-multiple, a geopoint, a geoshape, a
geotrace, a photo, a date and a decimal, in two versions, with three submissions sent over
HTTP as ODK Collect sends them (one edited, one reviewed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from server.projects.models import Project
from server.submissions.models import Submission
from tests.factories import Device, Factories, LoggedIn
from tests.openrosa.helpers import OPENROSA, PHOTO, form_data

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXPECTED = Path(__file__).resolve().parent / "expected"

A = "uuid:aaaaaaaa-0000-4000-8000-000000000001"
B = "uuid:bbbbbbbb-0000-4000-8000-000000000002"
C = "uuid:cccccccc-0000-4000-8000-000000000003"
C_EDIT = "uuid:cccccccc-0000-4000-8000-000000000004"
PHOTO_NAME = "1711111111111.jpg"
RECEIVED = {
    A: datetime(2026, 3, 1, 8, 15, 0, 123000, tzinfo=UTC),
    B: datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC),
    C: datetime(2026, 3, 3, 10, 30, 45, 500000, tzinfo=UTC),
}

_OPEN = '<data xmlns:jr="http://openrosa.org/javarosa" id="hazard_survey" version="{v}">'

A_XML = (
    _OPEN.format(v=2)
    + "<deviceid>collect:Xk2ha8</deviceid>"
    + '<respondent><name>ສົມພອນ "Noy" ແກ້ວ</name><visit_date>2026-03-01</visit_date></respondent>'
    + "<area_m2>1250.5</area_m2><hazards>mine uxo</hazards>"
    + "<location>17.9757 102.6331 170.5 4.0</location>"
    + "<boundary>17.97 102.63 0 0;17.98 102.63 0 0;17.98 102.64 0 0;17.97 102.63 0 0</boundary>"
    + "<route>17.97 102.63 0 0;17.99 102.65 0 0</route>"
    + f"<photo>{PHOTO_NAME}</photo>"
    + "<household>"
    + "<person><pname>ນາງ ແກ້ວ</pname><age>34</age>"
    + "<injury><kind>fragment, left leg</kind><injury_date>2025-12-01</injury_date></injury>"
    + "<injury><kind>burn</kind><injury_date>2026-01-15</injury_date></injury>"
    + "</person>"
    + "<person><pname>Boun</pname><age>12</age></person>"
    + "</household>"
    + '<remarks>line one\nline two, "quoted"</remarks>'
    + f"<meta><instanceID>{A}</instanceID></meta></data>"
)
B_XML = (
    _OPEN.format(v=1)
    + "<deviceid/>"
    + "<respondent><name>=SUM(A1)</name><visit_date>2026-03-02</visit_date></respondent>"
    + "<area_m2>80</area_m2><old_notes>kept in version 1</old_notes><hazards>ied</hazards>"
    + "<location/><boundary/><photo/>"
    + "<household><person><pname>Somchai</pname><age/></person></household>"
    + "<remarks>@risk +1</remarks>"
    + f"<meta><instanceID>{B}</instanceID></meta></data>"
)
C_XML = (
    _OPEN.format(v=2)
    + "<deviceid>collect:Xk2ha8</deviceid>"
    + "<respondent><name>Khamla (draft)</name><visit_date>2026-03-03</visit_date></respondent>"
    + "<area_m2>1</area_m2><hazards>mine</hazards>"
    + f"<meta><instanceID>{C}</instanceID></meta></data>"
)
C_EDIT_XML = (
    _OPEN.format(v=2)
    + "<deviceid>collect:Xk2ha8</deviceid>"
    + "<respondent><name>Khamla</name><visit_date>2026-03-03</visit_date></respondent>"
    + "<area_m2>0.75</area_m2><hazards/><location>17.5 102.5</location>"
    + "<boundary/><route/><photo/>"
    + "<household>"
    + "<person><pname>Vanh</pname><age>40</age>"
    + "<injury><kind>amputation</kind><injury_date>2024-06-30</injury_date></injury></person>"
    + "<person><pname>Dao</pname><age>38</age>"
    + "<injury><kind>shrapnel</kind><injury_date>2024-06-30</injury_date></injury></person>"
    + "</household><remarks/>"
    + f"<meta><instanceID>{C_EDIT}</instanceID><deprecatedID>{C}</deprecatedID></meta></data>"
)


@dataclass
class Survey:
    project: Project
    device: Device
    viewer: LoggedIn
    coordinator: LoggedIn

    def url(self, suffix: str) -> str:
        return f"/api/v1/projects/{self.project.id}/forms/hazard_survey/submissions{suffix}"

    def expected(self, name: str) -> str:
        text = (EXPECTED / name).read_text(encoding="utf-8")
        return text.replace("{submitter}", str(self.device.app_user_id))


def send(
    client: FlaskClient, device: Device, xml: str, files: dict[str, bytes] | None = None
) -> None:
    response = client.post(
        device.base_path + "/submission",
        data=form_data(xml.encode("utf-8"), files),
        headers=OPENROSA,
    )
    assert response.status_code == 201, response.data


def publish_survey(factories: Factories, project: Project) -> None:
    for version in (1, 2):
        name = f"hazard_survey_v{version}.xml"
        factories.publish_bytes(project, name, (FIXTURES / name).read_bytes())


@pytest.fixture
def survey(client: FlaskClient, factories: Factories) -> Survey:
    project = factories.project()
    publish_survey(factories, project)
    device = factories.device(project)
    coordinator = factories.logged_in(project, "coordinator")
    survey = Survey(project, device, factories.logged_in(project, "viewer"), coordinator)
    send(client, device, A_XML, {PHOTO_NAME: PHOTO})
    send(client, device, B_XML)
    send(client, device, C_XML)
    send(client, device, C_EDIT_XML)
    review = client.patch(
        f"/api/v1/projects/{project.id}/forms/hazard_survey/submissions/{B}",
        json={"review_state": "approved"},
        headers=coordinator.headers,
    )
    assert review.status_code == 200, review.data
    # Pin the arrival times so the expected files can name them.
    with factories.session() as session, session.begin():
        for instance_id, moment in RECEIVED.items():
            session.execute(
                update(Submission)
                .where(Submission.root_instance_id == instance_id)
                .values(created_at=moment)
            )
    return survey
