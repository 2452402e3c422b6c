"""The ``.fsb`` bundle file: writing one, and opening one with every check done first.

A bundle is a zip holding ``envelope.json`` (format version, sender, recipient, project, the
wrapped content key, the payload's size and hash) and ``payload.bin`` (the encrypted inner zip:
``manifest.json`` and the files it lists with their SHA-256). The zip comment is the sender's
Ed25519 signature over the SHA-256 of every byte before it, so a changed byte anywhere in the
file is refused. See docs/adr/0020-bundle-format.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from server import errors
from server.bundles import crypto
from server.bundles.crypto import KeyPair, PublicKeys

FORMAT = "fieldsync-bundle"
FORMAT_VERSION = 1
SIGNATURE_PREFIX = b"fsb-sig1:"
SIGNATURE_LENGTH = len(SIGNATURE_PREFIX) + 64
MAX_ENVELOPE = 64 * 1024
MAX_MANIFEST = 64 * 1024 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
_HASH_CHUNK = 1024 * 1024
# What zipfile raises on a damaged structure besides BadZipFile.
_ZIP_FAILURES = (RuntimeError, NotImplementedError, EOFError, OSError, zlib.error)

# What a bundle carries.
OUTBOX = "outbox"  # a laptop's outbox, to the centre or to another laptop
RECEIPT = "receipt"  # the centre's (or a laptop's) answer: what became of each item
KINDS = frozenset({OUTBOX, RECEIPT})

Opener = Callable[[], IO[bytes]]


@dataclass
class Contents:
    """What to put in a bundle: the manifest's body and the files it refers to."""

    kind: str
    project_id: int
    body: dict[str, Any]
    files: dict[str, Opener] = field(default_factory=dict)  # inner path -> opener


@dataclass(frozen=True)
class Written:
    bundle_id: str
    path: Path
    size: int


def _signed_digest(prefix_sha256: bytes) -> bytes:
    return b"fieldsync-bundle signature v1\x00" + prefix_sha256


def _aad(bundle_id: str, kind: str, project_id: int, sender: str, recipient: str) -> bytes:
    return json.dumps(
        [FORMAT, FORMAT_VERSION, bundle_id, kind, project_id, sender, recipient]
    ).encode()


def write_bundle(
    out: Path,
    contents: Contents,
    sender: KeyPair,
    recipient: PublicKeys,
    *,
    sender_info: dict[str, Any] | None = None,
    bundle_id: str | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> Written:
    """Write ``out`` atomically: everything goes to a temporary file beside it, fsynced, then
    renamed, so a full disk or a crash never leaves a file that looks like a bundle.

    Raises:
        OSError: the file cannot be written (the temporary files are removed).
    """
    bundle_id = bundle_id or str(uuid.uuid4())
    sender_id = sender.public.key_id
    created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".fsb-", dir=out.parent))
    final_tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.partial")
    try:
        inner = work / "inner.zip"
        hashes: dict[str, str] = {}
        with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, opener in contents.files.items():
                digest = hashlib.sha256()
                entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                # Photos and other attachments are compressed already: stored, not deflated.
                entry.compress_type = (
                    zipfile.ZIP_STORED if name.startswith("blobs/") else zipfile.ZIP_DEFLATED
                )
                with opener() as source, archive.open(entry, "w", force_zip64=True) as target:
                    while chunk := source.read(_HASH_CHUNK):
                        digest.update(chunk)
                        target.write(chunk)
                        if on_bytes:
                            on_bytes(len(chunk))
                hashes[name] = digest.hexdigest()
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "bundle_id": bundle_id,
                "kind": contents.kind,
                "project_id": contents.project_id,
                "sender": {**(sender_info or {}), "key_id": sender_id},
                "recipient": recipient.key_id,
                "created_at": created,
                "files": hashes,
                **contents.body,
            }
            archive.writestr("manifest.json", json.dumps(manifest, sort_keys=True))
        content_key = os.urandom(32)
        aad = _aad(bundle_id, contents.kind, contents.project_id, sender_id, recipient.key_id)
        payload = work / "payload.bin"
        with inner.open("rb") as source, payload.open("wb") as target:
            crypto.encrypt_stream(content_key, source, target, aad)
        envelope = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "bundle_id": bundle_id,
            "kind": contents.kind,
            "project_id": contents.project_id,
            "sender": sender_id,
            "recipient": recipient.key_id,
            "created_at": created,
            "key": crypto.wrap_key(content_key, recipient),
            "payload": {"size": payload.stat().st_size, "sha256": _file_sha256(payload)},
        }
        with zipfile.ZipFile(final_tmp, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("envelope.json", json.dumps(envelope, sort_keys=True, indent=1))
            archive.write(payload, "payload.bin")
            archive.comment = b"\x00" * SIGNATURE_LENGTH
        with final_tmp.open("r+b") as fh:
            size = fh.seek(0, os.SEEK_END)
            signature = crypto.sign(sender, _signed_digest(_prefix_sha256(fh, size)))
            fh.seek(size - SIGNATURE_LENGTH)
            fh.write(SIGNATURE_PREFIX + signature)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(final_tmp, out)
    except BaseException:
        final_tmp.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Written(bundle_id, out, size)


def _prefix_sha256(fh: BinaryIO, size: int) -> bytes:
    """SHA-256 of the file's bytes before the signature."""
    fh.seek(0)
    digest = hashlib.sha256()
    remaining = size - SIGNATURE_LENGTH
    while remaining > 0:
        chunk = fh.read(min(_HASH_CHUNK, remaining))
        if not chunk:
            break
        digest.update(chunk)
        remaining -= len(chunk)
    return digest.digest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """The signed outside of a bundle (trusted only after :func:`open_bundle` checked it)."""

    bundle_id: str
    kind: str
    project_id: int
    sender: str
    recipient: str
    created_at: str
    raw: dict[str, Any]


@dataclass
class Opened:
    """A bundle whose signature, sender, recipient, project and every hash were checked; its
    files are read from a decrypted copy in a temporary folder, removed by :meth:`close`."""

    envelope: Envelope
    manifest: dict[str, Any]
    sender: PublicKeys
    _inner: Path
    _work: Path

    def read(self, name: str) -> bytes:
        with zipfile.ZipFile(self._inner) as archive:
            return archive.read(name)

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        with zipfile.ZipFile(self._inner) as archive, archive.open(name) as fh:
            yield cast(BinaryIO, fh)

    def close(self) -> None:
        shutil.rmtree(self._work, ignore_errors=True)


def read_envelope(path: Path) -> Envelope:
    """The envelope, unverified (to find the sender's key).

    Raises:
        Problem: ``bundle.truncated``, ``bundle.damaged``, ``bundle.unsupported_version``.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_ZIP_MAGIC))
    except OSError as exc:
        raise errors.bundle_damaged(f"cannot read the file ({exc.strerror or exc})") from None
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("envelope.json")
            if info.file_size > MAX_ENVELOPE:
                raise errors.bundle_damaged("its envelope is too large")
            raw = json.loads(archive.read(info))
            archive.getinfo("payload.bin")
            signature_length = len(archive.comment)
    except errors.Problem:
        raise
    except zipfile.BadZipFile as exc:
        if head == _ZIP_MAGIC:
            raise errors.bundle_truncated(f"the file ends early or is damaged ({exc})") from None
        raise errors.bundle_damaged("it is not a fieldsync bundle (.fsb)") from None
    except KeyError:
        raise errors.bundle_damaged("it is not a fieldsync bundle: no envelope") from None
    except ValueError:
        raise errors.bundle_damaged("its envelope is not JSON") from None
    except _ZIP_FAILURES as exc:
        # A changed byte in the zip's own structure: flags, sizes, compression method.
        raise errors.bundle_damaged(f"its structure is damaged ({type(exc).__name__})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise errors.bundle_damaged("it is not a fieldsync bundle")
    version = raw.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise errors.bundle_unsupported_version(version, FORMAT_VERSION)
    if signature_length < SIGNATURE_LENGTH:
        # The end of the zip says how long the signature is; fewer bytes follow it.
        raise errors.bundle_truncated("the file ends before its signature does")
    try:
        return Envelope(
            bundle_id=str(raw["bundle_id"]),
            kind=str(raw["kind"]),
            project_id=int(raw["project_id"]),
            sender=str(raw["sender"]),
            recipient=str(raw["recipient"]),
            created_at=str(raw.get("created_at") or ""),
            raw=raw,
        )
    except (KeyError, TypeError, ValueError):
        raise errors.bundle_damaged("its envelope lacks a field") from None


def open_bundle(
    path: Path,
    *,
    sender_key: Callable[[str], PublicKeys],
    recipient: KeyPair,
    project_id: int | None,
    workdir: Path | None = None,
) -> Opened:
    """Check a bundle whole before anything is applied: the format version, the sender's key
    (``sender_key`` raises for an unknown or revoked one), the signature over every byte, the
    project, the recipient, the payload's hash, decryption, and every file's hash.

    Raises:
        Problem: a ``bundle.*`` code saying which check failed.
    """
    envelope = read_envelope(path)
    sender = sender_key(envelope.sender)
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size <= SIGNATURE_LENGTH:
            raise errors.bundle_truncated("the file is too short")
        fh.seek(size - SIGNATURE_LENGTH)
        tail = fh.read(SIGNATURE_LENGTH)
        if not tail.startswith(SIGNATURE_PREFIX):
            raise errors.bundle_bad_signature("the file carries no signature")
        digest = _prefix_sha256(fh, size)
    if not crypto.verify(sender, tail[len(SIGNATURE_PREFIX) :], _signed_digest(digest)):
        raise errors.bundle_bad_signature(
            f"the signature does not match key {envelope.sender}: the file was changed after "
            "it was made"
        )
    if project_id is not None and envelope.project_id != project_id:
        raise errors.bundle_wrong_project(envelope.project_id, project_id)
    if envelope.recipient != recipient.public.key_id:
        raise errors.bundle_wrong_recipient(envelope.recipient)
    if envelope.kind not in KINDS:
        raise errors.bundle_damaged(f"unknown bundle kind {envelope.kind!r}")
    work = Path(tempfile.mkdtemp(prefix=".fsb-open-", dir=workdir))
    try:
        try:
            inner = _decrypt(path, envelope, recipient, work)
            manifest = _check_inner(inner, envelope)
        except (zipfile.BadZipFile, *_ZIP_FAILURES) as exc:
            raise errors.bundle_damaged(f"its content cannot be read ({exc})") from None
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return Opened(envelope, manifest, sender, inner, work)


def _decrypt(path: Path, envelope: Envelope, recipient: KeyPair, work: Path) -> Path:
    declared = envelope.raw.get("payload") or {}
    inner = work / "inner.zip"
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("payload.bin")
        if info.file_size != declared.get("size"):
            raise errors.bundle_truncated("the payload is not the size the envelope gives")
        digest = hashlib.sha256()
        with archive.open(info) as fh:
            while chunk := fh.read(_HASH_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != declared.get("sha256"):
            raise errors.bundle_hash_mismatch("payload.bin")
        try:
            key = crypto.unwrap_key(envelope.raw.get("key") or {}, recipient)
            aad = _aad(
                envelope.bundle_id,
                envelope.kind,
                envelope.project_id,
                envelope.sender,
                envelope.recipient,
            )
            with archive.open(info) as source, inner.open("wb") as target:
                for plain in crypto.decrypt_stream(key, source, aad):
                    target.write(plain)
        except crypto.DecryptFailed as exc:
            raise errors.bundle_damaged(f"the payload does not decrypt ({exc})") from None
    return inner


def _check_inner(inner: Path, envelope: Envelope) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(inner) as archive:
            info = archive.getinfo("manifest.json")
            if info.file_size > MAX_MANIFEST:
                raise errors.bundle_damaged("its manifest is too large")
            manifest = json.loads(archive.read(info))
            if not isinstance(manifest, dict):
                raise errors.bundle_damaged("its manifest is not an object")
            for key in ("bundle_id", "kind", "project_id"):
                if manifest.get(key) != getattr(envelope, key):
                    raise errors.bundle_damaged(f"the manifest's {key} differs from the envelope")
            if (manifest.get("sender") or {}).get("key_id") != envelope.sender:
                raise errors.bundle_damaged("the manifest names another sender")
            files = manifest.get("files")
            if not isinstance(files, dict):
                raise errors.bundle_damaged("the manifest lists no files")
            present = set(archive.namelist()) - {"manifest.json"}
            if present != set(files):
                raise errors.bundle_damaged("the files do not match the manifest")
            for name, expected in files.items():
                digest = hashlib.sha256()
                with archive.open(name) as fh:
                    while chunk := fh.read(_HASH_CHUNK):
                        digest.update(chunk)
                if digest.hexdigest() != expected:
                    raise errors.bundle_hash_mismatch(name)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise errors.bundle_damaged(f"its content cannot be read ({exc})") from None
    return manifest


def file_sha256(path: Path) -> str:
    return _file_sha256(path)
