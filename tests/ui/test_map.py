"""The map's base layer over HTTP: the gazetteer's boundaries as one GeoJSON file the browser
keeps, named by the map page; a page that says how to import them when there are none."""

from __future__ import annotations

import html
import re

from sqlalchemy import delete

from server.gazetteer.models import GazetteerBoundary
from tests.ui.browserless import log_in
from tests.ui.conftest import Scene


def test_the_map_names_the_boundaries_file_which_the_browser_keeps(scene: Scene) -> None:
    http = log_in(scene.server.url, scene.people.viewer, scene.people.password)
    page = http.get(f"{scene.ui}/entities/hazard_areas/map", timeout=30)
    assert page.status_code == 200
    assert 'id="no-boundaries"' not in page.text
    found = re.search(r'data-boundaries="([^"]+)"', page.text)
    assert found is not None
    url = html.unescape(found.group(1))
    assert url.startswith(f"/ui/projects/{scene.project.id}/gazetteer/boundaries.geojson?v=")
    answer = http.get(f"{scene.server.url}{url}", timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/geo+json")
    assert answer.headers["Content-Encoding"] == "gzip"
    assert "immutable" in answer.headers["Cache-Control"]
    assert int(answer.headers["Content-Length"]) < 20_000  # 17 provinces, gzipped
    body = answer.json()
    names = {f["properties"]["pcode"]: f["properties"]["name"] for f in body["features"]}
    assert len(names) == 17 and names["LA09"] == "Xiengkhuang"  # the gazetteer's own name
    again = http.get(
        f"{scene.server.url}{url}", headers={"If-None-Match": answer.headers["ETag"]}, timeout=30
    )
    assert again.status_code == 304
    unversioned = http.get(f"{scene.ui}/gazetteer/boundaries.geojson", timeout=30)
    assert unversioned.headers["Cache-Control"] == "private, no-cache"
    stranger = scene.field.factories.user(email="stranger@example.org")
    other = log_in(scene.server.url, stranger.email, scene.people.password)
    assert other.get(f"{scene.server.url}{url}", timeout=30).status_code == 404


def test_without_boundaries_the_map_says_how_to_import_them(scene: Scene) -> None:
    with scene.field.factories.session() as session:
        session.execute(
            delete(GazetteerBoundary).where(GazetteerBoundary.project_id == scene.project.id)
        )
        session.commit()
    http = log_in(scene.server.url, scene.people.viewer, scene.people.password)
    page = http.get(f"{scene.ui}/entities/hazard_areas/map", timeout=30)
    assert page.status_code == 200
    assert 'id="no-boundaries"' in page.text
    assert "fieldsync-server gazetteer boundaries FILE" in page.text
    assert "data-boundaries=" not in page.text
