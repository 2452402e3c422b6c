"""HTTP plumbing every blueprint shares: request content-coding, JSON bodies, conditional
requests and compressed responses.

- Request bodies: ``Content-Encoding: gzip`` is undone here, as the body is read, never beyond
  one limit (the app's ``MAX_CONTENT_LENGTH``, from ``FIELDSYNC_MAX_UPLOAD_BYTES``): a small
  compressed body can inflate enormously (a decompression bomb).
- Conditional requests: ``If-None-Match`` is read by werkzeug; a gzip copy carries a weak tag,
  so tags are compared weakly.
- Responses: gzipped when the client accepts it, the type is worth compressing and the body is
  at least :data:`MIN_GZIP_BYTES`. Collect's HTTP client and the sync client both send
  ``Accept-Encoding: gzip``; on a slow link an entity list or a page of changes shrinks to a third.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import uuid
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any, cast

from flask import Response, current_app, request
from marshmallow import Schema, ValidationError
from werkzeug.http import quote_etag as _quote_etag

from server import errors

GZIP_LEVEL = 6
# Below this size the gzip header and the CPU cost outweigh the saving.
MIN_GZIP_BYTES = 256
READ_CHUNK = 64 * 1024
_PRECOMPRESSED_PREFIXES = ("image/", "audio/", "video/")
_PRECOMPRESSED_TYPES = {
    "application/zip",
    "application/gzip",
    "application/x-gzip",
    "application/x-7z-compressed",
    "application/pdf",
}
_COMPRESSIBLE_IMAGES = {"image/svg+xml", "image/bmp"}
# No request the server understands nests deeper than a handful of levels.
MAX_JSON_DEPTH = 64
OCTET_STREAM = "application/octet-stream"
_TOO_DEEP = f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels"


# --- request bodies ------------------------------------------------------------------------------


def body_limit() -> int:
    """The one ceiling on a request body, after decompression, in bytes."""
    return int(current_app.config.get("MAX_CONTENT_LENGTH") or 0)


class GunzipReader:
    """A gzip-encoded body, inflated as it is read and never beyond ``max_bytes``.

    Concatenated gzip members are read as one body (RFC 1952 allows them); a stream that ends
    inside a member is refused, not taken for a shorter body.
    """

    def __init__(self, source: IO[bytes], max_bytes: int) -> None:
        self.source = source
        self.max_bytes = max_bytes
        self.produced = 0
        self._inflater = self._new_member()
        self._in_member = False
        self._members = 0
        self._pending = b""
        self._eof = False

    @staticmethod
    def _new_member() -> Any:
        return zlib.decompressobj(16 + zlib.MAX_WBITS)

    def read(self, size: int | None = -1) -> bytes:
        """Raises: Problem 400 ``request.malformed_body`` for a body that is not (whole) gzip,
        413 ``request.too_large`` beyond ``max_bytes``."""
        size = READ_CHUNK if size is None or size < 0 else size
        out = b""
        while len(out) < size and not self._eof:
            if not self._pending:
                self._pending = self.source.read(READ_CHUNK)
                if not self._pending:
                    if self._in_member or not self._members:
                        raise errors.malformed_body("the gzip stream is truncated")
                    self._eof = True
                    break
            if not self._in_member:
                # Padding after the last member is allowed and ignored.
                stripped = self._pending.lstrip(b"\0")
                if not stripped:
                    self._pending = b""
                    continue
                self._pending = stripped
            try:
                chunk = self._inflater.decompress(self._pending, size - len(out))
            except zlib.error as exc:
                raise errors.malformed_body(f"the request body is not valid gzip ({exc})") from None
            if not self._in_member:
                self._in_member = True
                self._members += 1
            if self._inflater.eof:
                self._pending = self._inflater.unused_data
                self._inflater = self._new_member()
                self._in_member = False
            else:
                self._pending = self._inflater.unconsumed_tail
            out += chunk
            self.produced += len(chunk)
            if self.produced > self.max_bytes:
                raise errors.too_large(self.max_bytes)
        return out


def _content_codings() -> list[str]:
    """The request's codings other than identity.

    Raises:
        Problem: 415 ``request.unsupported_encoding`` for anything but one gzip.
    """
    header = request.headers.get("Content-Encoding", "")
    codings = [c.strip().lower() for c in header.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip")):
        raise errors.unsupported_encoding(header.strip())
    return codings


def body_stream(max_bytes: int | None = None) -> IO[bytes]:
    """The request body as a stream, its ``Content-Encoding`` (gzip or none) undone as it is
    read. Identity bodies are bounded by werkzeug's ``MAX_CONTENT_LENGTH`` already.

    Raises:
        Problem: 415 for another content coding; while reading, 400 for damaged gzip and 413
            past ``max_bytes`` (default :func:`body_limit`).
    """
    if _content_codings():
        return cast(IO[bytes], GunzipReader(request.stream, max_bytes or body_limit()))
    return request.stream


def body_bytes(max_bytes: int | None = None) -> bytes:
    """The whole request body, decoded (see :func:`body_stream`).

    Raises:
        Problem: 415 ``request.unsupported_encoding``, 413 ``request.too_large``, 400
            ``request.malformed_body``.
    """
    limit = max_bytes or body_limit()
    if not _content_codings():
        raw = request.get_data(cache=True)
        if limit and len(raw) > limit:
            raise errors.too_large(limit)
        return raw
    return _read_all(GunzipReader(request.stream, limit))


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """Inflate ``data`` (one or more gzip members), stopping past ``max_bytes``.

    Raises:
        Problem: 413 ``request.too_large`` past ``max_bytes``; 400 ``request.malformed_body``
            for a damaged or truncated stream.
    """
    return _read_all(GunzipReader(io.BytesIO(data), max_bytes))


def _read_all(reader: GunzipReader) -> bytes:
    parts = []
    while chunk := reader.read(READ_CHUNK):
        parts.append(chunk)
    return b"".join(parts)


def json_object() -> dict[str, Any]:
    """The request body as a JSON object (gzip undone).

    Raises:
        Problem: 400 ``request.malformed_json`` (not JSON, or not an object), and those of
            :func:`body_bytes`.
    """
    raw = body_bytes()
    try:
        data = json.loads(raw or b"null")
    except RecursionError:
        # The parser recurses: 200,000 brackets (on any route, login included) end here.
        raise errors.malformed_json(_TOO_DEEP) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.malformed_json(str(exc)[:200]) from None
    if not isinstance(data, dict):
        raise errors.malformed_json("expected a JSON object")
    # What parsed may still be nested deep enough to exhaust the stack of whatever walks it next
    # (validation, hashing the body, storing it); no request the server reads needs more.
    if _too_deep(data):
        raise errors.malformed_json(_TOO_DEEP)
    return data


def _too_deep(data: Any) -> bool:
    """Whether arrays and objects nest deeper than :data:`MAX_JSON_DEPTH` (walked without
    recursion, once per value: far cheaper than the parse)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, (dict, list)))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, (dict, list)))
    return False


def validated(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` loaded by ``schema``.

    Raises:
        Problem: 400 ``request.invalid`` naming each bad field.
    """
    try:
        return cast(dict[str, Any], schema.load(data))
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"body": exc.messages}
        raise errors.invalid_input(messages) from None


def load_json(schema: Schema) -> dict[str, Any]:
    """Parse and validate the JSON body.

    Raises:
        Problem: 400 ``request.malformed_json`` or ``request.invalid``, and those of
            :func:`body_bytes`.
    """
    return validated(schema, json_object())


def query_int(name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    """A whole-number query parameter (``limit``, ``offset``...), ``default`` when absent.

    Raises:
        Problem: 400 ``request.invalid`` for anything but a whole number from ``minimum`` to
            ``maximum``.
    """
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not (text.isascii() and text.lstrip("-").isdigit()) or len(text) > 18:
        raise errors.invalid_input({name: ["not a whole number"]})
    value = int(text)
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise errors.invalid_input({name: [f"must be {bound}"]})
    return value


# --- conditional requests ------------------------------------------------------------------------


def quote_etag(tag: str, weak: bool = False) -> str:
    return _quote_etag(tag, weak)


def etag_matches(tag: str) -> bool:
    """Whether the request's ``If-None-Match`` names ``tag``, weakly (a gzip copy's weak tag
    matches the plain body's) or is ``*``."""
    return bool(request.if_none_match.contains_weak(tag))


def not_modified(tag: str, weak: bool = False) -> Response:
    response = Response(status=304)
    response.headers["ETag"] = quote_etag(tag, weak)
    response.headers["Vary"] = "Accept-Encoding"
    return response


# --- responses -----------------------------------------------------------------------------------


def wants_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def compressible(content_type: str) -> bool:
    base = content_type.split(";", 1)[0].strip().lower()
    if base in _COMPRESSIBLE_IMAGES:
        return True
    return not (base.startswith(_PRECOMPRESSED_PREFIXES) or base in _PRECOMPRESSED_TYPES)


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


# Types a browser may render from an attachment a device sent, by extension; anything else is
# served as bytes to save. SVG and HTML are deliberately absent: they can carry script.
SAFE_ATTACHMENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".amr": "audio/amr",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".3gp": "video/3gpp",
    ".mp4": "video/mp4",
    ".csv": "text/csv; charset=utf-8",
    ".pdf": "application/pdf",
    ".geojson": "application/geo+json",
}


def safe_attachment_type(name: str) -> str:
    """The content type to serve a stored file under, from its name's extension only (never
    the type its sender claimed); ``application/octet-stream`` when not on the allow-list."""
    dot = name.rfind(".")
    return SAFE_ATTACHMENT_TYPES.get(name[dot:].lower() if dot >= 0 else "", OCTET_STREAM)


def attachment_headers(response: Response, name: str) -> None:
    """Serve ``name`` with its safe type; anything but an image is a download, never a page."""
    content_type = safe_attachment_type(name)
    response.headers["Content-Type"] = content_type
    disposition = "inline" if content_type.startswith("image/") else "attachment"
    quoted = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    response.headers["Content-Disposition"] = f'{disposition}; filename="{quoted}"'


# --- headers on every response -------------------------------------------------------------------

# Routes whose answers carry tokens or personal data: nothing in between may keep a copy.
_NO_STORE_PREFIXES = ("/api/", "/v1/")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id(sent: str | None) -> str:
    """The client's ``X-Request-Id`` when it is short and plain, else a fresh one: it is echoed
    and logged, so it must not carry log lines, markup or megabytes."""
    if sent is not None and _REQUEST_ID.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


def security_headers(response: Response, path: str) -> Response:
    """Headers every response carries (set once, in the app's after-request hook)."""
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    if path.startswith(_NO_STORE_PREFIXES):
        headers["Cache-Control"] = "no-store"
    return response


def json_response(body: Any, status: int = 200) -> Response:
    """Compact JSON, gzipped like :func:`bytes_response` (pages of changes on slow links)."""
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    response = bytes_response(data, "application/json")
    response.status_code = status
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
