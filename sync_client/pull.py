"""``fieldsync pull``: walk the change feed from the stored cursor into the local copy, then fetch
the forms' XML, media and entity lists that changed through the OpenRosa routes.

Each page and the cursor that follows it are committed in one transaction, so a pull cut short
resumes after the last committed page and never applies a page twice.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from lxml import etree

from sync_client.backoff import RetryableFailure
from sync_client.errors import ServerError, UsageError
from sync_client.http import Api, ApiProblem
from sync_client.progress import Tracker
from sync_client.store import Store, utcnow

PAGE_LIMIT = 1000
# OpenRosa routes refuse requests without it; harmless on the JSON API.
OPENROSA = {"X-OpenRosa-Version": "1.0"}
_MANIFEST_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass
class PullReport:
    changes: Counter[str] = field(default_factory=Counter)
    pages: int = 0
    unchanged: bool = False
    resynced: bool = False
    forms_fetched: int = 0
    media_fetched: int = 0
    media_bytes: int = 0
    warnings: list[str] = field(default_factory=list)


# --- cursor --------------------------------------------------------------------------------------


def stored_cursor(store: Store, project_id: int) -> tuple[str | None, str | None]:
    row = store.conn.execute(
        "SELECT cursor, etag FROM cursors WHERE project_id = ?", (project_id,)
    ).fetchone()
    return (None, None) if row is None else (row[0], row[1])


def _save_cursor(conn: sqlite3.Connection, project_id: int, cursor: str, etag: str | None) -> None:
    conn.execute(
        "INSERT INTO cursors (project_id, cursor, etag, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (project_id) DO UPDATE SET cursor = excluded.cursor, etag = excluded.etag, "
        "updated_at = excluded.updated_at",
        (project_id, cursor, etag, utcnow()),
    )


def drop_local_copy(store: Store, project_id: int) -> None:
    """Forget what was pulled for a project (the server can no longer continue our cursor)."""
    with store.transaction() as conn:
        for table in (
            "cursors",
            "forms",
            "form_versions",
            "media",
            "entities",
            "conflicts",
            "review_states",
        ):
            conn.execute(f"DELETE FROM {table} WHERE project_id = ?", (project_id,))  # noqa: S608


# --- applying changes ----------------------------------------------------------------------------


def _text(data: dict[str, Any], *names: str, default: str = "") -> str:
    for name in names:
        value = data.get(name)
        if value is not None and value != "":
            return str(value)
    return default


def apply_change(conn: sqlite3.Connection, project_id: int, change: dict[str, Any]) -> str:
    """Fold one change into the local copy; returns its kind (``unknown`` if not understood)."""
    kind = str(change.get("kind") or "")
    key = str(change.get("key") or "")
    data = change.get("data") or {}
    if not isinstance(data, dict):
        return "unknown"
    now = utcnow()
    if kind == "form_version":
        form_id = _text(data, "form_id", "xml_form_id", default=key)
        form_version = _text(data, "version")
        state = _text(data, "state", default="open")
        conn.execute(
            "INSERT INTO form_versions (project_id, form_id, version, hash, data, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (project_id, form_id, version) DO UPDATE SET "
            "hash = excluded.hash, data = excluded.data, updated_at = excluded.updated_at, "
            "media_fresh = 0",
            (
                project_id,
                form_id,
                form_version,
                _text(data, "hash", "sha256"),
                json.dumps(data),
                now,
            ),
        )
        conn.execute(
            "INSERT INTO forms (project_id, form_id, state, current_version, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (project_id, form_id) DO UPDATE SET "
            "state = excluded.state, current_version = excluded.current_version, "
            "updated_at = excluded.updated_at",
            (project_id, form_id, state, _text(data, "current_version", default=form_version), now),
        )
    elif kind == "form_state":
        form_id = _text(data, "form_id", "xml_form_id", default=key)
        conn.execute(
            "INSERT INTO forms (project_id, form_id, state, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (project_id, form_id) DO UPDATE SET state = excluded.state, "
            "updated_at = excluded.updated_at",
            (project_id, form_id, _text(data, "state", default="open"), now),
        )
    elif kind == "entity_version":
        list_name = _text(data, "list", "entity_list", "dataset")
        entity_uuid = _text(data, "uuid", "entity_uuid", "entity_id", default=key)
        version = int(data.get("version") or 0)
        if data.get("deleted"):
            # Deleted on the server (Central's API): the laptop drops it too.
            conn.execute(
                "DELETE FROM entities WHERE project_id = ? AND list_name = ? AND uuid = ?",
                (project_id, list_name, entity_uuid),
            )
            return kind
        values = data.get("values", data.get("data", {}))
        conflict = data.get("conflict")
        conn.execute(
            "INSERT INTO entities (project_id, list_name, uuid, version, data, conflict, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (project_id, list_name, uuid) DO UPDATE SET version = excluded.version, "
            "data = excluded.data, conflict = excluded.conflict, updated_at = excluded.updated_at "
            "WHERE excluded.version >= entities.version",
            (
                project_id,
                list_name,
                entity_uuid,
                version,
                json.dumps(values),
                None if conflict in (None, False, "") else json.dumps(conflict),
                now,
            ),
        )
    elif kind == "conflict":
        conflict_id = _text(data, "id", "conflict_id", default=key)
        conn.execute(
            "INSERT INTO conflicts (project_id, conflict_id, state, data, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (project_id, conflict_id) DO UPDATE SET "
            "state = excluded.state, data = excluded.data, updated_at = excluded.updated_at",
            (project_id, conflict_id, _text(data, "state", default="open"), json.dumps(data), now),
        )
    elif kind == "review_state":
        instance_id = _text(data, "instance_id", "instanceID", default=key)
        conn.execute(
            "INSERT INTO review_states (project_id, instance_id, state, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (project_id, instance_id) DO UPDATE SET "
            "state = excluded.state, updated_at = excluded.updated_at",
            (project_id, instance_id, _text(data, "state", "review_state"), now),
        )
    else:
        return "unknown"
    return kind


# --- the feed ------------------------------------------------------------------------------------


def pull(store: Store, api: Api, project_id: int, tracker: Tracker | None = None) -> PullReport:
    """Bring the local copy up to the server's state.

    Raises:
        FieldsyncError: offline, auth, server or store failures; what was committed stays.
    """
    tracker = tracker or Tracker(None, None, 0)
    report = PullReport()
    cursor, etag = stored_cursor(store, project_id)
    first = True
    while True:
        params: dict[str, Any] = {"project_id": project_id, "limit": PAGE_LIMIT}
        if cursor:
            params["cursor"] = cursor
        headers = {"If-None-Match": etag} if (etag and first) else {}
        try:
            page = api.run(lambda p=params, h=headers: _fetch_page(api, p, h))  # type: ignore[misc]
        except ApiProblem as problem:
            if (problem.status == 410 or problem.code == "sync.cursor_expired") and not (
                report.resynced
            ):
                drop_local_copy(store, project_id)
                report.resynced = True
                cursor, etag, first = None, None, True
                continue
            if problem.status == 404:
                raise UsageError(
                    f"the server refused the pull ({problem.detail}): the project is unknown, "
                    "you have no role in it, or the server does not offer the sync API"
                ) from problem
            raise
        first = False
        if page is None:
            break
        body, new_etag = page
        changes = body.get("changes")
        new_cursor = body.get("cursor")
        if not isinstance(changes, list) or not isinstance(new_cursor, str):
            raise ServerError("the server's change feed answer is malformed")
        with store.transaction() as conn:
            kinds = Counter(
                apply_change(conn, project_id, change)
                for change in changes
                if isinstance(change, dict)
            )
            if kinds["entity_version"]:
                # Entity lists reach devices as form media: check the manifests again.
                conn.execute(
                    "UPDATE form_versions SET media_fresh = 0 WHERE project_id = ?", (project_id,)
                )
            _save_cursor(conn, project_id, new_cursor, new_etag)
        report.changes.update(kinds)
        report.pages += 1
        tracker.advance(items=len(changes))
        cursor, etag = new_cursor, new_etag
        if not body.get("more"):
            break
    report.unchanged = sum(report.changes.values()) == 0
    fetch_forms(store, api, project_id, report)
    return report


def _fetch_page(
    api: Api, params: dict[str, Any], headers: dict[str, str]
) -> tuple[dict[str, Any], str | None] | None:
    response = api.attempt(
        "GET", "/api/v1/sync/changes", params=params, headers=headers, ok=(200, 304)
    )
    if response.status_code == 304:
        return None
    try:
        body = response.json()
    except ValueError as exc:
        raise RetryableFailure(ServerError("the change feed answer was cut short")) from exc
    if not isinstance(body, dict):
        raise ServerError("the server's change feed answer is malformed")
    return body, response.headers.get("ETag")


# --- forms, media, entity lists ------------------------------------------------------------------


def fetch_forms(store: Store, api: Api, project_id: int, report: PullReport) -> None:
    """Download the XML and media of each form's current version whose content changed."""
    rows = store.conn.execute(
        "SELECT v.form_id, v.version, v.hash, v.data, v.xml_hash FROM form_versions v "
        "JOIN forms f ON f.project_id = v.project_id AND f.form_id = v.form_id "
        "AND f.current_version = v.version WHERE v.project_id = ? AND f.state != 'closed' "
        "AND (v.xml_hash IS NULL OR v.xml_hash != v.hash OR v.media_fresh = 0) "
        "ORDER BY v.form_id",
        (project_id,),
    ).fetchall()
    for form_id, version, form_hash, data_json, xml_hash in rows:
        data = json.loads(data_json or "{}")
        base = f"/v1/projects/{project_id}/forms/{quote(form_id, safe='')}"
        if xml_hash is None or xml_hash != form_hash:
            xml_url = _text(data, "xml_url", "download_url", "downloadUrl", default=f"{base}.xml")
            xml = api.run(lambda u=xml_url, h=form_hash: _download(api, u, h))  # type: ignore[misc]
            with store.transaction() as conn:
                conn.execute(
                    "UPDATE form_versions SET xml = ?, xml_hash = ? WHERE project_id = ? "
                    "AND form_id = ? AND version = ?",
                    (xml, form_hash, project_id, form_id, version),
                )
            report.forms_fetched += 1
        manifest_url = _text(data, "manifest_url", "manifestUrl", default=f"{base}/manifest")
        _fetch_media(store, api, project_id, form_id, version, manifest_url, report)
        with store.transaction() as conn:
            conn.execute(
                "UPDATE form_versions SET media_fresh = 1 WHERE project_id = ? AND form_id = ? "
                "AND version = ? AND hash = ?",
                (project_id, form_id, version, form_hash),
            )


def parse_manifest(data: bytes) -> list[tuple[str, str, str, bool]]:
    """(filename, hash, downloadUrl, is entity list) for each mediaFile of an OpenRosa manifest.

    Raises:
        ServerError: the manifest is not XML.
    """
    try:
        root = etree.fromstring(data, _MANIFEST_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ServerError(f"a form manifest is not readable XML ({exc.msg})") from exc
    files = []
    for node in root:
        if not isinstance(node.tag, str) or etree.QName(node).localname != "mediaFile":
            continue
        values = {
            etree.QName(c).localname: (c.text or "").strip() for c in node if isinstance(c.tag, str)
        }
        if values.get("filename") and values.get("downloadUrl"):
            files.append(
                (
                    values["filename"],
                    values.get("hash", ""),
                    values["downloadUrl"],
                    node.get("type") == "entityList",
                )
            )
    return files


def _fetch_media(
    store: Store,
    api: Api,
    project_id: int,
    form_id: str,
    version: str,
    manifest_url: str,
    report: PullReport,
) -> None:
    try:
        manifest = api.run(lambda: api.attempt("GET", manifest_url, headers=OPENROSA).content)
    except ApiProblem as problem:
        if problem.status == 404:
            return  # a form without media has no manifest
        raise
    known = {
        str(name): str(h)
        for name, h in store.conn.execute(
            "SELECT name, hash FROM media WHERE project_id = ? AND form_id = ? AND version = ?",
            (project_id, form_id, version),
        )
    }
    for name, media_hash, url, is_list in parse_manifest(manifest):
        if media_hash and known.get(name) == media_hash:
            continue
        # Entity lists change between the manifest and the download; only fixed media are
        # checked against the manifest's hash.
        check = "" if is_list else media_hash
        content = api.run(lambda u=url, h=check: _download(api, u, h))  # type: ignore[misc]
        ref = store.put_blob_stream(io.BytesIO(content))
        with store.transaction() as conn:
            store.register_blob(conn, ref)
            conn.execute(
                "INSERT INTO media (project_id, form_id, version, name, hash, sha256, "
                "is_entity_list, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (project_id, form_id, version, name) DO UPDATE SET "
                "hash = excluded.hash, sha256 = excluded.sha256, "
                "is_entity_list = excluded.is_entity_list, updated_at = excluded.updated_at",
                (
                    project_id,
                    form_id,
                    version,
                    name,
                    media_hash,
                    ref.sha256,
                    int(is_list),
                    utcnow(),
                ),
            )
        report.media_fetched += 1
        report.media_bytes += ref.size


def _download(api: Api, url: str, media_hash: str) -> bytes:
    content = api.attempt("GET", url, headers=OPENROSA).content
    if media_hash.startswith("md5:"):
        expected = media_hash[4:]
        # md5 only compares with what the manifest announces; it is not a security check.
        if hashlib.md5(content, usedforsecurity=False).hexdigest() != expected:
            raise RetryableFailure(ServerError(f"a media file from {url} arrived damaged"))
    return content
