"""Resumable blob uploads (after tus): which blobs the server lacks, where an upload stands,
and receiving one chunk.

The bytes received so far live in ``<data dir>/uploads/<sha256>.part``; the ``sync_blob_uploads``
row holds the confirmed offset, which the file may exceed after a crash (the next chunk
overwrites the excess). When the last byte arrives the whole file is hashed; only content whose
SHA-256 matches its name enters the blob store and becomes usable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import errors
from server.blobs import service as blob_service
from server.blobs.models import Blob
from server.blobs.store import CHUNK, FileBlobStore, StoredBlob
from server.db import utcnow
from server.files import private_dir, private_file
from server.sync.models import BlobUpload

UPLOAD_EXPIRY = timedelta(days=7)
_SHA256 = re.compile(r"[0-9a-f]{64}")


class UploadDiscarded(Exception):
    """The complete content's hash did not match; the upload was removed (commit, then tell the
    client to start again)."""


@dataclass(frozen=True)
class UploadState:
    offset: int
    length: int | None
    complete: bool


@dataclass(frozen=True)
class Chunk:
    """A chunk already spooled to a temporary file, with its SHA-256."""

    path: Path
    size: int
    sha256: bytes


def check_sha256(value: str) -> str:
    """Raises: Problem 400 ``blob.invalid_hash``."""
    if not _SHA256.fullmatch(value):
        raise errors.invalid_hash(value)
    return value


def parse_checksum(header: str | None) -> bytes | None:
    """Read ``Upload-Checksum: sha256 <base64>``.

    Raises:
        Problem: 400 ``blob.bad_header`` for another algorithm or a malformed value.
    """
    if header is None or not header.strip():
        return None
    algorithm, _, value = header.strip().partition(" ")
    if algorithm.lower() != "sha256":
        raise errors.bad_upload_header(
            "Upload-Checksum", f"algorithm {algorithm!r} is not supported; use sha256"
        )
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 32:
        raise errors.bad_upload_header(
            "Upload-Checksum", "expected 'sha256 <base64 of the 32-byte digest>'"
        )
    return digest


def held_blobs(session: Session, blobs: FileBlobStore, hashes: Iterable[str]) -> dict[str, Blob]:
    """The blobs among ``hashes`` the server holds complete: registered and present on disk."""
    wanted = sorted(set(hashes))
    rows: dict[str, Blob] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        for blob in session.scalars(select(Blob).where(Blob.sha256.in_(part))):
            if blobs.exists(blob.sha256):
                rows[blob.sha256] = blob
    return rows


def missing(session: Session, blobs: FileBlobStore, hashes: list[str]) -> list[str]:
    """The hashes of ``hashes`` the server does not hold complete, in the order given."""
    held = held_blobs(session, blobs, hashes)
    seen: set[str] = set()
    result = []
    for sha in hashes:
        if sha not in held and sha not in seen:
            seen.add(sha)
            result.append(sha)
    return result


def upload_state(
    session: Session, blobs: FileBlobStore, uploads_dir: Path, sha256: str
) -> UploadState:
    """Where the upload of ``sha256`` stands (``offset`` 0 when nothing arrived)."""
    held = held_blobs(session, blobs, [sha256]).get(sha256)
    if held is not None:
        return UploadState(held.size, held.size, complete=True)
    if blobs.exists(sha256):
        size = blobs.path(sha256).stat().st_size
        return UploadState(size, size, complete=True)
    upload = session.get(BlobUpload, sha256)
    if upload is None or _expired(upload):
        return UploadState(0, None, complete=False)
    return UploadState(_confirmed_offset(upload, uploads_dir), upload.upload_length, False)


def spool_chunk(stream: IO[bytes], uploads_dir: Path, max_bytes: int) -> Chunk:
    """Copy a request body into a temporary file beside the uploads, hashing it on the way.

    Raises:
        Problem: 413 when more than ``max_bytes`` arrive.
    """
    private_dir(uploads_dir)
    digest = hashlib.sha256()
    size = 0
    fd, name = tempfile.mkstemp(dir=uploads_dir, prefix=".chunk-")
    try:
        with os.fdopen(fd, "wb") as out:
            while data := stream.read(CHUNK):
                size += len(data)
                if size > max_bytes:
                    raise errors.too_large(max_bytes)
                digest.update(data)
                out.write(data)
    except BaseException:
        os.unlink(name)
        raise
    return Chunk(Path(name), size, digest.digest())


def receive_chunk(
    session: Session,
    blobs: FileBlobStore,
    uploads_dir: Path,
    sha256: str,
    *,
    offset: int,
    length: int,
    chunk: Chunk,
    checksum: bytes | None,
    user_id: int | None,
) -> UploadState:
    """Append ``chunk`` at ``offset`` to the upload of ``sha256`` (``length`` bytes in all),
    inside the caller's transaction; on the last byte, verify and store the blob.

    Retrying a chunk the server already confirmed is answered with the current state (409), and
    a chunk for a blob already complete is answered as complete.

    Raises:
        Problem: 422 ``blob.checksum_mismatch``; 409 ``blob.offset_mismatch`` or
            ``blob.length_mismatch``; 400 ``blob.beyond_length``.
        UploadDiscarded: the complete content's hash differs from ``sha256`` (the caller commits
            the removal and answers 422 ``blob.hash_mismatch``).
    """
    try:
        if checksum is not None and checksum != chunk.sha256:
            raise errors.checksum_mismatch()
        state = _already_complete(session, blobs, sha256)
        if state is not None:
            return state
        upload = _locked_upload(session, sha256)
        partial = uploads_dir / f"{sha256}.part"
        if upload is not None and (
            _expired(upload) or (offset == 0 and upload.upload_length != length)
        ):
            # An expired upload, or a restart from zero with another length: begin afresh.
            session.delete(upload)
            session.flush()
            upload = None
        if upload is None:
            # A racing request may have completed the blob while we waited for the lock.
            state = _already_complete(session, blobs, sha256)
            if state is not None:
                return state
            if offset != 0:
                raise errors.offset_mismatch(0, None)
            # Starting an upload is rare enough to sweep the abandoned ones on the way.
            expire_uploads(session, uploads_dir)
            upload = _start_upload(session, sha256, length, user_id)
        if upload.upload_length != length:
            raise errors.length_mismatch(upload.upload_offset, upload.upload_length)
        server_offset = _confirmed_offset(upload, uploads_dir)
        if offset != server_offset:
            raise errors.offset_mismatch(server_offset, upload.upload_length)
        if offset + chunk.size > length:
            raise errors.beyond_length(length)
        _write_at(partial, offset, chunk.path)
        upload.upload_offset = offset + chunk.size
        upload.updated_at = utcnow()
        if upload.upload_offset < length:
            return UploadState(upload.upload_offset, length, complete=False)
        return _finish(session, blobs, upload, partial)
    finally:
        chunk.path.unlink(missing_ok=True)


def expire_uploads(session: Session, uploads_dir: Path, now: datetime | None = None) -> int:
    """Remove uploads untouched for ``UPLOAD_EXPIRY``; returns how many."""
    cutoff = (now or utcnow()) - UPLOAD_EXPIRY
    stale = list(session.scalars(select(BlobUpload.sha256).where(BlobUpload.updated_at < cutoff)))
    if stale:
        session.execute(delete(BlobUpload).where(BlobUpload.sha256.in_(stale)))
        for sha in stale:
            (uploads_dir / f"{sha}.part").unlink(missing_ok=True)
    return len(stale)


def _already_complete(session: Session, blobs: FileBlobStore, sha256: str) -> UploadState | None:
    held = held_blobs(session, blobs, [sha256]).get(sha256)
    if held is not None:
        return UploadState(held.size, held.size, complete=True)
    if blobs.exists(sha256):
        # The store only holds verified content under its own hash: a previous completion
        # whose transaction did not commit. Register it now.
        stored = _hash_file(blobs.path(sha256))
        blob_service.register(session, stored)
        session.execute(delete(BlobUpload).where(BlobUpload.sha256 == sha256))
        return UploadState(stored.size, stored.size, complete=True)
    return None


def _locked_upload(session: Session, sha256: str) -> BlobUpload | None:
    # FOR UPDATE serialises two clients sending the same blob on PostgreSQL; SQLite's
    # BEGIN IMMEDIATE already serialises writers.
    return session.scalars(
        select(BlobUpload).where(BlobUpload.sha256 == sha256).with_for_update()
    ).first()


def _start_upload(session: Session, sha256: str, length: int, user_id: int | None) -> BlobUpload:
    upload = BlobUpload(
        sha256=sha256, upload_length=length, upload_offset=0, created_by_user_id=user_id
    )
    try:
        with session.begin_nested():
            session.add(upload)
            session.flush()
    except IntegrityError:
        # Another request started the same upload first; its row stands.
        existing = _locked_upload(session, sha256)
        assert existing is not None
        raise errors.offset_mismatch(existing.upload_offset, existing.upload_length) from None
    return upload


def _expired(upload: BlobUpload) -> bool:
    return upload.updated_at < utcnow() - UPLOAD_EXPIRY


def _confirmed_offset(upload: BlobUpload, uploads_dir: Path) -> int:
    """The row's offset, unless the file lost bytes (removed by hand, a crash before fsync)."""
    partial = uploads_dir / f"{upload.sha256}.part"
    on_disk = partial.stat().st_size if partial.exists() else 0
    return min(upload.upload_offset, on_disk)


def _write_at(partial: Path, offset: int, chunk_path: Path) -> None:
    private_dir(partial.parent)
    private_file(partial)
    with partial.open("r+b") as out, chunk_path.open("rb") as src:
        out.seek(offset)
        shutil.copyfileobj(src, out, CHUNK)
        out.truncate()
        out.flush()
        # The row's offset is committed after this; the bytes must be on disk first.
        os.fsync(out.fileno())


def _finish(
    session: Session, blobs: FileBlobStore, upload: BlobUpload, partial: Path
) -> UploadState:
    stored = _hash_file(partial)
    if stored.sha256 != upload.sha256:
        session.delete(upload)
        partial.unlink(missing_ok=True)
        raise UploadDiscarded(stored.sha256)
    target = blobs.path(stored.sha256)
    private_dir(target.parent)
    try:
        os.replace(partial, target)
    except OSError:
        # Uploads and blobs on different file systems: copy (the store re-hashes it).
        blobs.copy_file(partial)
        partial.unlink(missing_ok=True)
    blob_service.register(session, stored)
    session.delete(upload)
    return UploadState(stored.size, stored.size, complete=True)


def _hash_file(path: Path) -> StoredBlob:
    sha = hashlib.sha256()
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    with path.open("rb") as fh:
        while data := fh.read(CHUNK):
            sha.update(data)
            md5.update(data)
            size += len(data)
    return StoredBlob(sha256=sha.hexdigest(), md5=md5.hexdigest(), size=size)
