"""A year of a coalition's reports (2026, with a few from 2025 and 2027 that must not count):
two provinces (Xiengkhuang LA09, Sekong LA15), three operators (MAG, HALO, NPA), non-technical
and technical survey, clearance, completion, EOD, risk education, accidents and survivors.

Every report is sent the way ODK Collect sends it (multipart POST to the OpenRosa route, with
an app user's token) and approved the way a data verifier does (PATCH on the submissions API),
so the reporting tables are filled by the real intake. tests/reports/test_figures.py holds the
hand-computed figures.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select

from server.accounts.models import Role
from server.forms.models import Form, FormVersion
from server.projects.models import Project
from tests.entities.builders import Filled
from tests.factories import Device, Factories, LoggedIn
from tests.openrosa.helpers import OPENROSA, form_data

HA = {n: str(uuid.UUID(int=n)) for n in range(1, 6)}
PLACES = {
    1: ("LA09", "LA0901"),
    2: ("LA09", "LA0902"),
    3: ("LA15", "LA1501"),
    4: ("LA15", "LA1501"),
    5: ("LA09", "LA0901"),
}


@dataclass
class Coalition:
    client: FlaskClient
    project: Project
    device: Device
    coordinator: LoggedIn
    viewer: LoggedIn
    admin: LoggedIn
    forms: dict[str, FormVersion]
    sent: dict[str, str] = field(default_factory=dict)  # name -> instanceID

    def api(self, suffix: str) -> str:
        return f"/api/v1/projects/{self.project.id}{suffix}"

    def get(self, suffix: str, who: LoggedIn | None = None, **headers: str) -> Any:
        return self.client.get(
            self.api(suffix), headers={**(who or self.viewer).headers, **headers}
        )

    def send(
        self,
        name: str,
        form_id: str,
        fields: dict[str, str],
        *,
        repeats: dict[str, list[dict[str, str]]] | None = None,
        entity: str = "",
        create: bool = False,
        values: dict[str, str] | None = None,
        date: str,
        approve: bool = True,
        edit_of: str | None = None,
    ) -> str:
        filled = Filled(
            form_id=form_id,
            form=self.forms[form_id],
            entity_id=entity,
            create=create,
            update=bool(entity) and not create,
            base_version=None if create or not entity else 1,
            trunk_version=None if create or not entity else 1,
            label=f"{fields.get('ha_code', 'HA')} area" if create else None,
            values=values or {},
            date_of_information=date,
            deprecated_id=edit_of,
        )
        if filled.form.entity_spec:
            root = etree.fromstring(filled.xml())
        else:
            root = etree.Element("data", id=form_id, version=filled.form.version)
            etree.SubElement(root, "deviceid").text = filled.device_id
            etree.SubElement(root, "date_of_information").text = date
            meta = etree.SubElement(root, "meta")
            etree.SubElement(meta, "instanceID").text = filled.instance_id
            if edit_of:
                etree.SubElement(meta, "deprecatedID").text = edit_of
        meta = root.find("meta")
        assert meta is not None
        if not entity:
            for child in list(meta):
                if child.tag == "entity":
                    meta.remove(child)
        for key, value in fields.items():
            node = etree.Element(key)
            node.text = value
            meta.addprevious(node)
        for repeat, items in (repeats or {}).items():
            for item in items:
                node = etree.Element(repeat)
                for key, value in item.items():
                    etree.SubElement(node, key).text = value
                meta.addprevious(node)
        xml = etree.tostring(root, xml_declaration=True, encoding="utf-8")
        response = self.client.post(
            self.device.base_path + "/submission", data=form_data(xml), headers=OPENROSA
        )
        assert response.status_code == 201, response.data
        self.sent[name] = filled.instance_id
        if approve:
            self.review(form_id, filled.instance_id, "approved")
        return filled.instance_id

    def review(self, form_id: str, instance_id: str, state: str) -> None:
        answer = self.client.patch(
            self.api(f"/forms/{form_id}/submissions/{instance_id}"),
            json={"review_state": state},
            headers=self.coordinator.headers,
        )
        assert answer.status_code == 200, answer.data


def _area(
    n: int, code: str, kind: str, status: str, contamination: str, m2: float
) -> dict[str, str]:
    admin1, admin2 = PLACES[n]
    return {
        "ha_code": code,
        "hazard_type": kind,
        "status": status,
        "contamination_types": contamination,
        "estimated_area_m2": str(m2),
        "remaining_area_m2": str(m2),
        "admin1_pcode": admin1,
        "admin2_pcode": admin2,
        "admin_area": admin2,
    }


def device(
    category: str, model: str, quantity: int, disposal: str = "destroyed_in_situ"
) -> dict[str, str]:
    return {
        "device_id": str(uuid.uuid4()),
        "device_category": category,
        "device_model": model,
        "quantity": str(quantity),
        "disposal": disposal,
    }


def casualty(
    group: str, outcome: str, sex: str, age: str | None, age_group: str = ""
) -> dict[str, str]:
    item = {"casualty_id": str(uuid.uuid4()), "casualty_group": group}
    item |= {"casualty_outcome": outcome, "sex": sex}
    if age is not None:
        item |= {"age_known": "yes", "age": age, "age_band": "child" if int(age) < 18 else "adult"}
    else:
        item |= {"age_known": "no", "age_group": age_group, "age_band": age_group}
    return item


def area_report(c: Coalition, name: str, form: str, n: int, org: str, date: str, **kw: Any) -> str:
    """A clearance or completion report on hazard area ``n``."""
    released = {
        "area_cancelled_m2": str(kw.pop("cancelled", 0)),
        "area_reduced_asset_m2": str(kw.pop("reduced_asset", 0)),
        "area_reduced_no_asset_m2": str(kw.pop("reduced_no_asset", 0)),
        "area_cleared_m2": str(kw.pop("cleared", 0)),
        "area_adjustment_m2": "0",
    }
    fields = {"organisation": org, "task_id": f"T-{n}", "hazard_area": HA[n], **released}
    fields |= kw.pop("fields", {})
    values = {"status": kw.pop("status"), "remaining_area_m2": str(kw.pop("remaining"))}
    values |= kw.pop("values", {})
    return c.send(
        name,
        form,
        fields,
        entity=HA[n],
        values=values,
        date=date,
        repeats=kw.pop("repeats", None),
        approve=kw.pop("approve", True),
    )


def send_the_year(c: Coalition) -> None:
    def nts(name: str, n: int, org: str, date: str, area: dict[str, str], **fields: str) -> None:
        c.send(
            name,
            "hazard_report",
            {"organisation": org, "report_mode": "new_area", **fields},
            entity=HA[n],
            create=name.endswith("new"),
            values=area,
            date=date,
        )

    # Hazard areas recorded by non-technical survey (HA5 in 2025).
    nts("ha1 new", 1, "MAG", "2026-01-10", _area(1, "HA-0001", "sha", "suspected", "cmr", 10000))
    nts(
        "ha2 new", 2, "MAG", "2026-01-15", _area(2, "HA-0002", "cha", "confirmed", "cmr uxo", 20000)
    )
    nts("ha3 new", 3, "HALO", "2026-02-01", _area(3, "HA-0003", "sha", "suspected", "cmr", 5000))
    nts(
        "ha4 new", 4, "HALO", "2026-02-05", _area(4, "HA-0004", "sha", "suspected", "ap_mine", 8000)
    )
    nts("ha5 new", 5, "NPA", "2025-11-01", _area(5, "HA-0005", "sha", "suspected", "cmr", 3000))
    # A re-survey of HA1 cancels 2,000 m² (direct beneficiaries are counted at completion).
    resurvey = _area(1, "HA-0001", "sha", "suspected", "cmr", 8000)
    nts("ha1 resurvey", 1, "MAG", "2026-03-01", resurvey, area_cancelled_m2="2000")

    cmr_uxo = {"hazard_type": "cha", "contamination_types": "cmr uxo"}
    area_report(
        c, "ha2 ts", "clearance_report", 2, "MAG", "2026-04-10",
        fields={"method": "ts", "area_reduced_m2": "5000"}, reduced_asset=3000,
        reduced_no_asset=2000, status="reduced", remaining=15000, values=cmr_uxo,
        repeats={"devices": [device("cmr", "blu_26", 3),
                             device("uxo", "mortar_60", 1, "removed_for_destruction")]},
    )  # fmt: skip
    area_report(
        c, "ha2 clearance mag", "clearance_report", 2, "MAG", "2026-06-20",
        fields={"method": "clearance"}, cleared=10000, status="in_clearance", remaining=5000,
        values=cmr_uxo,
        repeats={"devices": [device("cmr", "blu_26", 4), device("cmr", "m77", 2),
                             device("cmr", "failed_cm", 1)]},
    )  # fmt: skip
    area_report(
        c, "ha2 clearance halo", "clearance_report", 2, "HALO", "2026-07-05",
        fields={"method": "clearance"}, cleared=1000, status="in_clearance", remaining=4000,
        values=cmr_uxo,
    )  # fmt: skip
    area_report(
        c, "ha3 completion", "completion_report", 3, "HALO", "2026-08-15",
        cancelled=1000, cleared=4000, status="cleared", remaining=0,
        fields={"direct_women": "3", "direct_men": "4", "direct_girls": "2", "direct_boys": "1"},
    )  # fmt: skip
    area_report(
        c, "ha4 clearance", "clearance_report", 4, "HALO", "2026-05-01",
        fields={"method": "clearance"}, cleared=2000, status="in_clearance", remaining=6000,
        values={"hazard_type": "sha", "contamination_types": "ap_mine"},
        repeats={"devices": [device("ap_mine", "pmn", 2)]},
    )  # fmt: skip
    area_report(
        c, "ha1 clearance unapproved", "clearance_report", 1, "MAG", "2026-09-01",
        fields={"method": "clearance"}, cleared=3000, status="in_clearance", remaining=5000,
        values={"hazard_type": "sha", "contamination_types": "cmr"}, approve=False,
    )  # fmt: skip
    area_report(
        c, "ha5 clearance", "clearance_report", 5, "NPA", "2026-10-10",
        fields={"method": "clearance"}, cleared=3000, status="cleared", remaining=0,
        values={"hazard_type": "sha", "contamination_types": "cmr"},
        repeats={"devices": [device("cmr", "blu_97", 5)]},
    )  # fmt: skip
    area_report(
        c, "ha2 clearance 2027", "clearance_report", 2, "MAG", "2027-01-10",
        fields={"method": "clearance"}, cleared=4000, status="cleared", remaining=0,
        values=cmr_uxo,
    )  # fmt: skip

    # EOD: the mortar bomb removed by the TS is destroyed later; a spot task in Sekong.
    c.send(
        "eod later", "eod_report",
        {"organisation": "MAG", "report_type": "later_destruction",
         "destruction_date": "2026-06-30"},
        repeats={"destroyed_items": [{"destroyed_item_id": "d1", "destroyed_category": "uxo",
                                      "destroyed_model": "mortar_60", "destroyed_quantity": "1"}]},
        date="2026-07-01",
    )  # fmt: skip
    c.send(
        "eod spot", "eod_report",
        {"organisation": "NPA", "report_type": "spot_task", "admin1": "LA15", "admin2": "LA1501"},
        repeats={"devices": [device("cmr", "blu_26", 2), device("uxo", "rpg_7", 1, "handed_over")]},
        date="2026-03-03",
    )  # fmt: skip

    # Risk education.
    e1 = {"girls_0_9": "5", "boys_0_9": "6", "girls_10_17": "7", "boys_10_17": "8"}
    e1 |= {"women_18_45": "10", "men_18_45": "9", "women_46_plus": "3", "men_46_plus": "2"}
    c.send("eore 1", "eore_session",
           {"organisation": "MAG", "admin1": "LA09", "admin2": "LA0901",
            "method": "face_to_face", **e1},
           date="2026-02-10")  # fmt: skip
    c.send("eore 2", "eore_session",
           {"organisation": "NPA", "admin1": "LA15", "admin2": "LA1501", "method": "school_lesson",
            "girls_10_17": "20", "boys_10_17": "22", "girls_0_9": "0"},
           date="2026-05-05")  # fmt: skip
    c.send("eore 3 unapproved", "eore_session",
           {"organisation": "NPA", "admin1": "LA15", "admin2": "LA1501", "method": "face_to_face",
            "women_18_45": "4", "men_18_45": "6"},
           date="2026-11-11", approve=False)  # fmt: skip

    # Accidents (one in 2025, which must not count).
    a1 = [
        casualty("civilian", "killed", "male", "12"),
        casualty("civilian", "injured", "male", "15"),
        casualty("civilian", "injured", "female", None, "adult"),
    ]
    a1 += [casualty("civilian", "injured", "male", age) for age in ("30", "40", "50")]
    c.send("accident 1", "accident_report",
           {"organisation": "NRA", "accident_date": "2026-04-01", "admin1": "LA09",
            "admin2": "LA0901", "accident_type": "mine_erw_accident", "device_category": "cmr"},
           repeats={"casualties": a1}, date="2026-04-03")  # fmt: skip
    a2 = [
        casualty("deminer", "injured", "male", "28"),
        casualty("military_security", "killed", "male", None, "adult"),
    ]
    a2 += [
        casualty("civilian", "injured", "male", "33"),
        casualty("civilian", "injured", "male", None, "adult"),
    ]
    a2 += [casualty("civilian", "unknown", "unknown", None, "unknown")]
    c.send("accident 2", "accident_report",
           {"organisation": "NRA", "accident_date": "2026-07-20", "admin1": "LA15",
            "admin2": "LA1501", "accident_type": "demining_accident", "device_category": "cmr"},
           repeats={"casualties": a2}, date="2026-07-21")  # fmt: skip
    c.send("accident 2025", "accident_report",
           {"organisation": "NRA", "accident_date": "2025-12-30", "admin1": "LA09",
            "admin2": "LA0901"},
           repeats={"casualties": [casualty("civilian", "killed", "female", "40")]},
           date="2026-01-02")  # fmt: skip

    # Survivors: two assessed with consent, one who declined; a follow-up.
    def referral(key: str, need: str, status: str) -> dict[str, str]:
        return {"referral_id": key, "referral_need": need, "referral_item_status": status}

    c.send("survivor 1", "survivor_needs_assessment",
           {"organisation": "HI", "consent_given": "yes", "survivor_code": "SV-0001",
            "admin1": "LA09", "admin2": "LA0901", "pii_full_name": "Not In Any Report"},
           repeats={"referrals": [referral("r1", "medical", "open"),
                                  referral("r2", "prosthesis", "open")]},
           date="2026-05-01")  # fmt: skip
    c.send("survivor 2", "survivor_needs_assessment",
           {"organisation": "HI", "consent_given": "yes", "survivor_code": "SV-0002",
            "admin1": "LA15", "admin2": "LA1501"},
           repeats={"referrals": [referral("r3", "medical", "in_progress")]},
           date="2026-06-01")  # fmt: skip
    c.send("survivor declined", "survivor_needs_assessment",
           {"organisation": "HI", "consent_given": "no"}, date="2026-06-10")  # fmt: skip
    c.send("followup 1", "survivor_followup",
           {"organisation": "HI", "survivor_code": "SV-0001", "contact_made": "reached"},
           repeats={"referral_updates": [referral("r1", "medical", "completed")],
                    "new_referrals": [{"new_referral_id": "r4", "new_referral_need": "livelihood",
                                       "new_referral_status": "open"}]},
           date="2026-08-01")  # fmt: skip


@pytest.fixture
def coalition(factories: Factories, client: FlaskClient) -> Coalition:
    c = _coalition(factories, client)
    send_the_year(c)
    return c


@pytest.fixture
def empty_coalition(factories: Factories, client: FlaskClient) -> Coalition:
    return _coalition(factories, client)


def _coalition(factories: Factories, client: FlaskClient) -> Coalition:
    project = factories.project("Coalition reports")
    factories.publish_library(project)
    with factories.session() as session:
        rows = session.execute(
            select(Form.xml_form_id, FormVersion)
            .join(FormVersion, FormVersion.form_id == Form.id)
            .where(Form.project_id == project.id)
        ).all()
    c = Coalition(
        client=client,
        project=project,
        device=factories.device(project, "team tablet"),
        coordinator=factories.logged_in(project, Role.COORDINATOR),
        viewer=factories.logged_in(project, Role.VIEWER),
        admin=factories.logged_in(project, Role.ADMINISTRATOR),
        forms={form_id: version for form_id, version in rows},
    )
    return c
