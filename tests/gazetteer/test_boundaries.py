"""Admin boundaries: reading a COD-AB style GeoJSON file, simplifying it for the web, the
command that stores it (refusals that change nothing), the bundled provinces stored at
``init``, and the file the maps download."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from server.cli import main as server_cli
from server.gazetteer import boundaries, service
from server.gazetteer.boundaries import BoundaryError, parse_boundaries
from server.gazetteer.models import GazetteerBoundary
from server.projects.models import Project
from tests.factories import Factories

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "boundaries_adm1.geojson"
SQUARE = [[[102.0, 19.0], [103.0, 19.0], [103.0, 20.0], [102.0, 20.0], [102.0, 19.0]]]


def collection(*features: dict[str, Any]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def feature(geometry: Any = None, **properties: Any) -> dict[str, Any]:
    shape = {"type": "Polygon", "coordinates": SQUARE} if geometry is None else geometry
    return {"type": "Feature", "properties": properties, "geometry": shape}


def points(geometry: dict[str, Any]) -> int:
    polygons = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    return sum(len(ring) for polygon in polygons for ring in polygon)


def test_the_deepest_p_code_property_names_the_feature_and_another_can_be_chosen() -> None:
    district = feature(ADM0_PCODE="LA", ADM1_PCODE="LA09", ADM2_PCODE="la0901", ADM2_EN="Pek")
    assert [b.pcode for b in parse_boundaries(collection(district))] == ["LA0901"]
    chosen = parse_boundaries(collection(district), pcode_property="ADM1_PCODE")
    assert [b.pcode for b in chosen] == ["LA09"]
    assert [b.pcode for b in parse_boundaries(collection(feature(pcode="KH01")))] == ["KH01"]


def test_simplified_for_the_web_closed_and_valid() -> None:
    shapes = parse_boundaries(FIXTURE.read_bytes())
    source = json.loads(FIXTURE.read_text(encoding="utf-8"))["features"]
    assert [b.pcode for b in shapes] == ["LA09", "LA13"]
    for shape, original in zip(shapes, source, strict=True):
        assert shape.geometry["type"] == original["geometry"]["type"]
        assert points(shape.geometry) < points(original["geometry"]) / 10  # 201 points a square
        polygons = shape.geometry["coordinates"]
        for polygon in [polygons] if shape.geometry["type"] == "Polygon" else polygons:
            for ring in polygon:
                assert len(ring) >= 4 and ring[0] == ring[-1]
    # The corners survive: the outline still covers what it did.
    ring = shapes[0].geometry["coordinates"][0]
    assert {(102.9, 19.1), (103.6, 19.1), (103.6, 19.8), (102.9, 19.8)} <= {tuple(p) for p in ring}


def test_a_ring_smaller_than_the_tolerance_is_kept_rather_than_lost() -> None:
    tiny = [[[102.0, 19.0], [102.001, 19.0], [102.001, 19.001], [102.0, 19.0]]]
    shapes = parse_boundaries(
        collection(feature({"type": "Polygon", "coordinates": tiny}, pcode="LA01"))
    )
    assert len(shapes[0].geometry["coordinates"][0]) == 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"admin_level,pcode\n1,LA01\n", "not GeoJSON"),
        (
            json.dumps({"type": "Feature"}).encode(),
            "not GeoJSON: the file must be a FeatureCollection",
        ),
        (collection(), "has no features"),
        (collection(feature(name="Pek")), "feature 1: it has no a P-code property"),
        (
            collection(feature(pcode="LA01"), feature(pcode="LA01")),
            "feature 2: P-code LA01 appears twice",
        ),
        (
            collection(feature({"type": "Point", "coordinates": [102, 19]}, pcode="LA01")),
            "feature 1 (LA01): a boundary is a Polygon or MultiPolygon, not 'Point'",
        ),
        (
            collection(feature({"type": "Polygon", "coordinates": [SQUARE[0][:-1]]}, pcode="LA01")),
            "feature 1 (LA01): a ring is not closed",
        ),
        (
            collection(
                feature(
                    {"type": "Polygon", "coordinates": [[[1e6, 19], [2, 3], [4, 5], [1e6, 19]]]},
                    pcode="LA01",
                )
            ),
            "is not a longitude and latitude",
        ),
        (
            collection(feature(None, pcode="LA01") | {"geometry": None}),
            "feature 1 (LA01): it has no geometry",
        ),
    ],
)
def test_a_file_that_is_no_boundary_file_is_refused_with_the_feature_named(
    data: bytes, message: str
) -> None:
    with pytest.raises(BoundaryError) as raised:
        parse_boundaries(data)
    assert message in str(raised.value)


def run(database_url: str, tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(
        server_cli,
        args,
        env={"DATABASE_URL": database_url, "FIELDSYNC_DATA_DIR": str(tmp_path / "d")},
    )
    return result.exit_code, result.output.strip().splitlines()


def stored(factories: Factories, project_id: int) -> dict[str, str]:
    with factories.session() as session:
        rows = session.execute(
            select(GazetteerBoundary.pcode, GazetteerBoundary.geometry).where(
                GazetteerBoundary.project_id == project_id
            )
        )
        return {pcode: geometry for pcode, geometry in rows}


def with_gazetteer(factories: Factories) -> Project:
    project = factories.project()
    with factories.session() as session:
        db_project = session.get(Project, project.id)
        assert db_project is not None
        service.publish(session, factories.runtime.blobs, db_project)
        session.commit()
    return project


def test_the_command_stores_the_boundaries_and_refuses_without_changing_anything(
    factories: Factories, database_url: str, tmp_path: Path
) -> None:
    project = with_gazetteer(factories)
    bundled = stored(factories, project.id)
    assert len(bundled) == 17 and "LA18" not in bundled  # Natural Earth has no Xaysomboun
    code, lines = run(
        database_url,
        tmp_path,
        "gazetteer",
        "boundaries",
        str(FIXTURE),
        "--project",
        str(project.id),
    )
    assert code == 0, lines
    assert len(lines) == 1 and lines[0].startswith("boundaries: 2 at level 1 (")
    assert "no boundary for 16 area(s): LA01, LA02," in lines[0]
    mine = stored(factories, project.id)
    assert sorted(mine) == ["LA09", "LA13"]  # the file's level replaced the bundled outlines
    unknown = tmp_path / "unknown.geojson"
    unknown.write_bytes(collection(feature(ADM1_PCODE="LA09"), feature(ADM1_PCODE="LA99")))
    broken = tmp_path / "broken.geojson"
    broken.write_bytes(
        collection(feature({"type": "Polygon", "coordinates": [[[1, 2]]]}, pcode="LA09"))
    )
    csv = tmp_path / "areas.csv"
    csv.write_text("admin_level,pcode\n", encoding="utf-8")
    for path, message in [
        (unknown, "error: unknown.geojson: P-code LA99 is not an area of the project's gazetteer"),
        (broken, "error: broken.geojson: feature 1 (LA09): a ring needs at least 4 positions"),
        (csv, "error: areas.csv: not GeoJSON"),
    ]:
        code, lines = run(
            database_url,
            tmp_path,
            "gazetteer",
            "boundaries",
            str(path),
            "--project",
            str(project.id),
        )
        assert code == 1, lines
        assert len(lines) == 1 and lines[0].startswith(message), lines
        assert stored(factories, project.id) == mine
    code, lines = run(database_url, tmp_path, "gazetteer", "boundaries", str(tmp_path / "none"))
    assert code == 2 and lines == [f"error: {tmp_path / 'none'}: no such file"]


def test_a_new_import_of_the_areas_keeps_the_boundaries(
    factories: Factories, database_url: str, tmp_path: Path
) -> None:
    project = with_gazetteer(factories)
    path = tmp_path / "lao.csv"
    path.write_bytes(Path(boundaries.BUNDLED_BOUNDARIES).with_name("lao_pdr.csv").read_bytes())
    code, lines = run(
        database_url, tmp_path, "gazetteer", "import", str(path), "--project", str(project.id)
    )
    assert code == 0, lines
    assert len(stored(factories, project.id)) == 17


def test_the_maps_file_names_each_area_and_its_version_follows_the_imports(
    factories: Factories,
) -> None:
    project = with_gazetteer(factories)
    with factories.session() as session:
        before = service.boundaries_version(session, project.id)
        body = json.loads(service.boundaries_geojson(session, project.id))
        db_project = session.get(Project, project.id)
        assert db_project is not None
        service.import_boundaries(session, db_project, FIXTURE.name, FIXTURE.read_bytes())
        session.commit()
        after = service.boundaries_version(session, project.id)
    assert before and after and before != after
    assert len(body["features"]) == 17
    first = body["features"][0]
    assert first["id"] == "LA01"
    assert first["properties"] == {"pcode": "LA01", "level": 1, "name": "Vientiane Capital"}
    assert first["geometry"]["type"] in ("Polygon", "MultiPolygon")
    with factories.session() as session:
        assert service.boundaries_version(session, factories.project().id) == ""
