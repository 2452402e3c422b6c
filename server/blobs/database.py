"""The database blob store: blob contents in the ``blob_contents`` table, in chunks, with the
file store's directory as this host's read cache (docs/adr/0022-blobs-in-the-database.md).

Writing works as in the file store (stream to a temporary file while hashing, fsync, rename into
the cache directory); :meth:`DatabaseBlobStore.persist`, called by
:func:`server.blobs.service.record` for every blob it registers, then copies the file into the
database in the caller's transaction, chunk by chunk. So a submission and its files commit
together, whichever host took them, and a ``pg_dump`` carries both.

Reading looks in the cache first: names are hashes, so a cached file is always the right
content. A blob another host stored is fetched from the database chunk by chunk into the cache
(hashed on the way, renamed into place when complete) and read from there; nothing holds a
whole file in memory.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from server.blobs.models import Blob, BlobContent
from server.blobs.store import FileBlobStore
from server.files import private_dir

# The bytes in one ``blob_contents`` row: a few rows for a photo, never one huge value.
DB_CHUNK = 512 * 1024


class BlobCorrupt(Exception):
    """Content read back does not have the hash it is stored under."""


class DatabaseBlobStore(FileBlobStore):
    """Blob contents in the database; ``root`` (``<data dir>/blobs``) is this host's cache."""

    kind = "database"

    def __init__(self, root: Path, engine: Engine) -> None:
        super().__init__(root)
        self.engine = engine

    # --- writing ---------------------------------------------------------------------------

    def persist(self, session: Session, sha256: str) -> None:
        """Copy the cached file of ``sha256`` into the database in ``session``'s transaction,
        unless the database has it already. Two transactions storing the same content at once
        are harmless: the second one's rows give way to the first's (``ON CONFLICT DO NOTHING``).

        Raises:
            FileNotFoundError: the content is neither in the database nor in the cache.
        """
        if self._in_session(session, sha256):
            return
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        with self.path(sha256).open("rb") as fh:
            number = 0
            while True:
                data = fh.read(DB_CHUNK)
                if not data and number > 0:
                    break
                session.execute(
                    insert(BlobContent)
                    .values(sha256=sha256, chunk=number, data=data)
                    .on_conflict_do_nothing()
                )
                number += 1
                if len(data) < DB_CHUNK:
                    break

    def _in_session(self, session: Session, sha256: str) -> bool:
        found = session.execute(
            select(BlobContent.chunk).where(BlobContent.sha256 == sha256, BlobContent.chunk == 0)
        ).first()
        return found is not None

    # --- reading ---------------------------------------------------------------------------

    def exists(self, sha256: str) -> bool:
        if self.path(sha256).exists():
            return True
        with _Reader(self.engine) as reader:
            return reader.chunk(sha256, 0) is not None

    def open(self, sha256: str) -> BinaryIO:
        """The content, from the cache; fetched into it first when another host stored it.

        Raises:
            FileNotFoundError: the database does not hold the content.
            BlobCorrupt: the database's chunks do not hash to ``sha256``.
        """
        return self.fetch(sha256).open("rb")

    def iter_chunks(self, sha256: str) -> Iterator[bytes]:
        # Fetch before the first chunk is asked for, so a missing blob fails before a response
        # starts rather than in the middle of one.
        path = self.fetch(sha256)

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as fh:
                while chunk := fh.read(64 * 1024):
                    yield chunk

        return chunks()

    def fetch(self, sha256: str) -> Path:
        """The cache file of ``sha256``, written from the database when it is not there yet.

        Raises:
            FileNotFoundError: the database does not hold the content.
            BlobCorrupt: the database's chunks do not hash to ``sha256``.
        """
        target = self.path(sha256)
        if target.exists():
            return target
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp, prefix="fetch-")
        try:
            with os.fdopen(fd, "wb") as out, _Reader(self.engine) as reader:
                number = 0
                while (data := reader.chunk(sha256, number)) is not None:
                    digest.update(data)
                    out.write(data)
                    number += 1
                if number == 0:
                    raise FileNotFoundError(f"blob {sha256} is not in the database")
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != sha256:
                raise BlobCorrupt(f"blob {sha256} in the database hashes to {digest.hexdigest()}")
            private_dir(target.parent)
            os.replace(tmp_name, target)
            return target
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def prune_cache(self, session: Session, older_than: float) -> int:
        """Delete this host's cached files of blobs the database no longer has (a retention
        purge or a rolled-back request on any host), last written before ``older_than``
        (a timestamp: a younger file may belong to a transaction still running). Returns how
        many were deleted. The host that purged deleted its own copy already; this is how the
        other hosts' copies of a person's photo go."""
        found: list[tuple[str, Path]] = []
        for path in self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*"):
            name = path.name
            if len(name) == 64 and name[:2] == path.parent.parent.name and _older(path, older_than):
                found.append((name, path))
        removed = 0
        for start in range(0, len(found), 500):
            batch = dict(found[start : start + 500])
            stored = set(session.scalars(select(Blob.sha256).where(Blob.sha256.in_(list(batch)))))
            for sha256, path in batch.items():
                if sha256 not in stored:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    def in_database(self, sha256: str) -> bool:
        with _Reader(self.engine) as reader:
            return reader.chunk(sha256, 0) is not None


def _older(path: Path, moment: float) -> bool:
    try:
        return path.stat().st_mtime < moment
    except FileNotFoundError:
        return False


class _Reader:
    """Reads chunks outside any ORM transaction, on a DBAPI connection of its own.

    A request's session may hold SQLite's write lock (every transaction there begins with
    ``BEGIN IMMEDIATE``); a second SQLAlchemy connection would queue behind it for ever. A plain
    read on the raw connection needs no lock in WAL mode, and sees what is committed.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        marker = "?" if engine.dialect.name == "sqlite" else "%s"
        self.sql = f"SELECT data FROM blob_contents WHERE sha256 = {marker} AND chunk = {marker}"  # noqa: S608 (constant text)
        self.raw: Any = None

    def __enter__(self) -> _Reader:
        self.raw = self.engine.raw_connection()
        return self

    def chunk(self, sha256: str, number: int) -> bytes | None:
        cursor = self.raw.cursor()
        try:
            cursor.execute(self.sql, (sha256, number))
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else bytes(row[0])

    def __exit__(self, *_exc: object) -> None:
        try:
            self.raw.rollback()
        finally:
            self.raw.close()
