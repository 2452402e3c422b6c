"""Content codings: download responses with ETags, 304s and gzip when the client accepts it,
and gzip-encoded request bodies undone as they are read.

Collect's HTTP client sends ``Accept-Encoding: gzip``; on a slow link an entity list or a large
form shrinks to a third. Files that are already compressed (photos, audio, video, archives) are
sent as they are: gzip would cost CPU and save nothing.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, cast

from flask import Response, request

from server import errors

GZIP_LEVEL = 6
# Below this size the gzip header and the CPU cost outweigh the saving.
MIN_GZIP_BYTES = 256
_PRECOMPRESSED_PREFIXES = ("image/", "audio/", "video/")
_PRECOMPRESSED_TYPES = {
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/x-7z-compressed",
    "application/pdf",
}
_COMPRESSIBLE_IMAGES = {"image/svg+xml", "image/bmp"}


def wants_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def compressible(content_type: str) -> bool:
    base = content_type.split(";", 1)[0].strip().lower()
    if base in _COMPRESSIBLE_IMAGES:
        return True
    return not (base.startswith(_PRECOMPRESSED_PREFIXES) or base in _PRECOMPRESSED_TYPES)


def quote_etag(tag: str, weak: bool = False) -> str:
    return f'{"W/" if weak else ""}"{tag}"'


def etag_matches(tag: str) -> bool:
    """Whether the request's ``If-None-Match`` names ``tag`` (weakly: a gzip copy matches)."""
    header = request.headers.get("If-None-Match", "")
    if not header:
        return False
    if header.strip() == "*":
        return True
    for candidate in header.split(","):
        value = candidate.strip()
        if value.startswith("W/"):
            value = value[2:]
        if value.strip('"') == tag:
            return True
    return False


def not_modified(tag: str) -> Response:
    response = Response(status=304)
    response.headers["ETag"] = quote_etag(tag)
    response.headers["Vary"] = "Accept-Encoding"
    return response


def bytes_response(data: bytes, content_type: str, etag: str | None = None) -> Response:
    """Send ``data`` whole, gzipped when the client accepts it and it is worth it; answer 304
    when ``etag`` is what the client already holds."""
    if etag and etag_matches(etag):
        return not_modified(etag)
    use_gzip = len(data) >= MIN_GZIP_BYTES and compressible(content_type) and wants_gzip()
    body = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0) if use_gzip else data
    response = Response(body, content_type=content_type)
    _finish(response, use_gzip, etag)
    response.headers["Content-Length"] = str(len(body))
    return response


def stream_response(
    chunks: Iterable[bytes],
    content_type: str,
    etag: str | None = None,
    size: int | None = None,
    filename: str | None = None,
) -> Response:
    """Stream ``chunks`` (a file, a generated CSV) without holding them in memory; gzip on the
    fly when accepted. ``size`` is sent as Content-Length only when the body is not gzipped."""
    if etag and etag_matches(etag):
        return not_modified(etag)
    use_gzip = compressible(content_type) and wants_gzip() and (size is None or size > 0)
    body: Iterable[bytes] = gzip_chunks(chunks) if use_gzip else chunks
    response = Response(body, content_type=content_type, direct_passthrough=True)
    _finish(response, use_gzip, etag)
    if size is not None and not use_gzip:
        response.headers["Content-Length"] = str(size)
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def gzip_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Compress a stream of chunks into one gzip member, chunk by chunk."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


def _finish(response: Response, use_gzip: bool, etag: str | None) -> None:
    response.headers["Vary"] = "Accept-Encoding"
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    if etag:
        # The gzip copy is not byte-identical to the file the hash names, so its tag is weak.
        response.headers["ETag"] = quote_etag(etag, weak=use_gzip)


class GunzipReader:
    """A gzip-encoded request body, decompressed as it is read and never beyond ``max_bytes``
    (a small compressed body can expand enormously: a decompression bomb)."""

    def __init__(self, source: IO[bytes], max_bytes: int) -> None:
        self.source = source
        self.max_bytes = max_bytes
        self.produced = 0
        self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        """Raises: Problem 400 for a body that is not gzip, 413 beyond ``max_bytes``."""
        size = 64 * 1024 if size is None or size < 0 else size
        out = b""
        while len(out) < size and not self._eof:
            if not self._pending:
                self._pending = self.source.read(64 * 1024)
                if not self._pending:
                    self._eof = True
                    break
            try:
                chunk = self._inflater.decompress(self._pending, size - len(out))
            except zlib.error as exc:
                raise errors.malformed_body(f"the request body is not valid gzip ({exc})") from None
            self._pending = self._inflater.unconsumed_tail
            if self._inflater.eof:
                self._pending = b""
                self._eof = True
            out += chunk
            self.produced += len(chunk)
            if self.produced > self.max_bytes:
                raise errors.too_large(self.max_bytes)
        return out


def decoded_request_stream(max_bytes: int) -> IO[bytes]:
    """The request body with its ``Content-Encoding`` (gzip or none) undone.

    Raises:
        Problem: 415 for any other content coding.
    """
    coding = request.headers.get("Content-Encoding", "").strip().lower()
    if coding in ("", "identity"):
        return request.stream
    if coding in ("gzip", "x-gzip"):
        return cast(IO[bytes], GunzipReader(request.stream, max_bytes))
    raise errors.unsupported_encoding(coding)
