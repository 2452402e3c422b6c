"""Opening a stored encrypted submission (ODK managed encryption, ADR 0016) in memory.

The ``.enc`` files stay in the blob store as they arrived; the clear instance and media exist
only in the memory of the export or command that was given the passphrase. A submission whose
files are missing, do not open, or whose signature does not match what the device signed is
not opened: its status says why (the names ODK Central's exports use, and ours for the
signature).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import odk_encryption as odk
from server.blobs.store import FileBlobStore
from server.submissions.models import SubmissionAttachment
from server.xmlsafe import parse


class OpenStatus(enum.StrEnum):
    NOT_DECRYPTED = "not decrypted"  # no passphrase, or the key does not open it
    MISSING = "missing encrypted form data"  # a .enc file has not arrived
    SIGNATURE_MISMATCH = "signature mismatch"  # altered after the device encrypted it


@dataclass
class OpenedVersion:
    """A version's clear instance and media, or the status saying why it stayed closed."""

    xml: bytes | None = None
    media: dict[str, bytes] = field(default_factory=dict)
    status: OpenStatus | None = None


def encrypted_files(session: Session, version_id: int) -> dict[str, str | None]:
    """The version's encrypted files by name, and the blob each arrived as (None: not yet)."""
    rows = session.execute(
        select(SubmissionAttachment.name, SubmissionAttachment.blob_sha256).where(
            SubmissionAttachment.submission_version_id == version_id
        )
    )
    return {name: sha for name, sha in rows}


def open_version(
    private_key: RSAPrivateKey,
    blobs: FileBlobStore,
    manifest_xml: str | bytes,
    instance_id: str,
    files: dict[str, str | None],
    *,
    media: bool = True,
) -> OpenedVersion:
    """Decrypt a version whose manifest and files (from :func:`encrypted_files`) are given."""
    data = manifest_xml.encode("utf-8") if isinstance(manifest_xml, str) else manifest_xml
    try:
        manifest = odk.read_manifest(parse(data, "the manifest"), instance_id)
    except odk.BadManifest:
        return OpenedVersion(status=OpenStatus.NOT_DECRYPTED)
    if any(files.get(name) is None for name in manifest.files):
        return OpenedVersion(status=OpenStatus.MISSING)

    def read(name: str) -> bytes | None:
        sha = files.get(name)
        if sha is None:
            return None
        with blobs.open(sha) as fh:
            return fh.read()

    try:
        opened = odk.open_submission(private_key, manifest, read, media=media)
    except odk.Undecryptable:
        return OpenedVersion(status=OpenStatus.NOT_DECRYPTED)
    if not opened.signature_valid:
        return OpenedVersion(status=OpenStatus.SIGNATURE_MISMATCH)
    return OpenedVersion(xml=opened.xml, media=opened.media)
