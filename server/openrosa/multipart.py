"""Reading an OpenRosa submission body (multipart/form-data) as a stream.

Attachment parts are written to temporary files in the blob store's incoming directory and
hashed as they arrive, then moved into the store (no second copy), so a submission with large
photos never sits in memory; only the XML part is kept in memory (it is
parsed and stored in the database anyway). A body that ends before its closing boundary is
refused and every temporary file removed, so nothing half-received goes any further.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from werkzeug.datastructures import Headers
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from server import errors
from server.blobs.store import BlobSizeMismatch, FileBlobStore
from server.submissions.service import IncomingAttachment, check_attachment_name

XML_PART = "xml_submission_file"
INCOMPLETE_PART = "*isIncomplete*"
CHUNK = 64 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_PARTS = 1000


@dataclass
class ReceivedFile:
    name: str
    content_type: str
    path: Path
    size: int
    sha256: str = ""
    md5: str = ""


@dataclass
class ReceivedSubmission:
    xml: bytes | None = None
    files: list[ReceivedFile] = field(default_factory=list)
    incomplete: bool = False

    def store_attachments(self, blobs: FileBlobStore, max_bytes: int) -> list[IncomingAttachment]:
        """Move the received files into the blob store (content-addressed, deduplicated).

        Raises:
            Problem: 413 over ``max_bytes``; 400 when a file's size changed on the way.
        """
        incoming = []
        for received in self.files:
            if received.size > max_bytes:
                raise errors.too_large(max_bytes)
            try:
                # Hashed as it arrived, in the store's own directory: moved in, not copied.
                stored = blobs.adopt(received.path, received.sha256, received.md5, received.size)
            except BlobSizeMismatch as exc:
                raise errors.bad_submission(f"attachment {received.name!r}: {exc}") from None
            content_type = received.content_type
            if content_type == "application/octet-stream":
                content_type = mimetypes.guess_type(received.name)[0] or content_type
            incoming.append(IncomingAttachment(received.name, stored, content_type))
        return incoming

    def cleanup(self) -> None:
        for received in self.files:
            received.path.unlink(missing_ok=True)


@contextmanager
def received_submission(
    stream: IO[bytes], content_type: str, blobs: FileBlobStore, max_xml_bytes: int
) -> Iterator[ReceivedSubmission]:
    """Parse a submission body; attachments are written and hashed as they arrive into the
    blob store's incoming directory, and whatever was not stored is removed when the block
    ends.

    Raises:
        Problem: 400 when the body is not multipart, is truncated or malformed, names an
            attachment with a path, or lacks ``xml_submission_file``; 413 when the XML part is
            larger than ``max_xml_bytes`` (the whole body's limit is enforced by the request
            stream itself).
    """
    received = ReceivedSubmission()
    try:
        _parse(stream, content_type, blobs, max_xml_bytes, received)
        if received.xml is None:
            raise errors.bad_submission(
                f"the upload has no '{XML_PART}' part; send the form instance under that name"
            )
        yield received
    finally:
        received.cleanup()


def _parse(
    stream: IO[bytes],
    content_type: str,
    blobs: FileBlobStore,
    max_xml_bytes: int,
    received: ReceivedSubmission,
) -> None:
    mimetype, options = parse_options_header(content_type)
    boundary = options.get("boundary", "")
    if mimetype != "multipart/form-data" or not boundary:
        raise errors.bad_submission(
            "a submission must be sent as multipart/form-data with a boundary"
        )
    # The decoder's memory limit covers parts without a filename, which may include the XML.
    decoder = MultipartDecoder(
        boundary.encode("latin-1"),
        max_form_memory_size=max(max_xml_bytes, MAX_FIELD_BYTES),
        max_parts=MAX_PARTS,
    )
    part = _PartSink(blobs, max_xml_bytes, received)
    try:
        while True:
            data = stream.read(CHUNK)
            decoder.receive_data(data or None)
            event = decoder.next_event()
            while not isinstance(event, (Epilogue, NeedData)):
                if isinstance(event, (Field, File)):
                    part.start(event)
                elif isinstance(event, Data):
                    part.write(event.data)
                    if not event.more_data:
                        part.finish()
                event = decoder.next_event()
            if isinstance(event, Epilogue) or not data:
                break
    except ValueError as exc:
        # The decoder's word for a body that ends early or breaks the multipart grammar.
        part.discard()
        raise errors.bad_submission(
            f"the multipart body is truncated or malformed ({exc})"
        ) from None
    except BaseException:
        part.discard()
        raise


class _PartSink:
    """Where the bytes of the part being read go: memory for XML and fields, a file otherwise."""

    def __init__(
        self, blobs: FileBlobStore, max_xml_bytes: int, received: ReceivedSubmission
    ) -> None:
        self.blobs = blobs
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.max_xml_bytes = max_xml_bytes
        self.received = received
        self.name = ""
        self.content_type = ""
        self.kind = ""
        self.buffer: list[bytes] = []
        self.size = 0
        self.file: IO[bytes] | None = None
        self.path: Path | None = None

    def start(self, event: Field | File) -> None:
        self.size = 0
        self.buffer = []
        self.content_type = _part_content_type(event.headers)
        if event.name == XML_PART:
            self.kind = "xml"
            self.name = XML_PART
        elif isinstance(event, Field):
            self.kind = "field"
            self.name = event.name
        else:
            self.kind = "file"
            self.name = check_attachment_name(event.name or event.filename)
            if event.filename and event.filename != self.name:
                check_attachment_name(event.filename)
            self.file, self.path = self.blobs.incoming_file()
            self.sha256 = hashlib.sha256()
            self.md5 = hashlib.md5(usedforsecurity=False)

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.kind == "file":
            assert self.file is not None
            self.file.write(data)
            self.sha256.update(data)
            self.md5.update(data)
            return
        if self.kind == "xml" and self.size > self.max_xml_bytes:
            raise errors.too_large(self.max_xml_bytes)
        if self.kind == "field" and self.size > MAX_FIELD_BYTES:
            raise errors.bad_submission(f"the form field {self.name!r} is too long")
        self.buffer.append(data)

    def finish(self) -> None:
        if self.kind == "xml":
            if self.received.xml is not None:
                raise errors.bad_submission(f"the upload has more than one '{XML_PART}' part")
            self.received.xml = b"".join(self.buffer)
        elif self.kind == "field":
            if self.name == INCOMPLETE_PART:
                self.received.incomplete = True
        elif self.kind == "file":
            assert self.file is not None and self.path is not None
            self.file.close()
            self.received.files.append(
                ReceivedFile(
                    self.name,
                    self.content_type,
                    self.path,
                    self.size,
                    self.sha256.hexdigest(),
                    self.md5.hexdigest(),
                )
            )
            self.file = None
            self.path = None
        self.buffer = []
        self.kind = ""

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


def _part_content_type(headers: Headers) -> str:
    value = headers.get("Content-Type", "")
    return parse_options_header(value)[0] if value else "application/octet-stream"
