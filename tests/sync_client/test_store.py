"""The local store: schema, the outbox's state machine, batches and damaged files."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from sync_client import outbox, outbox_review
from sync_client.errors import StoreError, UsageError
from sync_client.importing import import_path
from sync_client.store import STORE_NAME, Store, check_integrity, open_store
from tests.sync_client.odk import write_instance


def queue(store: Store, tmp_path: Path, n: int, photo: bool = False) -> list[str]:
    instances = tmp_path / "instances"
    ids = [
        write_instance(instances, f"HA-{i}", photo=f"p{i}".encode() if photo else None)[0]
        for i in range(n)
    ]
    import_path(store, instances, 1, "laptop")
    # in outbox order (the import walks folders by name)
    order = [r[0] for r in store.conn.execute("SELECT instance_id FROM outbox ORDER BY id")]
    assert set(order) == set(ids)
    return order


def states(store: Store) -> dict[str, str]:
    return dict(
        store.conn.execute("SELECT instance_id, state FROM outbox WHERE kind = 'submission'")
    )


def test_store_is_sqlite_in_wal_mode(store: Store) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert check_integrity(store) == "ok"


def test_reopening_keeps_the_outbox(home: Path, tmp_path: Path) -> None:
    first = open_store(home)
    ids = queue(first, tmp_path, 2)
    first.close()
    again = open_store(home)
    assert set(states(again)) == set(ids)
    again.close()


def test_instance_id_is_unique_in_the_database(store: Store, tmp_path: Path) -> None:
    queue(store, tmp_path, 1)
    row = store.conn.execute("SELECT instance_id, body, body_sha256 FROM outbox").fetchone()
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute(
            "INSERT INTO outbox (kind, instance_id, body, body_sha256, size, created_at) "
            "VALUES ('submission', ?, ?, ?, 1, 'now')",
            row,
        )


def test_a_file_that_is_not_a_store_is_refused_and_left_alone(home: Path) -> None:
    home.mkdir(parents=True)
    path = home / STORE_NAME
    path.write_bytes(b"these are someone's notes, not a database" * 10)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="damaged"):
        open_store(home)
    assert path.read_bytes() == before


def test_a_store_with_damaged_pages_is_refused(home: Path, tmp_path: Path) -> None:
    store = open_store(home)
    queue(store, tmp_path, 30)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    path = home / STORE_NAME
    data = bytearray(path.read_bytes())
    # keep the header, scribble over the schema page and beyond
    data[100:4096] = b"\xff" * (4096 - 100)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged"):
        opened = open_store(home)
        check_integrity(opened)
        opened.conn.execute("SELECT COUNT(*) FROM outbox").fetchone()


def test_batches_are_formed_once_and_rebuilt_identically(store: Store, tmp_path: Path) -> None:
    queue(store, tmp_path, 5, photo=True)
    first = outbox.form_batch(store, 1, max_items=3, max_bytes=10**6)
    assert first is not None
    key, last_id = first
    body = outbox.push_body(1, outbox.batch_items(store, key))
    assert [i["client_id"] for i in body["items"]] == ["1", "2", "3"]
    assert body["items"][0]["attachments"][0]["name"] == "photo.jpg"
    # A restarted client finds the open batch and rebuilds the very same body for its key.
    assert outbox.open_batches(store) == [key]
    assert outbox.push_body(1, outbox.batch_items(store, key)) == body
    second = outbox.form_batch(store, 1, max_items=3, max_bytes=10**6, after_id=last_id)
    assert second is not None
    assert [i.id for i in outbox.batch_items(store, second[0])] == [4, 5]
    assert outbox.form_batch(store, 1, 3, 10**6) is None


def test_batch_byte_limit_still_sends_an_oversized_item_alone(store: Store, tmp_path: Path) -> None:
    queue(store, tmp_path, 3)
    formed = outbox.form_batch(store, 1, max_items=10, max_bytes=1)
    assert formed is not None
    assert len(outbox.batch_items(store, formed[0])) == 1


def test_results_move_items_to_their_states(store: Store, tmp_path: Path) -> None:
    ids = queue(store, tmp_path, 5, photo=True)
    formed = outbox.form_batch(store, 1, 10, 10**6)
    assert formed is not None
    key = formed[0]
    outbox.mark_uploaded(store, [s for s, _ in outbox.blobs_to_upload(store)])
    results = [
        {"client_id": "1", "status": "stored"},
        {"client_id": "2", "status": "duplicate"},
        {
            "client_id": "3",
            "status": "conflict",
            "code": "submission.instance_conflict",
            "detail": "different content",
        },
        {"client_id": "4", "status": "rejected", "code": "blob.missing", "detail": "upload"},
        # item 5 is missing from the answer
    ]
    outcome = outbox.record_results(store, key, results)
    assert states(store) == {
        ids[0]: "sent",
        ids[1]: "sent",
        ids[2]: "conflict",
        ids[3]: "pending",
        ids[4]: "pending",
    }
    assert outcome.retry == 2
    assert [r.key for r in outcome.refused] == [ids[2]]
    assert outbox.open_batches(store) == []
    # the item refused for a missing blob wants its photo uploaded again
    assert [s for s, _ in outbox.blobs_to_upload(store)] != []
    refused = outbox_review.refused_items(store)
    assert refused == [
        ("submission", ids[2], "conflict", "submission.instance_conflict", "different content")
    ]
    summary = outbox_review.summary(store)
    assert summary.by_state == {"sent": 2, "conflict": 1, "pending": 2}
    assert summary.pending_bytes > 0
    # a repeated answer for the same batch changes nothing more
    outbox.record_results(store, key, results)
    assert states(store)[ids[0]] == "sent"
    assert outbox.retry_refused(store) == 1
    assert states(store)[ids[2]] == "pending"


def test_resolutions_are_queued_replaced_and_never_resent(store: Store) -> None:
    assert outbox.queue_resolution(store, 1, "c-9", {"status": "cleared"}, "QA visit") == "queued"
    assert outbox.queue_resolution(store, 1, "c-9", {"status": "worked_on"}, "typo") == "replaced"
    items = outbox.pending_resolutions(store)
    assert len(items) == 1
    assert json.loads(items[0].body) == {"values": {"status": "worked_on"}, "reason": "typo"}
    key = outbox.assign_key(store, items[0].id, 1, "resolution")
    assert outbox.assign_key(store, items[0].id, 1, "resolution") == key
    with pytest.raises(UsageError, match="being sent"):
        outbox.queue_resolution(store, 1, "c-9", {"status": "x"}, "y")
    outbox.finish_item(store, items[0].id, "sent", None, "")
    with pytest.raises(UsageError, match="already sent"):
        outbox.queue_resolution(store, 1, "c-9", {"status": "x"}, "y")


def test_a_transaction_cut_by_an_error_leaves_nothing_behind(store: Store, tmp_path: Path) -> None:
    queue(store, tmp_path, 2)
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute("UPDATE outbox SET state = 'sent'")
        conn.execute("INSERT INTO meta (key, value) VALUES ('probe', '1')")
        raise RuntimeError("power cut")
    assert set(states(store).values()) == {"pending"}
    assert store.get_meta("probe") is None


def test_forms_keep_the_project_they_were_imported_for(store: Store, tmp_path: Path) -> None:
    import_path(store, write_instance(tmp_path / "a")[1], 7, "laptop")
    import_path(store, write_instance(tmp_path / "b")[1], None, "laptop")
    import_path(store, write_instance(tmp_path / "c")[1], 3, "laptop")
    assert outbox.pending_projects(store, 3) == [3, 7]
    formed = outbox.form_batch(store, 3, 10, 10**6)
    assert formed is not None
    # the project-3 form and the one imported before any project was chosen
    assert [i.project_id for i in outbox.batch_items(store, formed[0])] == [3, 3]
    other = outbox.form_batch(store, 7, 10, 10**6)
    assert other is not None
    assert outbox.batch_project(store, other[0]) == 7
    assert len(outbox.batch_items(store, other[0])) == 1


def test_a_version_1_store_gains_the_discard_log_and_keeps_its_outbox(
    home: Path, tmp_path: Path
) -> None:
    from sync_client.store import SCHEMA

    home.mkdir(parents=True)
    with closing(sqlite3.connect(home / STORE_NAME)) as conn:
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT INTO outbox (kind, instance_id, body, body_sha256, size, created_at) "
            "VALUES ('submission', 'uuid:old', x'3c612f3e', 'h', 4, '2026-11-01T00:00:00Z')"
        )
        conn.execute("PRAGMA user_version = 1")
        conn.commit()
    store = open_store(home)
    try:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == 3
        assert states(store) == {"uuid:old": "pending"}
        assert outbox_review.discarded(store) == []
        # Version 3's tables: the bundles exported, not yet acknowledged, none so far.
        assert store.conn.execute("SELECT COUNT(*) FROM bundles_out").fetchone()[0] == 0
    finally:
        store.close()


def test_a_discarded_item_is_kept_whole_and_not_imported_again(
    store: Store, tmp_path: Path
) -> None:
    [kept, dropped] = queue(store, tmp_path, 2, photo=True)
    item_id = store.conn.execute(
        "SELECT id FROM outbox WHERE instance_id = ?", (dropped,)
    ).fetchone()[0]
    with pytest.raises(UsageError, match="3 characters"):
        outbox_review.discard(store, item_id, "no", "tester")
    gone = outbox_review.discard(store, item_id, "a test form, not a real report", "tester")
    assert gone.key == dropped
    assert states(store) == {kept: "pending"}
    [(outbox_id, kind, key, _at, by, reason, state)] = outbox_review.discarded(store)
    assert (outbox_id, kind, key, by, state) == (
        item_id,
        "submission",
        dropped,
        "tester",
        "pending",
    )
    assert reason == "a test form, not a real report"
    body, attachments = store.conn.execute(
        "SELECT body, attachments FROM outbox_discarded WHERE outbox_id = ?", (item_id,)
    ).fetchone()
    assert dropped.encode() in body
    assert json.loads(attachments)[0][0] == "photo.jpg"
    with pytest.raises(UsageError, match="was discarded on"):
        outbox_review.get(store, item_id)
    # The same tablet folder copied again: the discarded instance stays out.
    again = import_path(store, tmp_path / "instances", 1, "laptop")
    assert again.imported == 0
    assert [s.reason.split(";")[0][:25] for s in again.skipped] == ["discarded from the outbox"]
    assert again.failed == []
    assert states(store) == {kept: "pending"}


def test_an_item_in_a_batch_being_sent_cannot_be_discarded(store: Store, tmp_path: Path) -> None:
    queue(store, tmp_path, 1)
    formed = outbox.form_batch(store, 1, 10, 10**6)
    assert formed is not None
    with pytest.raises(UsageError, match="being sent"):
        outbox_review.discard(store, 1, "wrong project", "tester")
    assert len(states(store)) == 1
