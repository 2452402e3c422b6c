"""Encrypted submissions opened for an export (ADR 0016): each version is decrypted in memory
when the writer reaches it, and its clear media are handed to the zip from memory.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy.orm import Session, sessionmaker

from server.blobs.store import FileBlobStore
from server.exports.source import ExportAttachment
from server.submissions import decrypt


class EncryptedOpener:
    """Encrypted versions opened with the project's private key, one at a time, in memory."""

    def __init__(
        self, factory: sessionmaker[Session], blobs: FileBlobStore, key: RSAPrivateKey
    ) -> None:
        self.factory = factory
        self.blobs = blobs
        self.key = key

    def open(self, row: Any, *, media: bool) -> decrypt.OpenedVersion:
        with self.factory() as session:
            files = decrypt.encrypted_files(session, row.version_id)
        return decrypt.open_version(
            self.key, self.blobs, row.xml, row.current_instance_id, files, media=media
        )

    def media(self, row: Any) -> Iterator[ExportAttachment]:
        opened = self.open(row, media=True)
        for name, data in opened.media.items():
            yield ExportAttachment(name, len(data), _in_memory(data))


def instance_of(row: Any, opener: EncryptedOpener | None) -> tuple[str | bytes, str | None]:
    """An encrypted row's instance and Central's ``Status``: the clear instance once opened;
    otherwise the manifest (its fields stay empty) and why it stayed closed."""
    if opener is None:
        return row.xml, decrypt.OpenStatus.NOT_DECRYPTED.value
    opened = opener.open(row, media=False)
    if opened.xml is not None:
        return opened.xml, None
    return row.xml, (opened.status or decrypt.OpenStatus.NOT_DECRYPTED).value


def _in_memory(data: bytes) -> Callable[[], Any]:
    return lambda: io.BytesIO(data)
