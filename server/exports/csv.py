"""The Central-shaped CSV export: ``submissions.csv`` (the root table) and
``submissions.csv.zip`` (the root, one file per repeat group, and ``media/``).

Written as it is read: rows go out as each submission is parsed, repeat tables wait in unnamed
temporary files (gone from the disk even if the client hangs up) and join the zip after the
root table. Quoting as Central's writer does: a cell is quoted only when it holds a comma, a
quote or a line feed; lines end in ``\\n``; UTF-8 without a byte-order mark. Cells that start
with ``=``, ``+``, ``-`` or ``@`` are written as they are, as Central does (see
docs/exports.md on CSV injection).
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from server.exports.rows import Cell, submission_rows
from server.exports.source import ExportAttachment, ExportSubmission
from server.exports.tables import ExportSchema

FLUSH_AT = 64 * 1024
COPY_CHUNK = 256 * 1024


class _LineWriter:
    """CSV lines into one reusable buffer."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")

    def encode(self, row: Iterable[Cell]) -> bytes:
        self.buffer.seek(0)
        self.buffer.truncate()
        self.writer.writerow(row)
        return self.buffer.getvalue().encode("utf-8")


def root_csv(
    schema: ExportSchema,
    submissions: Iterable[ExportSubmission],
    pseudonymise: Callable[[str], str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The root table as CSV, in chunks."""
    lines = _LineWriter()
    chunk = bytearray(lines.encode(schema.root.headers))
    for n, submission in enumerate(submissions, 1):
        chunk += lines.encode(submission_rows(schema, submission, pseudonymise).root)
        if progress is not None:
            progress(n)
        if len(chunk) >= FLUSH_AT:
            yield bytes(chunk)
            chunk.clear()
    yield bytes(chunk)


class _Sink(io.RawIOBase):
    """A write-only, unseekable file that keeps what the zip writer wrote until it is taken."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += b
        return len(b)

    def take(self) -> bytes:
        out = bytes(self.data)
        self.data.clear()
        return out


def csv_zip(
    schema: ExportSchema,
    submissions: Iterable[ExportSubmission],
    attachments: Callable[[], Iterable[ExportAttachment]] | None = None,
    pseudonymise: Callable[[str], str] | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    in_memory: bool = False,
) -> Iterator[bytes]:
    """The zip of CSVs (and ``media/`` files when ``attachments`` is given), in chunks.

    Repeat tables wait in temporary files until the root table is written; ``in_memory``
    keeps them in memory instead (a decrypted export never writes clear text to disk)."""
    sink = _Sink()
    spools: dict[int, IO[bytes]] = {}
    lines = _LineWriter()
    try:
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for table in schema.tables[1:]:
                spools[id(table)] = (
                    io.BytesIO() if in_memory else tempfile.TemporaryFile()  # noqa: SIM115
                )
                spools[id(table)].write(lines.encode(table.headers))
            # Sizes are unknown while streaming; zip64 keeps a root table over 2 GiB valid.
            with archive.open(f"{schema.form_id}.csv", "w", force_zip64=True) as entry:
                entry.write(lines.encode(schema.root.headers))
                for n, submission in enumerate(submissions, 1):
                    rows = submission_rows(schema, submission, pseudonymise)
                    entry.write(lines.encode(rows.root))
                    for table, row in rows.repeats:
                        spools[id(table)].write(lines.encode(row))
                    if progress is not None:
                        progress(n)
                    if len(sink.data) >= FLUSH_AT:
                        yield sink.take()
            for table in schema.tables[1:]:
                spool: IO[bytes] = spools[id(table)]
                spool.seek(0)
                with archive.open(f"{table.file_stem}.csv", "w", force_zip64=True) as entry:
                    while block := spool.read(COPY_CHUNK):
                        entry.write(block)
                        if len(sink.data) >= FLUSH_AT:
                            yield sink.take()
            if attachments is not None:
                seen: set[str] = set()
                for attachment in attachments():
                    if attachment.name in seen:
                        continue
                    seen.add(attachment.name)
                    info = zipfile.ZipInfo(f"media/{attachment.name}")
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.file_size = attachment.size
                    with attachment.open() as stream, archive.open(info, "w") as entry:
                        shutil.copyfileobj(stream, entry, COPY_CHUNK)
                    if len(sink.data) >= FLUSH_AT:
                        yield sink.take()
        yield sink.take()
    finally:
        for leftover in spools.values():
            leftover.close()
