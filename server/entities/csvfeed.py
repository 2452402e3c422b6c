"""The entity list as devices download it: a CSV of the merged current state.

Columns are ``name, label, __version`` and the list's properties, as ODK Collect expects for
``select_one_from_file`` and offline entities. The CSV is streamed in pages from the database,
so a list of 100,000 hazard areas never sits whole in memory; its ETag is the list's fingerprint,
which changes exactly when an entity of the list changes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.entities.models import Entity, EntityList
from server.entities.service import entity_list_fingerprint

PAGE = 5000


def header(entity_list: EntityList) -> list[str]:
    return ["name", "label", "__version", *entity_list.properties]


def fingerprint(session: Session, entity_list: EntityList) -> str:
    return entity_list_fingerprint(session, entity_list)


def iter_csv(factory: sessionmaker[Session], list_id: int) -> Iterator[bytes]:
    """Yield the CSV in chunks, reading the entities page by page (keyset pagination) in
    short transactions of its own, so streaming never holds a request's transaction open."""
    with factory() as session:
        entity_list = session.get(EntityList, list_id)
        if entity_list is None:
            return
        columns = header(entity_list)
        properties = list(entity_list.properties)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    last_id = 0
    while True:
        with factory() as session:
            rows = session.execute(
                select(Entity.id, Entity.uuid, Entity.label, Entity.current_version, Entity.values)
                .where(Entity.list_id == list_id, Entity.id > last_id)
                .order_by(Entity.id)
                .limit(PAGE)
            ).all()
        for entity_id, uuid, label, version, values in rows:
            writer.writerow([uuid, label, version, *(values.get(p, "") for p in properties)])
            last_id = entity_id
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < PAGE:
            return
