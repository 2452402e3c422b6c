"""Reading a GeoJSON file of administrative boundaries and making it light enough for a web map.

Plain functions over plain data: no database, no Flask. The file is a FeatureCollection as
OCHA's Common Operational Datasets (COD-AB) publish it: one feature per area, its P-code in a
property such as ``ADM1_PCODE`` (``ADM2_PCODE`` in a district file, which also carries the
province's ``ADM1_PCODE``: the deepest level is the feature's own), and a Polygon or
MultiPolygon in longitude/latitude (WGS 84).

Geometries are simplified (Douglas-Peucker, :data:`TOLERANCE` degrees, about 500 m) and their
coordinates rounded to :data:`DECIMALS` places: a country's provinces then weigh tens of
kilobytes, not megabytes, and still draw true at the zoom a country or province is seen at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.gazetteer.core import PCODE_RE

TOLERANCE = 0.005  # degrees: about 550 m at the equator, less than a pixel at zoom 7
DECIMALS = 4  # about 11 m
BUNDLED_BOUNDARIES = (
    Path(__file__).resolve().parents[2] / "forms" / "gazetteer" / "lao_pdr_boundaries.geojson"
)
_LEVEL_PCODE = re.compile(r"^adm([0-9])_pcode$", re.IGNORECASE)
_PLAIN_PCODE = ("pcode", "p_code", "admin_pcode", "adm_pcode")

Ring = list[list[float]]
Polygon = list[Ring]


@dataclass(frozen=True)
class Boundary:
    """One area's outline: its P-code and a GeoJSON Polygon or MultiPolygon geometry."""

    pcode: str
    geometry: dict[str, Any]


class BoundaryError(ValueError):
    """The file is not a boundary file fieldsync can use; the message names the feature."""


def parse_boundaries(
    data: bytes, *, pcode_property: str | None = None, tolerance: float = TOLERANCE
) -> list[Boundary]:
    """The features of a GeoJSON FeatureCollection as simplified boundaries, one per P-code.

    Raises:
        BoundaryError: not JSON or not a FeatureCollection, a feature without its P-code, a
            P-code twice, or a geometry that is not a valid Polygon or MultiPolygon (the
            message names the feature, counting from 1).
    """
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BoundaryError(f"not GeoJSON: {exc}") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise BoundaryError("not GeoJSON: the file must be a FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise BoundaryError("the FeatureCollection has no features")
    boundaries: list[Boundary] = []
    seen: dict[str, int] = {}
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise BoundaryError(f"feature {number}: not a GeoJSON Feature")
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            raise BoundaryError(f"feature {number}: its properties are not an object")
        pcode = _pcode(number, properties, pcode_property)
        if pcode in seen:
            raise BoundaryError(
                f"feature {number}: P-code {pcode} appears twice (first in feature {seen[pcode]})"
            )
        seen[pcode] = number
        polygons = _polygons(number, pcode, feature.get("geometry"))
        boundaries.append(Boundary(pcode, _geometry(simplified(polygons, tolerance))))
    return boundaries


def pcode_key(properties: Mapping[str, Any], chosen: str | None = None) -> str | None:
    """The property that holds a feature's P-code: ``chosen`` when given, else the deepest
    ``ADMn_PCODE``, else one named like ``pcode``."""
    if chosen:
        return chosen if chosen in properties else None
    levels = [(int(m.group(1)), k) for k in properties if (m := _LEVEL_PCODE.match(k))]
    if levels:
        return max(levels)[1]
    return next((k for k in properties if k.lower() in _PLAIN_PCODE), None)


def _pcode(number: int, properties: Mapping[str, Any], chosen: str | None) -> str:
    key = pcode_key(properties, chosen)
    if key is None:
        wanted = f"the property {chosen!r}" if chosen else "a P-code property (e.g. ADM1_PCODE)"
        raise BoundaryError(f"feature {number}: it has no {wanted}")
    value = str(properties.get(key) or "").strip().upper()
    if not PCODE_RE.match(value):
        raise BoundaryError(f"feature {number}: {key} {value!r} is not a P-code")
    return value


def _polygons(number: int, pcode: str, geometry: Any) -> list[Polygon]:
    where = f"feature {number} ({pcode})"
    if not isinstance(geometry, dict):
        raise BoundaryError(f"{where}: it has no geometry")
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        polygons = [coordinates]
    elif kind == "MultiPolygon" and isinstance(coordinates, list):
        polygons = coordinates
    else:
        raise BoundaryError(f"{where}: a boundary is a Polygon or MultiPolygon, not {kind!r}")
    if not polygons:
        raise BoundaryError(f"{where}: the {kind} has no polygons")
    return [_polygon(where, polygon) for polygon in polygons]


def _polygon(where: str, polygon: Any) -> Polygon:
    if not isinstance(polygon, list) or not polygon:
        raise BoundaryError(f"{where}: a polygon has no rings")
    return [_ring(where, ring) for ring in polygon]


def _ring(where: str, ring: Any) -> Ring:
    if not isinstance(ring, list) or len(ring) < 4:
        raise BoundaryError(f"{where}: a ring needs at least 4 positions")
    points: Ring = []
    for position in ring:
        if (
            not isinstance(position, list)
            or len(position) < 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in position)
        ):
            raise BoundaryError(f"{where}: a position is not [longitude, latitude]")
        lon, lat = float(position[0]), float(position[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise BoundaryError(f"{where}: [{lon}, {lat}] is not a longitude and latitude (WGS 84)")
        points.append([lon, lat])
    if points[0] != points[-1]:
        raise BoundaryError(f"{where}: a ring is not closed (its last position is not its first)")
    return points


def simplified(polygons: Sequence[Polygon], tolerance: float = TOLERANCE) -> list[Polygon]:
    """The polygons with fewer points: each ring simplified and rounded; a hole or an island
    that shrinks below a valid ring is left out, the largest outline never is."""
    kept: list[Polygon] = []
    for polygon in polygons:
        outer = _simplify_ring(polygon[0], tolerance)
        if outer is None:
            continue
        holes = [h for h in (_simplify_ring(r, tolerance) for r in polygon[1:]) if h]
        kept.append([outer, *holes])
    if not kept:  # everything was smaller than the tolerance: keep the largest outline as is
        largest = max(polygons, key=lambda p: _extent(p[0]))
        kept = [[_rounded(largest[0])]]
    return kept


def _geometry(polygons: list[Polygon]) -> dict[str, Any]:
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def _simplify_ring(ring: Ring, tolerance: float) -> Ring | None:
    points = _rounded(ring)
    if len(points) < 4:
        return None
    # A closed ring has no base line: split it at the point farthest from its start.
    start = points[0]
    far = max(range(len(points)), key=lambda i: _distance2(points[i], start))
    if far == 0:
        return None
    first = _douglas_peucker(points[: far + 1], tolerance)
    second = _douglas_peucker(points[far:], tolerance)
    result = first[:-1] + second
    return result if len(result) >= 4 else None


def _rounded(ring: Iterable[Sequence[float]]) -> Ring:
    out: Ring = []
    for lon, lat, *_ in ring:
        point = [round(lon, DECIMALS), round(lat, DECIMALS)]
        if not out or point != out[-1]:
            out.append(point)
    return out


def _douglas_peucker(points: Ring, tolerance: float) -> Ring:
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    limit = tolerance * tolerance
    while stack:
        first, last = stack.pop()
        worst, index = 0.0, -1
        for i in range(first + 1, last):
            d = _segment_distance2(points[i], points[first], points[last])
            if d > worst:
                worst, index = d, i
        if index >= 0 and worst > limit:
            keep[index] = True
            stack.append((first, index))
            stack.append((index, last))
    return [p for p, k in zip(points, keep, strict=True) if k]


def _distance2(a: Sequence[float], b: Sequence[float]) -> float:
    return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2


def _segment_distance2(p: Sequence[float], a: Sequence[float], b: Sequence[float]) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = dx * dx + dy * dy
    if length == 0:
        return _distance2(p, a)
    t = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length))
    return _distance2(p, (a[0] + t * dx, a[1] + t * dy))


def _extent(ring: Ring) -> float:
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return (max(lons) - min(lons)) * (max(lats) - min(lats))


def feature_collection(rows: Iterable[tuple[str, int, str, str]]) -> dict[str, Any]:
    """The boundaries the map draws: (P-code, level, English name, geometry as JSON text)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": pcode,
                "properties": {"pcode": pcode, "level": level, "name": name},
                "geometry": json.loads(geometry),
            }
            for pcode, level, name, geometry in rows
        ],
    }
