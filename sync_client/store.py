"""The laptop's local store: one SQLite file in WAL mode, plus attachment files named by hash.

It holds the outbox (what waits to go up), the local copy of what was pulled (forms, media,
entity lists, conflicts, review states) and the sync cursors. Every multi-step change happens in
one transaction, and files are written before the rows that point at them, so a process killed at
any moment leaves either the old state or the new one, never half of each.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from sync_client.errors import StoreError

STORE_NAME = "store.sqlite3"
SCHEMA_VERSION = 3
SQLITE_HEADER = b"SQLite format 3\x00"
CHUNK = 256 * 1024

SCHEMA = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY,
    path TEXT NOT NULL,           -- relative to the store directory
    size INTEGER NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0,
    added_at TEXT NOT NULL
);
CREATE TABLE batches (
    key TEXT PRIMARY KEY,         -- the Idempotency-Key the batch is (re)sent with
    project_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('submission', 'resolution')),
    instance_id TEXT UNIQUE,      -- submissions: meta/instanceID
    conflict_id TEXT UNIQUE,      -- resolutions: the conflict they resolve
    project_id INTEGER,
    form_id TEXT NOT NULL DEFAULT '',
    form_version TEXT NOT NULL DEFAULT '',
    body BLOB NOT NULL,           -- the submission XML, or the resolution as JSON
    body_sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    via TEXT NOT NULL DEFAULT '[]',
    source TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sent', 'conflict', 'rejected')),
    batch_key TEXT REFERENCES batches(key),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    result_status TEXT,
    result_code TEXT,
    result_detail TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    CHECK ((instance_id IS NULL) <> (conflict_id IS NULL))
);
CREATE INDEX outbox_state ON outbox (state, batch_key, id);
CREATE TABLE outbox_attachments (
    outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    PRIMARY KEY (outbox_id, name)
);
CREATE INDEX outbox_attachments_sha ON outbox_attachments (sha256);
CREATE TABLE cursors (
    project_id INTEGER PRIMARY KEY,
    cursor TEXT,
    etag TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE forms (
    project_id INTEGER NOT NULL,
    form_id TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'open',
    current_version TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (project_id, form_id)
);
CREATE TABLE form_versions (
    project_id INTEGER NOT NULL,
    form_id TEXT NOT NULL,
    version TEXT NOT NULL,
    hash TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL DEFAULT '{}',
    xml BLOB,
    xml_hash TEXT,                -- the server hash the stored XML was fetched for
    media_fresh INTEGER NOT NULL DEFAULT 0,  -- 0: manifest and media to be checked again
    updated_at TEXT NOT NULL,
    PRIMARY KEY (project_id, form_id, version)
);
CREATE TABLE media (
    project_id INTEGER NOT NULL,
    form_id TEXT NOT NULL,
    version TEXT NOT NULL,
    name TEXT NOT NULL,
    hash TEXT NOT NULL,           -- as the manifest gives it, e.g. md5:...
    sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    is_entity_list INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (project_id, form_id, version, name)
);
CREATE TABLE entities (
    project_id INTEGER NOT NULL,
    list_name TEXT NOT NULL,
    uuid TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    conflict TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (project_id, list_name, uuid)
);
CREATE TABLE conflicts (
    project_id INTEGER NOT NULL,
    conflict_id TEXT NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (project_id, conflict_id)
);
CREATE TABLE review_states (
    project_id INTEGER NOT NULL,
    instance_id TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (project_id, instance_id)
);
"""

# Version 2: what a coordinator took out of the outbox, kept whole (body and all), with who,
# when and why; an import does not queue a discarded instance again.
SCHEMA_2 = """
CREATE TABLE outbox_discarded (
    id INTEGER PRIMARY KEY,
    outbox_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    instance_id TEXT,
    conflict_id TEXT,
    project_id INTEGER,
    form_id TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    result_code TEXT,
    result_detail TEXT,
    body BLOB NOT NULL,
    attachments TEXT NOT NULL DEFAULT '[]',
    reason TEXT NOT NULL,
    discarded_by TEXT NOT NULL,
    discarded_at TEXT NOT NULL
);
CREATE INDEX outbox_discarded_instance ON outbox_discarded (instance_id);
"""


# Version 3: bundles carried by hand (docs/offline-bundles.md): what was exported, which outbox
# items each carried, whether the centre's receipt came back, and what was imported.
SCHEMA_3 = """
CREATE TABLE bundles_out (
    bundle_id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,      -- the recipient's key id
    to_centre INTEGER NOT NULL,
    project_id INTEGER,
    path TEXT NOT NULL,
    items INTEGER NOT NULL,
    size INTEGER NOT NULL,
    exported_at TEXT NOT NULL,
    acknowledged_at TEXT
);
CREATE TABLE bundle_items (
    bundle_id TEXT NOT NULL REFERENCES bundles_out(bundle_id),
    outbox_id INTEGER NOT NULL,
    PRIMARY KEY (bundle_id, outbox_id)
);
CREATE TABLE bundles_in (
    bundle_id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    kind TEXT NOT NULL,
    items INTEGER NOT NULL,
    imported_at TEXT NOT NULL
);
"""


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_moment(text: str | None) -> datetime | None:
    """A time the store (or the server) wrote as ISO 8601; one without a zone is UTC. None for
    nothing or for text that is not a time."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class SourceUnreadable(Exception):
    """The stream being copied into the blob directory failed to read (not the store's fault)."""


def _read(stream: BinaryIO) -> bytes:
    try:
        return stream.read(CHUNK)
    except (OSError, RuntimeError, ValueError) as exc:  # zip members raise the latter two
        raise SourceUnreadable(str(exc)) from exc


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    size: int
    path: str


class Store:
    """An open local store. Use :func:`open_store`; close with :meth:`close`."""

    def __init__(self, home: Path, conn: sqlite3.Connection) -> None:
        self.home = home
        self.path = home / STORE_NAME
        self.conn = conn
        self.blob_dir = home / "blobs"

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; the write lock is taken at the start (BEGIN IMMEDIATE), so two
        fieldsync processes never interleave a read-then-write."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- meta ----------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- blobs ---------------------------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        return self.blob_dir / sha256[:2] / sha256

    def put_blob_stream(self, stream: BinaryIO) -> BlobRef:
        """Copy ``stream`` into the blob directory under its SHA-256 (no row yet: the caller adds
        it in its own transaction with :meth:`register_blob`).

        Raises:
            StoreError: the file cannot be written (disk full, permissions).
            SourceUnreadable: ``stream`` failed while being read.
        """
        incoming = self.blob_dir / ".incoming"
        tmp = incoming / f"{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            incoming.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as out:
                while chunk := _read(stream):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            final = self.blob_path(sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            if _file_sha256(final) == sha256:
                # Same name, same content: keep the copy already there (on Windows a file
                # another process has open could not be replaced anyway).
                tmp.unlink()
            else:
                os.replace(tmp, final)
        except SourceUnreadable:
            tmp.unlink(missing_ok=True)
            raise
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise store_os_error(exc, self.blob_dir) from exc
        return BlobRef(sha256=sha256, size=size, path=final.relative_to(self.home).as_posix())

    def put_blob_file(self, path: Path) -> BlobRef:
        """Raises: StoreError when the copy cannot be written; OSError when ``path`` cannot be
        read."""
        with path.open("rb") as fh:
            return self.put_blob_stream(fh)

    def register_blob(self, conn: sqlite3.Connection, ref: BlobRef) -> None:
        conn.execute(
            "INSERT INTO blobs (sha256, path, size, added_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (sha256) DO NOTHING",
            (ref.sha256, ref.path, ref.size, utcnow()),
        )

    def open_blob(self, sha256: str) -> BinaryIO:
        """Raises: StoreError when the blob's file is missing or unreadable."""
        row = self.conn.execute("SELECT path FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
        path = self.home / row[0] if row else self.blob_path(sha256)
        try:
            return path.open("rb")
        except OSError as exc:
            raise StoreError(
                f"the attachment file {path} is missing or unreadable ({exc.strerror or exc}); "
                "import the tablet folder again to restore it"
            ) from exc

    def blob_intact(self, sha256: str) -> bool:
        """Whether the blob's file is there and still hashes to its name."""
        return _file_sha256(self.blob_path(sha256)) == sha256

    def verify_blob(self, sha256: str) -> int:
        """The blob's size after checking its content still hashes to its name.

        Raises:
            StoreError: the file is missing or its content changed on disk.
        """
        digest = hashlib.sha256()
        size = 0
        with self.open_blob(sha256) as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
        if digest.hexdigest() != sha256:
            raise StoreError(
                f"the attachment file for {sha256[:12]}… changed on disk; import the tablet "
                "folder again to restore it"
            )
        return size


def _file_sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def store_os_error(exc: OSError, where: Path) -> StoreError:
    import errno

    if exc.errno == errno.ENOSPC:
        return StoreError(f"the disk holding {where} is full; free some space and run again")
    return StoreError(f"cannot write in {where}: {exc.strerror or exc}")


def describe_sqlite_error(exc: sqlite3.Error, path: Path) -> StoreError:
    """A clear message for a database failure (full disk, damaged file, locked)."""
    text = str(exc).lower()
    if "disk is full" in text or "disk i/o" in text:
        return StoreError(f"the disk holding {path} is full or failing; free space and run again")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return corrupt_store(path, str(exc))
    if "locked" in text or "busy" in text:
        return StoreError(f"the local store {path} is busy: another fieldsync is running")
    if "readonly" in text or "unable to open" in text:
        return StoreError(f"cannot open the local store {path} for writing: {exc}")
    return StoreError(f"the local store {path} failed: {exc}")


def corrupt_store(path: Path, reason: str) -> StoreError:
    return StoreError(
        f"the local store {path} is damaged ({reason}); it was left untouched. Keep a copy "
        "(it may hold unsent forms), move it aside, and run `fieldsync import` and "
        "`fieldsync sync` again"
    )


def open_store(home: Path) -> Store:
    """Open (creating if needed) the store in ``home``.

    Raises:
        StoreError: the file is not a SQLite database, is damaged, or cannot be opened.
    """
    from sync_client.home import ensure_private_dir

    ensure_private_dir(home)
    path = home / STORE_NAME
    try:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        header = b""
    except OSError as exc:
        raise StoreError(f"cannot read the local store {path}: {exc.strerror or exc}") from exc
    # An empty file is what a first run killed before its first commit leaves: nothing to lose.
    if header and header != SQLITE_HEADER:
        raise corrupt_store(path, "not a SQLite database")
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise describe_sqlite_error(exc, path) from exc
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a battery dying right after a commit must not undo it.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        _migrate(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise describe_sqlite_error(exc, path) from exc
    return Store(home, conn)


def _migrate(conn: sqlite3.Connection) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"store schema {version} is newer than this fieldsync understands; upgrade fieldsync"
        )
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the lock: read it again.
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        steps = [SCHEMA, SCHEMA_2, SCHEMA_3][version:]
        for script in steps:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def check_integrity(store: Store) -> str:
    """``ok`` or the first problem ``PRAGMA quick_check`` reports."""
    row = store.conn.execute("PRAGMA quick_check(1)").fetchone()
    return str(row[0]) if row else "ok"
