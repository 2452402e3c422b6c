"""Listing shared records for devices: the entity list as a CSV of the merged current state,
and the fingerprint that names it in the form manifest and as its ETag.

Columns are ``name, label, __version`` and the list's properties, as ODK Collect expects for
``select_one_from_file`` and offline entities. The CSV is streamed in pages from the database,
so a list of 100,000 hazard areas never sits whole in memory; its fingerprint changes exactly
when an entity of the list changes.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from server.entities.models import Entity, EntityList
from server.entities.store import find_list
from server.personal import consent
from server.personal.access import Access
from server.personal.policy import sharing

# Whether a record goes to devices, given its uuid and merged values.
Keep = Callable[[str, Mapping[str, str]], bool]

PAGE = 5000


def header(entity_list: EntityList) -> list[str]:
    return ["name", "label", "__version", *entity_list.properties]


def iter_csv(
    factory: sessionmaker[Session],
    list_id: int,
    device_properties: list[str] | None = None,
    keep: Keep | None = None,
) -> Iterator[bytes]:
    """Yield the CSV in chunks. On PostgreSQL the database writes the rows itself (``COPY ...
    TO STDOUT``), which is an order of magnitude faster than building them in Python; elsewhere
    the entities are read page by page (keyset pagination) in short transactions of their own,
    so streaming never holds a request's transaction open. A list that declares what devices
    get (``device_properties``, ``keep`` for consent) is always written row by row."""
    with factory() as session:
        entity_list = session.get(EntityList, list_id)
        if entity_list is None:
            return
        properties = (
            list(entity_list.properties) if device_properties is None else device_properties
        )
        columns = ["name", "label", "__version", *properties]
        dialect = session.get_bind().dialect.name
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    if dialect == "postgresql" and device_properties is None and keep is None:
        yield buffer.getvalue().encode("utf-8")
        yield from _copy_rows(factory, list_id, properties)
        return
    last_id = 0
    while True:
        with factory() as session:
            rows = session.execute(
                select(Entity.id, Entity.uuid, Entity.label, Entity.current_version, Entity.values)
                .where(Entity.list_id == list_id, Entity.id > last_id)
                .where(Entity.deleted_at.is_(None))
                .order_by(Entity.id)
                .limit(PAGE)
            ).all()
        for entity_id, uuid, label, version, values in rows:
            last_id = entity_id
            if keep is not None and not keep(uuid, values):
                continue
            writer.writerow([uuid, label, version, *(values.get(p, "") for p in properties)])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < PAGE:
            return


def _copy_rows(
    factory: sessionmaker[Session], list_id: int, properties: list[str]
) -> Iterator[bytes]:
    from psycopg import sql

    # json_to_record parses each row's JSON once; ``values ->> 'p'`` per property would parse
    # it once per property (three times slower for the hazard areas' fourteen properties).
    fields = [sql.SQL("{} text").format(sql.Identifier(p)) for p in properties]
    columns: list[sql.Composable] = [
        sql.SQL("e.uuid"),
        sql.SQL("e.label"),
        sql.SQL("e.current_version"),
    ]
    columns += [sql.SQL("j.{}").format(sql.Identifier(p)) for p in properties]
    source: sql.Composable
    if properties:
        source = sql.SQL("entities e CROSS JOIN LATERAL json_to_record(e.values) AS j({})").format(
            sql.SQL(", ").join(fields)
        )
    else:
        source = sql.SQL("entities e")
    query = sql.SQL(
        "COPY (SELECT {} FROM {} WHERE e.list_id = {} AND e.deleted_at IS NULL ORDER BY e.id) "
        "TO STDOUT (FORMAT CSV)"
    ).format(sql.SQL(", ").join(columns), source, sql.Literal(list_id))
    with factory() as session:
        raw = session.connection().connection.driver_connection
        assert raw is not None
        pending = bytearray()
        with raw.cursor() as cursor, cursor.copy(query) as copy:
            for block in copy:
                pending += block
                if len(pending) >= 256 * 1024:
                    yield bytes(pending)
                    pending.clear()
        if pending:
            yield bytes(pending)


def entity_list_fingerprint(session: Session, entity_list: EntityList) -> str:
    """Changes whenever any entity of the list changes: every change adds a version, and a
    deletion changes the count of deleted entities."""
    count, total, last, deleted = session.execute(
        select(
            func.count(Entity.id),
            func.coalesce(func.sum(Entity.current_version), 0),
            func.coalesce(func.max(Entity.id), 0),
            func.count(Entity.deleted_at),
        ).where(Entity.list_id == entity_list.id)
    ).one()
    # A withdrawal of consent changes what devices get without a new version.
    stones = consent.tombstone_count(session, entity_list.project_id, entity_list.name)
    raw = (
        f"{entity_list.id}:{count}:{total}:{last}:{deleted}:"
        f"{','.join(entity_list.properties)}:{stones}"
    )
    return hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()


def entity_list_hash(session: Session, project_id: int, list_name: str) -> str | None:
    """The md5-style hash the manifest shows for an entity list (None if there is no list)."""
    entity_list = find_list(session, project_id, list_name)
    return entity_list_fingerprint(session, entity_list) if entity_list else None


def entity_list_csv(
    session: Session, project_id: int, list_name: str
) -> tuple[str, Iterator[bytes]] | None:
    """(ETag, CSV chunks) of an entity list's merged current state, or None if unknown."""
    entity_list = find_list(session, project_id, list_name)
    if entity_list is None:
        return None
    etag = entity_list_fingerprint(session, entity_list)
    factory = sessionmaker(bind=session.get_bind(), info=dict(session.info))
    rule = sharing(session, list_name)
    if rule.devices is None and rule.consent_followup is None:
        return etag, iter_csv(factory, entity_list.id)
    stones = consent.tombstones(session, project_id, list_name)
    device = Access(project_id, device=True)

    def keep(uuid: str, values: Mapping[str, str]) -> bool:
        return consent.record_shown(device, rule, uuid, values, stones)

    columns = rule.device_columns(entity_list.properties)
    return etag, iter_csv(factory, entity_list.id, columns, keep)
