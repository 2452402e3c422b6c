"""Entity lists for people: ``entities.csv`` with ``__id``, label, properties, dates, version
and the open-conflict flag; GeoJSON refused precisely for a list without a geometry."""

from __future__ import annotations

import csv
import io

from flask.testing import FlaskClient

from server.accounts.models import Role
from server.exports.people import _shape
from tests.entities.conftest import Field, field  # noqa: F401 (the fixture)
from tests.entities.test_entity_api import base, hazard_area_with_conflict


def test_the_people_csv_has_ids_dates_versions_and_the_conflict_flag(
    client: FlaskClient,
    field: Field,  # noqa: F811
) -> None:
    ha, _early, _late = hazard_area_with_conflict(field)
    viewer = field.factories.logged_in(field.project, Role.VIEWER)
    response = client.get(
        f"{base(field)}/entity-lists/hazard_areas/entities.csv", headers=viewer.headers
    )
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    reader = csv.reader(io.StringIO(response.data.decode("utf-8")))
    header = next(reader)
    assert header[:2] == ["__id", "label"]
    assert header[-4:] == ["__createdAt", "__updatedAt", "__version", "__conflict"]
    assert "priority" in header
    [row] = [dict(zip(header, r, strict=True)) for r in reader]
    assert row["__id"] == ha
    assert row["__version"] == "3"
    assert row["__conflict"] == "hard"
    assert row["__createdAt"].endswith("Z") and len(row["__createdAt"]) == 24
    etag = response.headers["ETag"]
    again = client.get(
        f"{base(field)}/entity-lists/hazard_areas/entities.csv",
        headers={**viewer.headers, "If-None-Match": etag},
    )
    assert again.status_code == 304
    missing = client.get(f"{base(field)}/entity-lists/nothing/entities.csv", headers=viewer.headers)
    assert missing.status_code == 404


def test_geojson_of_a_list_without_geometry_is_refused_precisely(
    client: FlaskClient,
    field: Field,  # noqa: F811
) -> None:
    viewer = field.factories.logged_in(field.project, Role.VIEWER)
    response = client.get(
        f"{base(field)}/entity-lists/survivors/entities.geojson", headers=viewer.headers
    )
    assert response.status_code == 422
    assert response.json["code"] == "export.no_geometry"
    named = client.get(
        f"{base(field)}/entity-lists/hazard_areas/entities.geojson?property=colour",
        headers=viewer.headers,
    )
    assert named.status_code == 400
    assert named.json["detail"] == "property must be a property of 'hazard_areas', not 'colour'"


def test_a_hazard_area_is_mapped_by_its_perimeter(
    client: FlaskClient,
    field: Field,  # noqa: F811
) -> None:
    viewer = field.factories.logged_in(field.project, Role.VIEWER)
    response = client.get(
        f"{base(field)}/entity-lists/hazard_areas/entities.geojson", headers=viewer.headers
    )
    assert response.status_code == 200
    assert response.json["type"] == "FeatureCollection"
    assert response.headers["ETag"].startswith('"geojson-perimeter-')


def test_an_entity_geometry_reads_as_point_line_or_polygon() -> None:
    assert _shape("17.9 102.6 0 0") == {"type": "Point", "coordinates": [102.6, 17.9, 0.0]}
    assert _shape("17.9 102.6;18.0 102.7")["type"] == "LineString"  # type: ignore[index]
    ring = _shape("17.9 102.6;18.0 102.6;18.0 102.7;17.9 102.6")
    assert ring is not None and ring["type"] == "Polygon"
    assert ring["coordinates"][0][0] == [102.6, 17.9]
    assert _shape("not a place") is None
