"""The GeoJSON export: a FeatureCollection with one feature per submission that has a
location (the first geopoint, or the field named by ``?field=``), the root table's columns as
properties. Coordinates are ``[longitude, latitude(, altitude)]`` as RFC 7946 says (ODK writes
latitude first); a geoshape becomes a Polygon, a geotrace a LineString.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from server import errors
from server.exports.rows import submission_rows
from server.exports.source import ExportSubmission
from server.exports.tables import ExportSchema, Field

GEO_TYPES = ("geopoint", "geotrace", "geoshape")
FLUSH_AT = 64 * 1024


def geometry_field(schema: ExportSchema, wanted: str | None) -> Field:
    """The field whose value places each submission on the map.

    Raises:
        Problem: 400 ``export.bad_option`` when ``wanted`` is not a geo field of the root
            table, 422 ``export.no_geometry`` when the form has no geopoint to default to.
    """
    root_fields = [
        f
        for f in schema.fields
        if schema.table_of.get(f.path) is schema.root and f.type in GEO_TYPES
    ]
    if wanted is None:
        points = [f for f in root_fields if f.type == "geopoint"]
        if not points:
            raise errors.export_no_geometry(
                f"Form {schema.form_id!r}",
                "the form has no geopoint outside repeat groups; name a geotrace or geoshape "
                "with ?field=",
            )
        return points[0]
    path = "/" + wanted.strip("/")
    for fld in root_fields:
        if fld.path == path:
            return fld
    names = ", ".join(f.path.lstrip("/") for f in root_fields) or "none"
    raise errors.export_bad_option(
        "field", wanted, f"a geopoint, geotrace or geoshape outside repeat groups ({names})"
    )


def geometry(kind: str, value: str) -> dict[str, Any] | None:
    """The GeoJSON geometry of an ODK geo value, or None when it does not read as one."""
    points = []
    for part in value.split(";"):
        numbers = part.split()
        if not numbers:
            continue
        if len(numbers) < 2:
            return None
        try:
            lat, lon = float(numbers[0]), float(numbers[1])
            alt = float(numbers[2]) if len(numbers) > 2 else None
        except ValueError:
            return None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        points.append([lon, lat] if alt is None else [lon, lat, alt])
    if not points:
        return None
    if kind == "geopoint":
        return {"type": "Point", "coordinates": points[0]}
    if kind == "geotrace":
        return {"type": "LineString", "coordinates": points} if len(points) >= 2 else None
    if points[0] != points[-1]:
        points.append(points[0])
    return {"type": "Polygon", "coordinates": [points]} if len(points) >= 4 else None


def feature_collection(
    schema: ExportSchema,
    submissions: Iterable[ExportSubmission],
    wanted: str | None = None,
    pseudonymise: Callable[[str], str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The FeatureCollection, in chunks."""
    fld = geometry_field(schema, wanted)
    headers = schema.root.headers
    start = schema.root.index[fld.path]
    key = headers.index("KEY")
    out = bytearray(b'{"type":"FeatureCollection","features":[')
    first = True
    for n, submission in enumerate(submissions, 1):
        row = submission_rows(schema, submission, pseudonymise).root
        if fld.type == "geopoint":
            raw = " ".join(str(v) for v in row[start : start + 4] if v not in (None, ""))
        else:
            raw = str(row[start] or "")
        shape = geometry(fld.type, raw) if raw else None
        if progress is not None:
            progress(n)
        if shape is None:
            continue
        feature = {
            "type": "Feature",
            "id": row[key],
            "geometry": shape,
            "properties": {h: v for h, v in zip(headers, row, strict=True)},
        }
        out += (b"" if first else b",") + json.dumps(feature, ensure_ascii=False).encode("utf-8")
        first = False
        if len(out) >= FLUSH_AT:
            yield bytes(out)
            out.clear()
    out += b"]}"
    yield bytes(out)
