"""The centre's state as another laptop pulled it: the rows of its forms, media, entity lists,
conflicts and review states for a project, carried in a bundle to a laptop in the field."""

from __future__ import annotations

import io
import sqlite3
from functools import partial
from typing import TYPE_CHECKING, Any

from sync_client.store import Store

if TYPE_CHECKING:
    from server.bundles.format import Opened

CENTRE_TABLES = ("forms", "form_versions", "media", "entities", "conflicts", "review_states")


def centre_rows(store: Store, project_id: int, files: dict[str, Any]) -> dict[str, Any]:
    """The pulled copy of the centre's project: its rows, and the media files they name."""
    state: dict[str, Any] = {}
    for table in CENTRE_TABLES:
        cursor = store.conn.execute(
            f"SELECT * FROM {table} WHERE project_id = ?",  # noqa: S608
            (project_id,),
        )
        columns = [c[0] for c in cursor.description]
        rows = []
        for row in cursor.fetchall():
            record = dict(zip(columns, row, strict=True))
            if table == "form_versions" and record.get("xml") is not None:
                name = f"forms/{record['form_id']}-{record['version']}.xml"
                files[name] = partial(io.BytesIO, bytes(record["xml"]))
                record["xml"] = name
            if table == "media":
                store.verify_blob(str(record["sha256"]))
                files[f"blobs/{record['sha256']}"] = partial(store.open_blob, record["sha256"])
            rows.append(record)
        state[table] = rows
    return state


def adopt_centre_rows(store: Store, opened: Opened, project_id: int, state: dict[str, Any]) -> int:
    """Take the centre's rows another laptop pulled; an entity only when it is newer."""
    count = 0
    blobs = {}
    for record in state.get("media") or []:
        sha = str(record["sha256"])
        with opened.open(f"blobs/{sha}") as stream:
            blobs[sha] = store.put_blob_stream(stream)
    with store.transaction() as conn:
        for ref in blobs.values():
            store.register_blob(conn, ref)
        for table in CENTRE_TABLES:
            for record in state.get(table) or []:
                if not isinstance(record, dict) or record.get("project_id") != project_id:
                    continue
                if table == "form_versions" and record.get("xml"):
                    record = {**record, "xml": opened.read(str(record["xml"]))}
                if table == "entities":
                    local = conn.execute(
                        "SELECT version FROM entities WHERE project_id = ? AND list_name = ? "
                        "AND uuid = ?",
                        (project_id, record.get("list_name"), record.get("uuid")),
                    ).fetchone()
                    if local is not None and int(local[0]) >= int(record.get("version") or 0):
                        continue
                _upsert(conn, table, record)
                count += 1
    return count


def _upsert(conn: sqlite3.Connection, table: str, record: dict[str, Any]) -> None:
    columns = [str(c) for c in record if str(c).isidentifier()]
    marks = ",".join("?" * len(columns))
    conn.execute(
        f"INSERT OR REPLACE INTO {table} ({','.join(columns)}) VALUES ({marks})",  # noqa: S608
        [record[c] for c in columns],
    )
