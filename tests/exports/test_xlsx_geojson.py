"""The XLSX (a sheet per table, typed cells, text never a formula) and the GeoJSON (structure
and coordinate order) exports of the hazard survey."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from decimal import Decimal

from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.exports.conftest import C_EDIT, A, B, C, Survey


def test_the_workbook_has_a_sheet_per_table_with_typed_cells(
    client: FlaskClient, survey: Survey
) -> None:
    response = client.get(survey.url(".xlsx"), headers=survey.viewer.headers)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="hazard_survey.xlsx"'
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["hazard_survey", "person", "injury"]
    root = book["hazard_survey"]
    assert root.freeze_panes == "A2"
    rows = list(root.iter_rows(values_only=True))
    header = list(rows[0])
    # The same columns as the CSV.
    assert ",".join(header) == survey.expected("hazard_survey.csv").split("\n")[0]
    by_key = {r[header.index("KEY")]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert list(by_key) == [C, B, A]
    a = by_key[A]
    assert a["SubmissionDate"] == datetime(2026, 3, 1, 8, 15, 0, 123000)
    assert a["respondent-visit_date"] == datetime(2026, 3, 1)  # a date cell
    assert a["area_m2"] == 1250.5
    assert a["location-Latitude"] == 17.9757
    assert a["respondent-name"] == 'ສົມພອນ "Noy" ແກ້ວ'
    assert a["remarks"] == 'line one\nline two, "quoted"'
    assert a["AttachmentsPresent"] == 1
    assert by_key[C]["meta-instanceID"] == C_EDIT
    assert by_key[C]["Edits"] == 1
    # A value that looks like a formula stays text.
    cell = next(c for c in root[3] if c.value == "=SUM(A1)")
    assert cell.data_type == "s"
    assert next(c for c in root[3] if c.value == "@risk +1").data_type == "s"
    person = list(book["person"].iter_rows(values_only=True))
    assert person[0] == ("pname", "age", "PARENT_KEY", "KEY")
    assert person[1] == ("Vanh", 40, C, f"{C}/household/person[1]")
    assert person[3] == ("Somchai", None, B, f"{B}/household/person[1]")
    injury = list(book["injury"].iter_rows(values_only=True))
    assert injury[3][:2] == ("fragment, left leg", datetime(2025, 12, 1))
    assert len(injury) == 5


def test_the_typed_values_survive_a_round_trip() -> None:
    from server.exports.tables import Column, ColumnKind, Field
    from server.exports.xlsx import _typed

    decimal = Column("x", ColumnKind.VALUE, Field("/x", "x", "decimal"))
    assert _typed(decimal, "0.75") == Decimal("0.75")
    assert _typed(decimal, "not a number") is None
    day = Column("d", ColumnKind.VALUE, Field("/d", "d", "date"))
    assert _typed(day, "2026-03-01") == date(2026, 3, 1)
    moment = Column("t", ColumnKind.VALUE, Field("/t", "t", "dateTime"))
    assert _typed(moment, "2026-03-01T10:00:00.000+07:00") == datetime(2026, 3, 1, 3, 0)


def test_the_geojson_has_one_feature_per_located_submission(
    client: FlaskClient, survey: Survey
) -> None:
    response = client.get(survey.url(".geojson"), headers=survey.viewer.headers)
    assert response.status_code == 200
    assert response.content_type == "application/geo+json"
    collection = json.loads(response.data)
    assert collection["type"] == "FeatureCollection"
    # B has no location.
    assert [f["id"] for f in collection["features"]] == [C, A]
    for feature in collection["features"]:
        assert feature["type"] == "Feature"
        assert set(feature) == {"type", "id", "geometry", "properties"}
    c, a = collection["features"]
    # Longitude first (RFC 7946), altitude third when known.
    assert a["geometry"] == {"type": "Point", "coordinates": [102.6331, 17.9757, 170.5]}
    assert c["geometry"] == {"type": "Point", "coordinates": [102.5, 17.5]}
    assert a["properties"]["respondent-name"] == 'ສົມພອນ "Noy" ແກ້ວ'
    assert a["properties"]["KEY"] == A
    assert a["properties"]["ReviewState"] is None


def test_geojson_of_a_shape_or_a_trace(client: FlaskClient, survey: Survey) -> None:
    shape = client.get(survey.url(".geojson?field=boundary"), headers=survey.viewer.headers)
    [feature] = json.loads(shape.data)["features"]
    assert feature["geometry"] == {
        "type": "Polygon",
        "coordinates": [
            [[102.63, 17.97, 0.0], [102.63, 17.98, 0.0], [102.64, 17.98, 0.0], [102.63, 17.97, 0.0]]
        ],
    }
    trace = client.get(survey.url(".geojson?field=/route"), headers=survey.viewer.headers)
    [feature] = json.loads(trace.data)["features"]
    assert feature["geometry"]["type"] == "LineString"
    assert feature["geometry"]["coordinates"][1] == [102.65, 17.99, 0.0]


def test_geojson_refuses_a_field_that_is_not_on_the_map(
    client: FlaskClient, survey: Survey
) -> None:
    response = client.get(survey.url(".geojson?field=remarks"), headers=survey.viewer.headers)
    assert response.status_code == 400
    assert response.json["code"] == "export.bad_option"
    assert "location, boundary, route" in response.json["detail"]
