"""A year of field work in two provinces and two donors funding parts of it.

Reports go through the real intake (``submission_arrives``, the service behind the OpenRosa and
sync routes) and a data verifier's decision (``review_submission``); donors, agreements and
transactions through the JSON API. The expected figures in the tests are worked out by hand
from the table below.

Released m² are cancelled / reduced (with + without an asset) / cleared.

- hz1, hz2, hz3 hazard_report: HA-0001 (LA09/LA0901), HA-0002 (LA09/LA0902), HA-0003
  (LA13/LA1301); tasks NTS-01, NTS-01, NTS-02; 2026-01-05/06/07; approved.
- c1 clearance_report, HA-0001, T-01, 2026-03-10: 100 / 200+50 / 1000; 3 cmr blu_26 destroyed
  in situ, 1 cmr blu_61 held for later destruction (EO-TAG00001); approved.
- c2 clearance_report, HA-0002, T-02, 2026-05-20: 0 / 0 / 2000; 2 uxo projectile_105 in situ.
- c3 clearance_report, HA-0003, T-03, 2026-06-15: 0 / 300 / 5000; approved.
- c4 clearance_report, HA-0001, T-01, 2025-12-20: 0 / 0 / 999; approved, outside the periods.
- c5 clearance_report, HA-0003, T-03, 2026-06-20: 0 / 0 / 777, 9 uxo in situ; NOT approved.
- k1 completion_report, HA-0001, T-01, 2026-07-01: 250 / 0 / 500; approved.
- d1 eod_report (later destruction), T-01, 2026-04-02: EO-TAG00001 (found by c1), 1 cmr blu_61.
- e1 eore_session, LA09/LA0901, 2026-02-01: 22 people (girls 0-9 5, boys 0-9 4,
  women 18-45 10, men 46+ 3).
- e2 eore_session, LA13/LA1301, 2026-08-01: 15 people (girls 10-17 7, boys 10-17 8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from server.accounts.models import Role
from server.db import transaction
from server.entities.models import Entity, EntityList
from server.forms.models import Form, FormVersion
from server.intake.service import review_submission, submission_arrives
from server.projects.models import Project
from server.submissions import service as submissions
from server.submissions.models import ReviewState, Submission
from tests.donors.builders import instance_xml
from tests.factories import Factories, LoggedIn

YEAR = 2026


@dataclass
class Coalition:
    factories: Factories
    client: FlaskClient
    project: Project
    coordinator: LoggedIn
    forms: dict[str, FormVersion]
    areas: dict[str, str] = field(default_factory=dict)  # HA code -> entity id
    donors: dict[str, int] = field(default_factory=dict)
    agreements: dict[str, int] = field(default_factory=dict)
    instances: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"/api/v1/projects/{self.project.id}"

    def receive(
        self,
        key: str,
        form_id: str,
        values: dict[str, Any],
        *,
        repeats: dict[str, list[dict[str, Any]]] | None = None,
        entity: dict[str, str] | None = None,
        approve: bool = True,
    ) -> str:
        ident, xml = instance_xml(self.forms[form_id].xml, values, repeats=repeats, entity=entity)
        with transaction(self.factories.runtime.session_factory) as session:
            project = session.get(Project, self.project.id)
            assert project is not None
            result = submission_arrives(
                session, project, xml, submitter=submissions.Submitter(app_user_id=None)
            )
            if approve:
                submission = session.get(Submission, result.submission.id)
                assert submission is not None
                review_submission(
                    session, submission, ReviewState.APPROVED, self.coordinator.user.id
                )
        self.instances[key] = ident
        return ident

    def entity(self, code: str) -> Entity:
        with self.factories.session() as session:
            return session.scalars(
                select(Entity)
                .join(EntityList, EntityList.id == Entity.list_id)
                .where(
                    EntityList.project_id == self.project.id,
                    EntityList.name == "hazard_areas",
                    Entity.uuid == self.areas[code],
                )
            ).one()

    def post(self, path: str, body: dict[str, Any], who: LoggedIn | None = None) -> Any:
        response = self.client.post(
            self.base + path, json=body, headers=(who or self.coordinator).headers
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def _hazard(c: Coalition, key: str, code: str, admin1: str, admin2: str, day: str) -> None:
    uuid = f"{code.lower()}-0000-4000-8000-000000000000"
    c.areas[code] = uuid
    c.receive(
        key,
        "hazard_report",
        {
            "date_of_information": day,
            "organisation": "NPA",
            "task_id": "NTS-01" if admin1 == "LA09" else "NTS-02",
            "report_mode": "new_area",
            "ha_code": code,
            "hazard_type": "cha",
            "status": "confirmed",
            "admin1": admin1,
            "admin2": admin2,
            "contamination_types": "cmr",
            "evidence": "direct",
            "estimated_area_m2": "20000",
            "remaining_area_m2": "20000",
        },
        entity={"id": uuid, "create": "1", "update": "0", "label": code},
    )


def _clearance(
    c: Coalition,
    key: str,
    code: str,
    task: str,
    day: str,
    released: tuple[float, float, float, float],
    devices: list[dict[str, Any]] | None = None,
    *,
    approve: bool = True,
    form_id: str = "clearance_report",
) -> None:
    entity = c.entity(code)
    cancelled, reduced_asset, reduced_no_asset, cleared = released
    values: dict[str, Any] = {
        "date_of_information": day,
        "organisation": "NPA",
        "task_id": task,
        "hazard_area": entity.uuid,
        "area_cancelled_m2": cancelled,
        "area_reduced_asset_m2": reduced_asset,
        "area_reduced_no_asset_m2": reduced_no_asset,
        "area_cleared_m2": cleared,
        "status": "in_clearance" if form_id == "clearance_report" else "cleared",
    }
    if form_id == "clearance_report":
        values.update(method="clearance", period_start=day, period_end=day)
    c.receive(
        key,
        form_id,
        values,
        repeats={"devices": devices or []} if form_id == "clearance_report" else None,
        entity={
            "id": entity.uuid,
            "update": "1",
            "baseVersion": str(entity.current_version),
            "trunkVersion": str(entity.current_version),
            "branchId": "",
        },
        approve=approve,
    )


def _device(
    category: str, model: str, quantity: int, disposal: str, ref: str = ""
) -> dict[str, Any]:
    return {
        "device_id": f"dev-{model}-{quantity}",
        "device_category": category,
        "device_model": model,
        "quantity": quantity,
        "disposal": disposal,
        "holding_ref": ref,
    }


def _eore(c: Coalition, key: str, admin1: str, admin2: str, day: str, **counts: int) -> None:
    cells = ["girls_0_9", "boys_0_9", "girls_10_17", "boys_10_17", "women_18_45", "men_18_45"]
    cells += ["women_46_plus", "men_46_plus"]
    values: dict[str, Any] = {name: counts.get(name, 0) for name in cells}
    values.update(
        date_of_information=day,
        organisation="HI",
        admin1=admin1,
        admin2=admin2,
        method="face_to_face",
        audience="community",
        total_beneficiaries=sum(counts.values()),
    )
    c.receive(key, "eore_session", values)


@pytest.fixture
def field_year(factories: Factories, client: FlaskClient) -> Coalition:
    """The reports of the table above, without donors."""
    project = factories.project("Lao coalition")
    factories.publish_library(project)
    coordinator = factories.logged_in(project, Role.COORDINATOR)
    with factories.session() as session:
        rows = session.execute(
            select(Form.xml_form_id, FormVersion)
            .join(FormVersion, FormVersion.form_id == Form.id)
            .where(Form.project_id == project.id)
        ).all()
    c = Coalition(factories, client, project, coordinator, {f: v for f, v in rows})
    _hazard(c, "hz1", "HA-0001", "LA09", "LA0901", "2026-01-05")
    _hazard(c, "hz2", "HA-0002", "LA09", "LA0902", "2026-01-06")
    _hazard(c, "hz3", "HA-0003", "LA13", "LA1301", "2026-01-07")
    _clearance(
        c,
        "c1",
        "HA-0001",
        "T-01",
        "2026-03-10",
        (100, 200, 50, 1000),
        [
            _device("cmr", "blu_26", 3, "destroyed_in_situ"),
            _device("cmr", "blu_61", 1, "removed_for_destruction", "EO-TAG00001"),
        ],
    )
    _clearance(
        c,
        "c2",
        "HA-0002",
        "T-02",
        "2026-05-20",
        (0, 0, 0, 2000),
        [_device("uxo", "projectile_105", 2, "destroyed_in_situ")],
    )
    _clearance(c, "c3", "HA-0003", "T-03", "2026-06-15", (0, 300, 0, 5000))
    _clearance(c, "c4", "HA-0001", "T-01", "2025-12-20", (0, 0, 0, 999))
    _clearance(
        c,
        "c5",
        "HA-0003",
        "T-03",
        "2026-06-20",
        (0, 0, 0, 777),
        [_device("uxo", "projectile_105", 9, "destroyed_in_situ")],
        approve=False,
    )
    _clearance(
        c, "k1", "HA-0001", "T-01", "2026-07-01", (250, 0, 0, 500), form_id="completion_report"
    )
    c.receive(
        "d1",
        "eod_report",
        {
            "date_of_information": "2026-04-02",
            "organisation": "NPA",
            "task_id": "T-01",
            "report_type": "later_destruction",
            "destruction_date": "2026-04-02",
        },
        repeats={
            "devices": [],
            "destroyed_items": [
                {
                    "destroyed_item_id": "item-1",
                    "destroyed_holding_ref": "EO-TAG00001",
                    "destroyed_category": "cmr",
                    "destroyed_model": "blu_61",
                    "destroyed_quantity": 1,
                    "destruction_method": "demolition",
                }
            ],
        },
    )
    _eore(
        c,
        "e1",
        "LA09",
        "LA0901",
        "2026-02-01",
        girls_0_9=5,
        boys_0_9=4,
        women_18_45=10,
        men_46_plus=3,
    )
    _eore(c, "e2", "LA13", "LA1301", "2026-08-01", girls_10_17=7, boys_10_17=8)
    return c


def _agreement(
    identifier: str, title: str, currency: str, end: str, **scope: Any
) -> dict[str, Any]:
    return {
        "iati_identifier": identifier,
        "title": title,
        "amount": 500000,
        "currency": currency,
        "period_start": "2026-01-01",
        "period_end": end,
        **scope,
    }


@pytest.fixture
def coalition(field_year: Coalition) -> Coalition:
    """Two donors: A (UK) funds HA-0001 and HA-0002 for the year (A1) and the district of Pek
    for the first half (A2); B (UNDP) funds tasking order T-03 and Savannakhet (B1)."""
    c = field_year
    c.donors["A"] = c.post(
        "/donors", {"name": "United Kingdom FCDO", "iati_org_ref": "GB-GOV-1", "org_type": "10"}
    )["id"]
    c.donors["B"] = c.post(
        "/donors", {"name": "UNDP", "iati_org_ref": "XM-DAC-41114", "org_type": "40"}
    )["id"]
    a, b = c.donors["A"], c.donors["B"]
    c.agreements["A1"] = c.post(
        f"/donors/{a}/agreements",
        _agreement(
            "GB-GOV-1-MA-2026",
            "Clearance of cluster munition remnants in Xiengkhuang",
            "USD",
            "2026-12-31",
            hazard_areas=[c.areas["HA-0001"], "HA-0002"],
            description="Survey and clearance of two confirmed hazardous areas.",
            actual_start="2026-01-05",
            actual_end="2026-11-30",
            participating_orgs=[
                {
                    "name": "Norwegian People's Aid",
                    "iati_org_ref": "NO-BRC-971277882",
                    "role": 4,
                    "org_type": "21",
                },
                {"name": "National Regulatory Authority", "role": 2},
            ],
        ),
    )["id"]
    c.agreements["A2"] = c.post(
        f"/donors/{a}/agreements",
        _agreement(
            "GB-GOV-1-EORE-2026",
            "Pek district, first half",
            "GBP",
            "2026-06-30",
            admin_areas=["LA0901"],
        ),
    )["id"]
    c.agreements["B1"] = c.post(
        f"/donors/{b}/agreements",
        _agreement(
            "XM-DAC-41114-LAO-77",
            "Savannakhet land release",
            "USD",
            "2026-12-31",
            activities=["T-03"],
            admin_areas=["LA13"],
        ),
    )["id"]
    for agreement, kind, day, value in (
        ("A1", "commitment", "2026-01-15", 500000),
        ("A1", "disbursement", "2026-03-01", 200000),
        ("A1", "disbursement", "2026-09-01", 150000),
        ("A1", "expenditure", "2026-10-01", 90000),
        ("A1", "commitment", "2025-12-01", 100000),
        ("A2", "commitment", "2026-02-01", 80000),
        ("A2", "disbursement", "2026-02-15", 40000),
        ("B1", "commitment", "2026-01-10", 300000),
        ("B1", "disbursement", "2026-04-01", 120000),
        ("B1", "disbursement", "2027-01-05", 50000),
    ):
        donor = a if agreement.startswith("A") else b
        c.post(
            f"/donors/{donor}/agreements/{c.agreements[agreement]}/transactions",
            {"type": kind, "date": day, "value": value},
        )
    return c
