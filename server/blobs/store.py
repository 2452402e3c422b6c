"""Blob store adapters: a directory of files named by their SHA-256 (:class:`FileBlobStore`, the
default), and the same directory as a per-host cache in front of the database
(:class:`server.blobs.database.DatabaseBlobStore`, ``FIELDSYNC_BLOB_STORE=database``).

Content is streamed to a temporary file in the store's own directory while it is hashed, then
renamed into place, so a reader never sees half a blob and a crash leaves at most a temporary
file behind. Because names are hashes, writing the same content twice is harmless.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from server.files import private_dir

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CHUNK = 64 * 1024


class BlobTooLarge(Exception):
    """The content exceeded the size the caller allowed."""


class BlobSizeMismatch(Exception):
    """The content's size differs from the size it claimed."""


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    md5: str
    size: int


class BlobStore(Protocol):
    def put_stream(
        self, stream: BinaryIO, *, max_bytes: int | None = None, expect_size: int | None = None
    ) -> StoredBlob: ...

    def put_bytes(self, data: bytes) -> StoredBlob: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def exists(self, sha256: str) -> bool: ...

    def path(self, sha256: str) -> Path: ...

    def persist(self, session: Session, sha256: str) -> None: ...


class FileBlobStore:
    """The default store: files under ``<data dir>/blobs/ab/cd/<sha256>``."""

    kind = "file"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / ".incoming"
        private_dir(self.tmp)

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def open(self, sha256: str) -> BinaryIO:
        return self.path(sha256).open("rb")

    def iter_chunks(self, sha256: str) -> Iterator[bytes]:
        with self.open(sha256) as fh:
            while chunk := fh.read(CHUNK):
                yield chunk

    def put_bytes(self, data: bytes) -> StoredBlob:
        import io

        return self.put_stream(io.BytesIO(data))

    def put_stream(
        self, stream: BinaryIO, *, max_bytes: int | None = None, expect_size: int | None = None
    ) -> StoredBlob:
        """Stream content into the store and return its hashes.

        Raises:
            BlobTooLarge: more than ``max_bytes`` arrived.
            BlobSizeMismatch: ``expect_size`` was given and the content had another size.
        """
        sha = hashlib.sha256()
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=self.tmp)
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise BlobTooLarge(f"more than {max_bytes} bytes")
                    sha.update(chunk)
                    md5.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if expect_size is not None and size != expect_size:
                raise BlobSizeMismatch(f"received {size} bytes, expected {expect_size}")
            digest = sha.hexdigest()
            target = self.path(digest)
            if target.exists():
                os.unlink(tmp_name)
                os.utime(target)  # fresh again, as in adopt()
            else:
                private_dir(target.parent)
                os.replace(tmp_name, target)
            return StoredBlob(sha256=digest, md5=md5.hexdigest(), size=size)
        except BaseException:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
            raise

    def incoming_file(self) -> tuple[BinaryIO, Path]:
        """A new temporary file in the store's own directory, for :meth:`adopt`."""
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="part-")
        return os.fdopen(fd, "wb"), Path(name)

    def adopt(self, path: Path, sha256: str, md5: str, size: int) -> StoredBlob:
        """Move a file written (and hashed) by the caller into the store, without copying it.
        ``path`` must be one of :meth:`incoming_file`'s; it is gone afterwards either way.

        Raises:
            BlobSizeMismatch: the file's size is not ``size``.
        """
        try:
            with path.open("rb+") as fh:
                os.fsync(fh.fileno())
                actual = os.fstat(fh.fileno()).st_size
            if actual != size:
                raise BlobSizeMismatch(f"received {actual} bytes, expected {size}")
            target = self.path(sha256)
            if target.exists():
                path.unlink()
                # Fresh again: a host's cache sweep (DatabaseBlobStore.prune_cache) leaves young
                # files alone while the transaction registering them may still be running.
                os.utime(target)
            else:
                private_dir(target.parent)
                os.replace(path, target)
            return StoredBlob(sha256=sha256, md5=md5, size=size)
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def persist(self, session: Session, sha256: str) -> None:
        """Make the stored content durable in ``session``'s transaction: nothing to do here, the
        file was fsynced before it was renamed into place (the database store writes it to the
        database; :func:`server.blobs.service.record` calls this for every blob it registers)."""

    def prune_cache(self, session: Session, older_than: float) -> int:
        """Nothing to prune: in the file store the files are the contents (the purge deletes
        the ones it removes). See :meth:`DatabaseBlobStore.prune_cache`."""
        return 0

    def copy_file(self, path: Path) -> StoredBlob:
        with path.open("rb") as fh:
            return self.put_stream(fh)

    def remove_all(self) -> None:
        """Used by tests to empty a store between runs."""
        shutil.rmtree(self.root, ignore_errors=True)
        private_dir(self.tmp)
