"""Looking into the outbox: what waits, what the server refused and why, and taking an item out
on purpose (``fieldsync outbox discard``), kept whole in ``outbox_discarded`` with who, when and
why, so a discard can be read back and nothing the tablets sent silently disappears.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass, field
from typing import Any

from sync_client.errors import UsageError
from sync_client.store import Store, utcnow

# States a coordinator may discard: refused ones, and pending ones not yet in a batch (a batch's
# body must stay the same on a retry under its key).
DISCARDABLE = frozenset({"conflict", "rejected", "pending"})


@dataclass
class Summary:
    by_state: dict[str, int]
    pending_bytes: int
    pending_resolutions: int


def summary(store: Store) -> Summary:
    by_state = {
        str(state): int(n)
        for state, n in store.conn.execute(
            "SELECT state, COUNT(*) FROM outbox WHERE kind = 'submission' GROUP BY state"
        )
    }
    xml_bytes = store.conn.execute(
        "SELECT COALESCE(SUM(size), 0) FROM outbox WHERE state = 'pending'"
    ).fetchone()[0]
    blob_bytes = store.conn.execute(
        "SELECT COALESCE(SUM(size), 0) FROM (SELECT DISTINCT b.sha256, b.size FROM blobs b "
        "JOIN outbox_attachments a ON a.sha256 = b.sha256 JOIN outbox o ON o.id = a.outbox_id "
        "WHERE o.state = 'pending' AND b.uploaded = 0)"
    ).fetchone()[0]
    resolutions = store.conn.execute(
        "SELECT COUNT(*) FROM outbox WHERE kind = 'resolution' AND state = 'pending'"
    ).fetchone()[0]
    return Summary(by_state, int(xml_bytes) + int(blob_bytes), int(resolutions))


def refused_items(store: Store) -> list[tuple[str, str, str, str, str]]:
    """(kind, key, state, code, detail) of every item the server refused, oldest first."""
    rows = store.conn.execute(
        "SELECT kind, COALESCE(instance_id, conflict_id), state, COALESCE(result_code, ''), "
        "COALESCE(result_detail, '') FROM outbox WHERE state IN ('conflict', 'rejected') "
        "ORDER BY id"
    ).fetchall()
    return [(str(a), str(b), str(c), str(d), str(e)) for a, b, c, d, e in rows]


@dataclass
class Item:
    """One outbox row as the ``outbox`` commands show it (never the form's answers)."""

    id: int
    kind: str
    key: str
    state: str
    form_id: str
    form_version: str
    source: str
    size: int
    attempts: int
    created_at: str
    sent_at: str | None
    in_batch: bool
    last_error: str | None
    result_status: str | None
    result_code: str | None
    result_detail: str | None
    via: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[tuple[str, str, int | None]] = field(default_factory=list)
    resolution: dict[str, Any] | None = None

    @property
    def why(self) -> str:
        if self.state in ("conflict", "rejected"):
            return f"{self.result_code or self.state}: {self.result_detail or ''}".strip()
        return self.last_error or ""


_COLUMNS = (
    "id, kind, COALESCE(instance_id, conflict_id), state, form_id, form_version, source, size, "
    "attempts, created_at, sent_at, batch_key IS NOT NULL, last_error, result_status, "
    "result_code, result_detail, via, CASE WHEN kind = 'resolution' THEN body END"
)


def _item(row: tuple[Any, ...]) -> Item:
    item = Item(*row[:16])
    item.via = json.loads(row[16] or "[]")
    if item.kind == "resolution":
        item.resolution = json.loads(bytes(row[17]))
    item.in_batch = bool(item.in_batch)
    return item


def items(store: Store, include_sent: bool = False, state: str | None = None) -> list[Item]:
    """The outbox, oldest first: what waits and what was refused (and what was sent, asked),
    or only the items in ``state``."""
    params: tuple[str, ...] = ()
    if state is not None:
        where, params = "WHERE state = ? ", (state,)
    else:
        where = "" if include_sent else "WHERE state != 'sent' "
    rows = store.conn.execute(
        f"SELECT {_COLUMNS} FROM outbox {where}ORDER BY id",  # noqa: S608
        params,
    ).fetchall()
    return [_item(r) for r in rows]


def get(store: Store, item_id: int) -> Item:
    """One item with its attachments. Raises: UsageError when there is no such item."""
    row = store.conn.execute(
        f"SELECT {_COLUMNS} FROM outbox WHERE id = ?",  # noqa: S608
        (item_id,),
    ).fetchone()
    if row is None:
        gone = discarded_entry(store, item_id)
        if gone is not None:
            raise UsageError(
                f"outbox item {item_id} was discarded on {gone['discarded_at']} by "
                f"{gone['discarded_by']}: {gone['reason']}"
            )
        raise UsageError(f"there is no outbox item {item_id}; `fieldsync outbox list` shows them")
    item = _item(row)
    item.attachments = [
        (str(name), str(sha), None if size is None else int(size))
        for name, sha, size in store.conn.execute(
            "SELECT a.name, a.sha256, b.size FROM outbox_attachments a "
            "LEFT JOIN blobs b ON b.sha256 = a.sha256 WHERE a.outbox_id = ? ORDER BY a.name",
            (item_id,),
        )
    ]
    return item


def who() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment or the password database
        return "unknown"


def discard(store: Store, item_id: int, reason: str, by: str) -> Item:
    """Take an item out of the outbox, keeping it whole in ``outbox_discarded``.

    Raises:
        UsageError: no such item, no reason, or the item was sent or is being sent.
    """
    if len(reason.strip()) < 3:
        raise UsageError("a discard needs --reason (3 characters at least): say why")
    item = get(store, item_id)
    if item.state == "sent":
        raise UsageError(f"outbox item {item_id} was already sent; there is nothing to discard")
    if item.state == "pending" and item.in_batch:
        raise UsageError(
            f"outbox item {item_id} is being sent; run `fieldsync push` to finish it first"
        )
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO outbox_discarded (outbox_id, kind, instance_id, conflict_id, project_id, "
            "form_id, source, state, result_code, result_detail, body, attachments, reason, "
            "discarded_by, discarded_at) SELECT id, kind, instance_id, conflict_id, project_id, "
            "form_id, source, state, result_code, result_detail, body, ?, ?, ?, ? "
            "FROM outbox WHERE id = ?",
            (
                json.dumps([[n, s] for n, s, _ in item.attachments]),
                reason.strip(),
                by,
                utcnow(),
                item_id,
            ),
        )
        conn.execute("DELETE FROM outbox_attachments WHERE outbox_id = ?", (item_id,))
        conn.execute("DELETE FROM outbox WHERE id = ?", (item_id,))
    return item


def discarded_entry(store: Store, outbox_id: int) -> dict[str, str] | None:
    row = store.conn.execute(
        "SELECT discarded_at, discarded_by, reason FROM outbox_discarded WHERE outbox_id = ?",
        (outbox_id,),
    ).fetchone()
    if row is None:
        return None
    return {"discarded_at": row[0], "discarded_by": row[1], "reason": row[2]}


def discarded(store: Store) -> list[tuple[int, str, str, str, str, str, str]]:
    """(outbox id, kind, key, discarded at, by, reason, state when discarded), oldest first."""
    rows = store.conn.execute(
        "SELECT outbox_id, kind, COALESCE(instance_id, conflict_id), discarded_at, "
        "discarded_by, reason, state FROM outbox_discarded ORDER BY id"
    ).fetchall()
    return [(int(r[0]), *(str(v) for v in r[1:])) for r in rows]  # type: ignore[misc]


def discarded_instance_ids(store: Store) -> dict[str, str]:
    """instanceID -> when it was discarded, for the import to leave them out."""
    return {
        str(instance_id): str(at)
        for instance_id, at in store.conn.execute(
            "SELECT instance_id, MAX(discarded_at) FROM outbox_discarded "
            "WHERE instance_id IS NOT NULL GROUP BY instance_id"
        )
    }
