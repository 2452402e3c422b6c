"""Resumable blob uploads (after tus): which blobs a project lacks, where an upload stands,
receiving one chunk, and sweeping what uploads leave behind.

Everything is scoped: a project sees only the blobs it holds (``project_blobs``), and an upload
in progress belongs to one project and one uploader, so nobody learns of, resumes or resets
another's. The store underneath keeps one copy of each content, but a project that lacks a blob
must send all its bytes, even when another project holds the same content.

The bytes received so far live in ``<data dir>/uploads/<project>-<user>-<sha256>.part``; the
``sync_blob_uploads`` row holds the confirmed offset, which the file may exceed after a crash
(the next chunk overwrites the excess). When the last byte arrives the whole file is hashed;
only content whose SHA-256 matches its name enters the blob store and becomes usable.
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

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import errors
from server.blobs import service as blob_service
from server.blobs.models import Blob
from server.blobs.store import CHUNK, FileBlobStore, StoredBlob
from server.db import utcnow
from server.files import private_dir, private_file
from server.sync.models import BlobUpload, partial_name

UPLOAD_EXPIRY = timedelta(days=7)
# Temporary files younger than this may belong to a request still running; the sweep keeps them.
TEMPORARY_GRACE = timedelta(hours=6)
# A cached blob whose row is missing is kept this long after it was written: the request that
# stored it commits within seconds, and a purged person's photo should not linger for hours.
CACHE_GRACE = timedelta(minutes=10)
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


def held_blobs(
    session: Session, blobs: FileBlobStore, project_id: int, hashes: Iterable[str]
) -> dict[str, Blob]:
    """The blobs among ``hashes`` the project holds complete: its own and present on disk."""
    held = blob_service.held_by(session, project_id, hashes)
    return {sha: blob for sha, blob in held.items() if blobs.exists(sha)}


def missing(
    session: Session, blobs: FileBlobStore, project_id: int, hashes: list[str]
) -> list[str]:
    """The hashes of ``hashes`` the project does not hold complete, in the order given."""
    held = held_blobs(session, blobs, project_id, hashes)
    seen: set[str] = set()
    result = []
    for sha in hashes:
        if sha not in held and sha not in seen:
            seen.add(sha)
            result.append(sha)
    return result


def upload_state(
    session: Session,
    blobs: FileBlobStore,
    uploads_dir: Path,
    sha256: str,
    *,
    project_id: int,
    user_id: int,
) -> UploadState:
    """Where the caller's upload of ``sha256`` to the project stands (``offset`` 0 when nothing
    arrived, whoever else holds the same content)."""
    held = held_blobs(session, blobs, project_id, [sha256]).get(sha256)
    if held is not None:
        return UploadState(held.size, held.size, complete=True)
    upload = _find_upload(session, project_id, user_id, sha256)
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
    project_id: int,
    user_id: int,
    quota_bytes: int | None = None,
) -> UploadState:
    """Append ``chunk`` at ``offset`` to the caller's upload of ``sha256`` to the project
    (``length`` bytes in all), inside the caller's transaction; on the last byte, verify and
    store the blob, held by the project from then on.

    Retrying a chunk the server already confirmed is answered with the current state (409), and
    a chunk for a blob the project already holds is answered as complete.

    Raises:
        Problem: 422 ``blob.checksum_mismatch``; 409 ``blob.offset_mismatch`` or
            ``blob.length_mismatch``; 400 ``blob.beyond_length``; 507 ``blob.quota_exceeded``
            when starting the upload would take the uploader's uploads in progress past
            ``quota_bytes``.
        UploadDiscarded: the complete content's hash differs from ``sha256`` (the caller commits
            the removal and answers 422 ``blob.hash_mismatch``).
    """
    try:
        if checksum is not None and checksum != chunk.sha256:
            raise errors.checksum_mismatch()
        state = _already_complete(session, blobs, project_id, sha256)
        if state is not None:
            return state
        upload = _locked_upload(session, project_id, user_id, sha256)
        partial = uploads_dir / partial_name(project_id, user_id, sha256)
        if upload is not None and (
            _expired(upload) or (offset == 0 and upload.upload_length != length)
        ):
            # An expired upload, or a restart from zero with another length: begin afresh.
            session.delete(upload)
            session.flush()
            upload = None
        if upload is None:
            # A racing request may have completed the blob while we waited for the lock.
            state = _already_complete(session, blobs, project_id, sha256)
            if state is not None:
                return state
            if offset != 0:
                raise errors.offset_mismatch(0, None)
            # Starting an upload is rare enough to sweep the abandoned ones on the way.
            expire_uploads(session, uploads_dir)
            if quota_bytes is not None:
                _check_quota(session, user_id, length, quota_bytes)
            upload = _start_upload(session, project_id, user_id, sha256, length)
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
    """Remove uploads untouched for ``UPLOAD_EXPIRY``, with their bytes; returns how many."""
    cutoff = (now or utcnow()) - UPLOAD_EXPIRY
    stale = list(session.scalars(select(BlobUpload).where(BlobUpload.updated_at < cutoff)))
    if stale:
        session.execute(delete(BlobUpload).where(BlobUpload.id.in_([u.id for u in stale])))
        for upload in stale:
            (uploads_dir / upload.partial_name).unlink(missing_ok=True)
    return len(stale)


@dataclass(frozen=True)
class SweepReport:
    expired: int  # uploads untouched for UPLOAD_EXPIRY, removed with their bytes
    orphaned: int  # partial files no upload row names (a crash, a deleted user or project)
    temporary: int  # chunk and store temporary files left by an interrupted request
    # cached files of blobs the database no longer has (the database store's host cache)
    uncached: int = 0


def sweep(
    session: Session,
    uploads_dir: Path,
    blobs: FileBlobStore,
    now: datetime | None = None,
    *,
    grace: timedelta = TEMPORARY_GRACE,
    cache_grace: timedelta = CACHE_GRACE,
) -> SweepReport:
    """Remove expired uploads, partial files no upload names, temporary files older than
    ``grace`` (younger ones may belong to a request in progress), and, with the database
    store, this host's cached copies of blobs the database no longer has, written before
    ``cache_grace``."""
    now = now or utcnow()
    expired = expire_uploads(session, uploads_dir, now)
    session.flush()
    known = {u.partial_name for u in session.scalars(select(BlobUpload))}
    cutoff = now.timestamp() - grace.total_seconds()
    orphaned = temporary = 0
    if uploads_dir.is_dir():
        for path in uploads_dir.iterdir():
            old = _mtime(path) < cutoff
            if path.name.endswith(".part") and path.name not in known and old:
                path.unlink(missing_ok=True)
                orphaned += 1
            elif path.name.startswith(".chunk-") and old:
                path.unlink(missing_ok=True)
                temporary += 1
    if blobs.tmp.is_dir():
        for path in blobs.tmp.iterdir():
            if _mtime(path) < cutoff:
                path.unlink(missing_ok=True)
                temporary += 1
    uncached = blobs.prune_cache(session, now.timestamp() - cache_grace.total_seconds())
    return SweepReport(expired, orphaned, temporary, uncached)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _already_complete(
    session: Session, blobs: FileBlobStore, project_id: int, sha256: str
) -> UploadState | None:
    held = held_blobs(session, blobs, project_id, [sha256]).get(sha256)
    if held is not None:
        return UploadState(held.size, held.size, complete=True)
    return None


def _find_upload(session: Session, project_id: int, user_id: int, sha256: str) -> BlobUpload | None:
    return session.scalars(
        select(BlobUpload).where(
            BlobUpload.project_id == project_id,
            BlobUpload.user_id == user_id,
            BlobUpload.sha256 == sha256,
        )
    ).first()


def _locked_upload(
    session: Session, project_id: int, user_id: int, sha256: str
) -> BlobUpload | None:
    # FOR UPDATE serialises two requests of one uploader for the same blob on PostgreSQL;
    # SQLite's BEGIN IMMEDIATE already serialises writers.
    return session.scalars(
        select(BlobUpload)
        .where(
            BlobUpload.project_id == project_id,
            BlobUpload.user_id == user_id,
            BlobUpload.sha256 == sha256,
        )
        .with_for_update()
    ).first()


def _check_quota(session: Session, user_id: int, length: int, quota_bytes: int) -> None:
    """Raises: Problem 507 ``blob.quota_exceeded``."""
    cutoff = utcnow() - UPLOAD_EXPIRY
    in_progress = int(
        session.scalar(
            select(func.coalesce(func.sum(BlobUpload.upload_length), 0)).where(
                BlobUpload.user_id == user_id, BlobUpload.updated_at >= cutoff
            )
        )
        or 0
    )
    if in_progress + length > quota_bytes:
        raise errors.upload_quota_exceeded(quota_bytes, in_progress)


def _start_upload(
    session: Session, project_id: int, user_id: int, sha256: str, length: int
) -> BlobUpload:
    upload = BlobUpload(
        project_id=project_id,
        user_id=user_id,
        sha256=sha256,
        upload_length=length,
        upload_offset=0,
    )
    try:
        with session.begin_nested():
            session.add(upload)
            session.flush()
    except IntegrityError:
        # Another request of the same uploader started the same upload first; its row stands.
        existing = _locked_upload(session, project_id, user_id, sha256)
        assert existing is not None
        raise errors.offset_mismatch(existing.upload_offset, existing.upload_length) from None
    return upload


def _expired(upload: BlobUpload) -> bool:
    return upload.updated_at < utcnow() - UPLOAD_EXPIRY


def _confirmed_offset(upload: BlobUpload, uploads_dir: Path) -> int:
    """The row's offset, unless the file lost bytes (removed by hand, a crash before fsync)."""
    partial = uploads_dir / upload.partial_name
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
    if target.exists():
        # Another project holds the same content: one copy is kept, this project gets its row.
        partial.unlink(missing_ok=True)
    else:
        try:
            os.replace(partial, target)
        except OSError:
            # Uploads and blobs on different file systems: copy (the store re-hashes it).
            blobs.copy_file(partial)
            partial.unlink(missing_ok=True)
    blob_service.register(session, stored, project_id=upload.project_id)
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
