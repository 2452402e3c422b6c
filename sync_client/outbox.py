"""The outbox: what waits to go to the server, and what the server said about it.

Items move ``pending`` → ``sent`` (or ``conflict`` / ``rejected``, kept with their reason) only
inside the transaction that records the server's answer. A batch's Idempotency-Key is assigned
and committed before the batch is sent, and the batch's body is rebuilt from the same rows in the
same order, so a retry after a crash sends the same bytes under the same key.
"""

from __future__ import annotations

import enum
import hashlib
import json
import sqlite3
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sync_client.instances import FoundInstance
from sync_client.store import BlobRef, Store, utcnow

DONE_STATUSES = frozenset({"stored", "duplicate", "edit"})
# A reference to a blob the server lacks: upload it and send the item again.
BLOB_MISSING = "blob.missing"


class AddOutcome(enum.StrEnum):
    IMPORTED = "imported"
    ALREADY = "already imported"
    DIFFERS = "differs from the copy already imported"


@dataclass
class OutboxItem:
    id: int
    kind: str
    instance_id: str | None
    conflict_id: str | None
    project_id: int | None
    body: bytes
    via: list[dict[str, Any]]
    attachments: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Refusal:
    key: str
    status: str
    code: str
    detail: str


@dataclass
class BatchOutcome:
    counts: Counter[str] = field(default_factory=Counter)
    refused: list[Refusal] = field(default_factory=list)
    retry: int = 0


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def existing_digest(store: Store, instance_id: str) -> str | None:
    row = store.conn.execute(
        "SELECT body_sha256 FROM outbox WHERE instance_id = ?", (instance_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def add_submission(
    store: Store,
    conn: sqlite3.Connection,
    found: FoundInstance,
    attachments: list[tuple[str, BlobRef]],
    project_id: int | None,
    via: list[dict[str, Any]],
    source: str,
) -> AddOutcome:
    """Queue one instance inside the caller's transaction; its attachment files must already be
    in the blob directory.

    The unique constraint on instanceID decides duplicates (not a look-then-insert), so two
    imports racing, or an import rerun after a crash, queue an instance once.
    """
    digest = sha256_hex(found.xml)
    for _name, ref in attachments:
        store.register_blob(conn, ref)
    cur = conn.execute(
        "INSERT INTO outbox (kind, instance_id, project_id, form_id, form_version, body, "
        "body_sha256, size, via, source, created_at) "
        "VALUES ('submission', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (instance_id) DO NOTHING",
        (
            found.instance_id,
            project_id,
            found.form_id,
            found.version,
            found.xml,
            digest,
            len(found.xml),
            json.dumps(via, separators=(",", ":")),
            source,
            utcnow(),
        ),
    )
    if cur.rowcount == 0:
        if existing_digest(store, found.instance_id) == digest:
            return AddOutcome.ALREADY
        return AddOutcome.DIFFERS
    conn.executemany(
        "INSERT INTO outbox_attachments (outbox_id, name, sha256) VALUES (?, ?, ?)",
        [(cur.lastrowid, name, ref.sha256) for name, ref in attachments],
    )
    return AddOutcome.IMPORTED


def queue_resolution(
    store: Store,
    project_id: int,
    conflict_id: str,
    values: dict[str, Any],
    reason: str,
    reopen: bool = False,
) -> str:
    """Queue a coordinator's resolution of a conflict; a pending one for the same conflict is
    replaced. Returns ``queued`` or ``replaced``.

    Raises:
        UsageError: a resolution of this conflict was already sent.
    """
    from sync_client.errors import UsageError

    resolution: dict[str, Any] = {"values": values, "reason": reason}
    if reopen:
        resolution["reopen"] = True
    body = json.dumps(resolution, sort_keys=True).encode()
    with store.transaction() as conn:
        row = conn.execute(
            "SELECT id, state, batch_key FROM outbox WHERE conflict_id = ?", (conflict_id,)
        ).fetchone()
        if row is not None:
            if row[1] == "sent":
                raise UsageError(f"a resolution of conflict {conflict_id} was already sent")
            if row[2] is not None and row[1] == "pending":
                raise UsageError(
                    f"a resolution of conflict {conflict_id} is being sent; run "
                    "`fieldsync push` to finish it first"
                )
            conn.execute(
                "UPDATE outbox SET body = ?, body_sha256 = ?, size = ?, state = 'pending', "
                "batch_key = NULL, last_error = NULL, result_status = NULL, result_code = NULL, "
                "result_detail = NULL, project_id = ? WHERE id = ?",
                (body, sha256_hex(body), len(body), project_id, row[0]),
            )
            return "replaced"
        conn.execute(
            "INSERT INTO outbox (kind, conflict_id, project_id, body, body_sha256, size, "
            "created_at) VALUES ('resolution', ?, ?, ?, ?, ?, ?)",
            (conflict_id, project_id, body, sha256_hex(body), len(body), utcnow()),
        )
    return "queued"


# --- batches -------------------------------------------------------------------------------------


def open_batches(store: Store, kind: str = "submission") -> list[str]:
    """Keys of batches assigned but not answered (a crash or a cut link interrupted them)."""
    rows = store.conn.execute(
        "SELECT b.key FROM batches b WHERE b.kind = ? AND EXISTS (SELECT 1 FROM outbox o "
        "WHERE o.batch_key = b.key AND o.state = 'pending') ORDER BY b.created_at, b.key",
        (kind,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def form_batch(
    store: Store, project_id: int, max_items: int, max_bytes: int, after_id: int = 0
) -> tuple[str, int] | None:
    """Assign a new Idempotency-Key to the next pending submissions (with ids above
    ``after_id``) and commit it. Returns the key and the batch's last id; None when nothing is
    left."""
    with store.transaction() as conn:
        rows = conn.execute(
            "SELECT id, size FROM outbox WHERE kind = 'submission' AND state = 'pending' "
            "AND batch_key IS NULL AND (project_id = ? OR project_id IS NULL) AND id > ? "
            "ORDER BY id LIMIT ?",
            (project_id, after_id, max_items),
        ).fetchall()
        chosen: list[int] = []
        total = 0
        for item_id, size in rows:
            if chosen and total + size > max_bytes:
                break
            chosen.append(item_id)
            total += size
        if not chosen:
            return None
        key = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO batches (key, project_id, kind, created_at) "
            "VALUES (?, ?, 'submission', ?)",
            (key, project_id, utcnow()),
        )
        conn.executemany(
            "UPDATE outbox SET batch_key = ?, project_id = ? WHERE id = ?",
            [(key, project_id, i) for i in chosen],
        )
    return key, chosen[-1]


def assign_key(store: Store, item_id: int, project_id: int, kind: str) -> str:
    """The Idempotency-Key of a single item (a resolution), assigned once and committed."""
    with store.transaction() as conn:
        row = conn.execute("SELECT batch_key FROM outbox WHERE id = ?", (item_id,)).fetchone()
        if row is not None and row[0]:
            return str(row[0])
        key = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO batches (key, project_id, kind, created_at) VALUES (?, ?, ?, ?)",
            (key, project_id, kind, utcnow()),
        )
        conn.execute(
            "UPDATE outbox SET batch_key = ?, project_id = ? WHERE id = ?",
            (key, project_id, item_id),
        )
    return key


def pending_projects(store: Store, current: int) -> list[int]:
    """Projects with pending submissions, the current one first (it also takes the forms
    imported before any project was chosen)."""
    rows = store.conn.execute(
        "SELECT DISTINCT project_id FROM outbox WHERE kind = 'submission' AND state = 'pending' "
        "AND project_id IS NOT NULL AND project_id != ?",
        (current,),
    ).fetchall()
    return [current, *sorted(int(r[0]) for r in rows)]


def batch_project(store: Store, key: str) -> int:
    row = store.conn.execute("SELECT project_id FROM batches WHERE key = ?", (key,)).fetchone()
    return int(row[0])


def _items(store: Store, where: str, params: tuple[Any, ...]) -> list[OutboxItem]:
    rows = store.conn.execute(
        "SELECT id, kind, instance_id, conflict_id, project_id, body, via FROM outbox "  # noqa: S608
        f"WHERE {where} ORDER BY id",
        params,
    ).fetchall()
    items = [
        OutboxItem(
            id=r[0],
            kind=r[1],
            instance_id=r[2],
            conflict_id=r[3],
            project_id=r[4],
            body=bytes(r[5]),
            via=json.loads(r[6] or "[]"),
        )
        for r in rows
    ]
    by_id = {item.id: item for item in items}
    if by_id:
        marks = ",".join("?" * len(by_id))
        for outbox_id, name, sha in store.conn.execute(
            "SELECT outbox_id, name, sha256 FROM outbox_attachments "  # noqa: S608
            f"WHERE outbox_id IN ({marks}) ORDER BY outbox_id, name",
            tuple(by_id),
        ):
            by_id[outbox_id].attachments.append((name, sha))
    return items


def batch_items(store: Store, key: str) -> list[OutboxItem]:
    return _items(store, "batch_key = ? AND state = 'pending'", (key,))


def pending_resolutions(store: Store) -> list[OutboxItem]:
    return _items(store, "kind = 'resolution' AND state = 'pending'", ())


def push_body(project_id: int, items: list[OutboxItem]) -> dict[str, Any]:
    """The JSON body of ``POST /api/v1/sync/push`` for a batch (deterministic for its rows)."""
    return {
        "project_id": project_id,
        "items": [
            {
                "client_id": str(item.id),
                "xml": item.body.decode("utf-8", errors="replace"),
                "attachments": [{"name": n, "sha256": s} for n, s in item.attachments],
                "via": item.via,
            }
            for item in items
        ],
    }


def record_results(store: Store, key: str, results: list[dict[str, Any]]) -> BatchOutcome:
    """Commit the server's per-item answers for a batch, in one transaction.

    Items the answer does not mention, and items refused only because an attachment had not
    arrived, go back to pending under no key, to be sent in a later batch.
    """
    outcome = BatchOutcome()
    now = utcnow()
    with store.transaction() as conn:
        members = {
            str(r[0]): (r[1] or r[2] or "")
            for r in conn.execute(
                "SELECT id, instance_id, conflict_id FROM outbox "
                "WHERE batch_key = ? AND state = 'pending'",
                (key,),
            )
        }
        answered: set[str] = set()
        for result in results:
            client_id = str(result.get("client_id"))
            if client_id not in members or client_id in answered:
                continue
            answered.add(client_id)
            status = str(result.get("status") or "")
            code = result.get("code")
            detail = result.get("detail")
            outcome.counts[status] += 1
            if status in DONE_STATUSES:
                missing = result.get("missing_attachments") or []
                note = f"server lacks attachments: {', '.join(missing)}" if missing else None
                conn.execute(
                    "UPDATE outbox SET state = 'sent', sent_at = ?, result_status = ?, "
                    "result_code = ?, result_detail = ?, last_error = ?, "
                    "attempts = attempts + 1 WHERE id = ?",
                    (now, status, code, detail, note, int(client_id)),
                )
            elif status == "rejected" and code == BLOB_MISSING:
                outcome.retry += 1
                conn.execute(
                    "UPDATE blobs SET uploaded = 0 WHERE sha256 IN (SELECT sha256 FROM "
                    "outbox_attachments WHERE outbox_id = ?)",
                    (int(client_id),),
                )
                conn.execute(
                    "UPDATE outbox SET batch_key = NULL, last_error = ?, attempts = attempts + 1 "
                    "WHERE id = ?",
                    (f"{code}: {detail}", int(client_id)),
                )
            elif status in ("conflict", "rejected"):
                outcome.refused.append(
                    Refusal(members[client_id], status, str(code or ""), str(detail or ""))
                )
                conn.execute(
                    "UPDATE outbox SET state = ?, result_status = ?, result_code = ?, "
                    "result_detail = ?, last_error = ?, attempts = attempts + 1 WHERE id = ?",
                    (status, status, code, detail, f"{code}: {detail}", int(client_id)),
                )
            else:
                outcome.retry += 1
                conn.execute(
                    "UPDATE outbox SET batch_key = NULL, last_error = ?, attempts = attempts + 1 "
                    "WHERE id = ?",
                    (f"unknown result status {status!r}", int(client_id)),
                )
        unanswered = [int(c) for c in members if c not in answered]
        outcome.retry += len(unanswered)
        conn.executemany(
            "UPDATE outbox SET batch_key = NULL, last_error = 'not in the server answer' "
            "WHERE id = ?",
            [(i,) for i in unanswered],
        )
    return outcome


def release_batch(store: Store, key: str, reason: str) -> None:
    """Put a batch's pending items back under no key (the server will not take this key)."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET batch_key = NULL, last_error = ? "
            "WHERE batch_key = ? AND state = 'pending'",
            (reason, key),
        )


def finish_item(store: Store, item_id: int, state: str, code: str | None, detail: str) -> None:
    """Record the answer to a single-item request (a resolution)."""
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET state = ?, result_status = ?, result_code = ?, result_detail = ?, "
            "last_error = ?, attempts = attempts + 1, sent_at = CASE WHEN ? = 'sent' THEN ? "
            "ELSE sent_at END WHERE id = ?",
            (
                state,
                state,
                code,
                detail,
                None if state == "sent" else f"{code}: {detail}",
                state,
                utcnow(),
                item_id,
            ),
        )


def refuse_for_blob(store: Store, sha256: str, code: str, detail: str) -> list[str]:
    """Set aside the pending submissions that need a blob we no longer hold; their keys."""
    with store.transaction() as conn:
        rows = conn.execute(
            "SELECT o.id, o.instance_id FROM outbox o JOIN outbox_attachments a "
            "ON a.outbox_id = o.id WHERE a.sha256 = ? AND o.state = 'pending' "
            "AND o.batch_key IS NULL",
            (sha256,),
        ).fetchall()
        conn.executemany(
            "UPDATE outbox SET state = 'rejected', result_status = 'rejected', result_code = ?, "
            "result_detail = ?, last_error = ? WHERE id = ?",
            [(code, detail, f"{code}: {detail}", r[0]) for r in rows],
        )
    return [str(r[1]) for r in rows]


def retry_refused(store: Store) -> int:
    """Put conflict and rejected items back in the queue (after the cause was fixed)."""
    with store.transaction() as conn:
        cur = conn.execute(
            "UPDATE outbox SET state = 'pending', batch_key = NULL "
            "WHERE state IN ('conflict', 'rejected')"
        )
        return cur.rowcount


# --- blobs ---------------------------------------------------------------------------------------


def blobs_to_upload(
    store: Store, project_id: int | None = None, current: int | None = None
) -> list[tuple[str, int]]:
    """Attachments of pending submissions (of ``project_id``, or all) not yet known to be
    complete on the server; ``current``, the chosen project, also takes submissions imported
    before any project was chosen."""
    query = (
        "SELECT DISTINCT b.sha256, b.size FROM blobs b JOIN outbox_attachments a "
        "ON a.sha256 = b.sha256 JOIN outbox o ON o.id = a.outbox_id "
        "WHERE o.state = 'pending' AND b.uploaded = 0"
    )
    params: tuple[Any, ...] = ()
    if project_id is not None:
        query += " AND (o.project_id = ? OR (o.project_id IS NULL AND ? = ?))"
        params = (project_id, project_id, current if current is not None else project_id)
    rows = store.conn.execute(query + " ORDER BY b.sha256", params).fetchall()
    return [(str(r[0]), int(r[1])) for r in rows]


def mark_uploaded(store: Store, sha256s: list[str]) -> None:
    with store.transaction() as conn:
        conn.executemany("UPDATE blobs SET uploaded = 1 WHERE sha256 = ?", [(s,) for s in sha256s])
