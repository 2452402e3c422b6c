"""Entity lists for people: the CSV a coordinator opens in Excel (``__id``, ``label``, the
properties, ``__createdAt``, ``__updatedAt``, ``__version``, ``__conflict``), and GeoJSON for
lists with a geometry property (hazard areas on a map).

Devices get their own CSV (``name, label, __version, ...``) from the OpenRosa manifest; this
one is for people. Streamed in pages, each read in a short transaction of its own.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server import errors
from server.entities.listing import entity_list_fingerprint
from server.entities.models import Entity, EntityList
from server.exports.geojson import geometry
from server.exports.source import iso_millis
from server.personal.guard import ListGuard

PAGE = 2000
# Property names taken for the map, best first: a hazard area's perimeter before its benchmark
# point, and before the shapes of land released from it (``cancelled_shape`` ...).
GEOMETRY_NAMES = (
    "perimeter",
    "geometry",
    "geom",
    "boundary",
    "polygon",
    "shape",
    "location",
    "benchmark",
)


def shown_properties(entity_list: EntityList, guard: ListGuard | None) -> list[str]:
    """The list's properties, without the personal ones unless the caller is a caseworker."""
    if guard is None or guard.access.may_read:
        return list(entity_list.properties)
    return [p for p in entity_list.properties if p not in guard.personal]


def exported(guard: ListGuard | None, entity: Entity) -> bool:
    """Whether a record is in the export: never once consent was withdrawn, and for partners
    only with consent to share."""
    if guard is None:
        return True
    return not guard.withdrawn(entity.uuid) and guard.shown(entity.uuid, entity.values)


def header(entity_list: EntityList, guard: ListGuard | None = None) -> list[str]:
    return [
        "__id",
        "label",
        *shown_properties(entity_list, guard),
        "__createdAt",
        "__updatedAt",
        "__version",
        "__conflict",
    ]


def get_list(session: Session, project_id: int, name: str) -> EntityList:
    """Raises: Problem 404 when the project has no such list."""
    found = session.scalars(
        select(EntityList).where(EntityList.project_id == project_id, EntityList.name == name)
    ).first()
    if found is None:
        raise errors.not_found("Entity list", f"there is no entity list {name!r}")
    return found


def etag(session: Session, entity_list: EntityList, fmt: str) -> str:
    return f"{fmt}-{entity_list_fingerprint(session, entity_list)}"


def _entities(factory: sessionmaker[Session], list_id: int) -> Iterator[Entity]:
    last_id = 0
    while True:
        with factory() as session:
            page = list(
                session.scalars(
                    select(Entity)
                    .where(Entity.list_id == list_id, Entity.id > last_id)
                    .where(Entity.deleted_at.is_(None))
                    .order_by(Entity.id)
                    .limit(PAGE)
                )
            )
        yield from page
        if len(page) < PAGE:
            return
        last_id = page[-1].id


# A cell a spreadsheet would run as a formula (OWASP "CSV injection"): it starts with one of
# these and is not a plain number (a negative remaining area stays a number).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: object) -> object:
    """``value`` as a spreadsheet shows it, never runs it: a formula-like text gets a leading
    single quote. Only the CSV for people goes through this: devices get the raw values."""
    formula = isinstance(value, str) and value.startswith(_FORMULA_START)
    if formula and not _PLAIN_NUMBER.fullmatch(str(value)):
        return "'" + str(value)
    return value


def people_csv(
    factory: sessionmaker[Session], entity_list: EntityList, guard: ListGuard | None = None
) -> Iterator[bytes]:
    """The list as CSV for people, in chunks; formula-like text is neutralised
    (:func:`safe_cell`). With a ``guard``, as its caller may see the list."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header(entity_list, guard))
    properties = shown_properties(entity_list, guard)
    entities = (e for e in _entities(factory, entity_list.id) if exported(guard, e))
    for n, entity in enumerate(entities, 1):
        writer.writerow(
            [
                entity.uuid,
                safe_cell(entity.label),
                *(safe_cell(entity.values.get(p, "")) for p in properties),
                iso_millis(entity.created_at),
                iso_millis(entity.updated_at),
                entity.current_version,
                entity.conflict or "",
            ]
        )
        if n % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def geometry_property(entity_list: EntityList, wanted: str | None) -> str:
    """Raises: Problem 400 ``export.bad_option`` for an unknown property, 422
    ``export.no_geometry`` when the list has no property that looks like a geometry."""
    if wanted is not None:
        if wanted not in entity_list.properties:
            raise errors.export_bad_option(
                "property", wanted, f"a property of {entity_list.name!r}"
            )
        return wanted
    names = {name.lower(): name for name in entity_list.properties}
    for wanted_name in GEOMETRY_NAMES:
        if wanted_name in names:
            return names[wanted_name]
    for name in entity_list.properties:
        if name.lower().endswith(tuple(f"_{g}" for g in GEOMETRY_NAMES)):
            return name
    raise errors.export_no_geometry(
        f"Entity list {entity_list.name!r}",
        "it has no geometry property; name one with ?property=",
    )


def _shape(value: str) -> dict[str, Any] | None:
    points = [p for p in value.split(";") if p.strip()]
    if len(points) == 1:
        return geometry("geopoint", value)
    if len(points) >= 4 and points[0].split()[:2] == points[-1].split()[:2]:
        return geometry("geoshape", value)
    return geometry("geotrace", value)


def people_geojson(
    factory: sessionmaker[Session],
    entity_list: EntityList,
    prop: str,
    guard: ListGuard | None = None,
) -> Iterator[bytes]:
    """A FeatureCollection of the list's entities whose ``prop`` reads as a geometry (with a
    ``guard``, as its caller may see the list; a personal geometry only for caseworkers)."""
    out = bytearray(b'{"type":"FeatureCollection","features":[')
    first = True
    names = header(entity_list, guard)
    properties = shown_properties(entity_list, guard)
    for entity in _entities(factory, entity_list.id):
        if not exported(guard, entity) or prop not in properties:
            continue
        shape = _shape(entity.values.get(prop, "") or "")
        if shape is None:
            continue
        values = [
            entity.uuid,
            entity.label,
            *(entity.values.get(p, "") for p in properties),
            iso_millis(entity.created_at),
            iso_millis(entity.updated_at),
            entity.current_version,
            entity.conflict,
        ]
        feature = {
            "type": "Feature",
            "id": entity.uuid,
            "geometry": shape,
            "properties": dict(zip(names, values, strict=True)),
        }
        out += (b"" if first else b",") + json.dumps(feature, ensure_ascii=False).encode("utf-8")
        first = False
        if len(out) >= 64 * 1024:
            yield bytes(out)
            out.clear()
    out += b"]}"
    yield bytes(out)
