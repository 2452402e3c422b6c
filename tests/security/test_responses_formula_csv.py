"""Finding 7: an entity CSV for people carried spreadsheet formulas (``=HYPERLINK(...)``) as
they were typed on a tablet. The CSV for people now shows them as text; the CSV devices
download keeps every value raw (Collect reads it, no spreadsheet does)."""

from __future__ import annotations

import csv
import io
import uuid

from flask.testing import FlaskClient

from server.accounts.models import Role
from server.exports.people import safe_cell
from tests.entities.conftest import Field, field  # noqa: F401 (the fixture)
from tests.entities.test_entity_api import base
from tests.entities.test_entity_service import new_area

FORMULA = '=HYPERLINK("http://attacker.example/x","open the map")'


def test_the_csv_for_people_neutralises_formulas_and_the_device_csv_stays_raw(
    client: FlaskClient,
    field: Field,  # noqa: F811
) -> None:
    ha = str(uuid.uuid4())
    field.receive(new_area(field, ha, village=FORMULA))
    viewer = field.factories.logged_in(field.project, Role.VIEWER)
    response = client.get(
        f"{base(field)}/entity-lists/hazard_areas/entities.csv", headers=viewer.headers
    )
    assert response.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(response.data.decode("utf-8"))))
    assert row["village"] == "'" + FORMULA

    device = field.factories.device(field.project)
    raw = client.get(
        f"{device.base_path}/forms/hazard_report/attachments/hazard_areas.csv",
        headers={"X-OpenRosa-Version": "1.0"},
    )
    assert raw.status_code == 200
    [device_row] = list(csv.DictReader(io.StringIO(raw.data.decode("utf-8"))))
    assert device_row["village"] == FORMULA


def test_numbers_and_ordinary_text_are_left_as_they_are() -> None:
    assert safe_cell("-12.5") == "-12.5"
    assert safe_cell("+3") == "+3"
    assert safe_cell("1e3") == "1e3"
    assert safe_cell("Ban Na") == "Ban Na"
    assert safe_cell(42) == 42
    assert safe_cell("-x") == "'-x"
    assert safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert safe_cell("\tcmd") == "'\tcmd"
    assert safe_cell("+1-2") == "'+1-2"
