"""Request bodies on the sync API: ``Content-Encoding: gzip`` decoded by the server itself.

Flask hands views the body as sent; a gzip body is inflated here with a ceiling on the inflated
size, so a small "bomb" cannot fill memory.
"""

from __future__ import annotations

import zlib

from flask import request

from server import errors


def decoded_body(max_bytes: int) -> bytes:
    """The request body, gunzipped when sent with ``Content-Encoding: gzip``.

    Raises:
        Problem: 415 ``request.unsupported_encoding`` for any coding but gzip and identity;
            413 ``request.too_large`` when the (inflated) body exceeds ``max_bytes``;
            400 ``request.malformed_body`` for a damaged gzip stream.
    """
    codings = [
        c.strip().lower()
        for c in request.headers.get("Content-Encoding", "").split(",")
        if c.strip() and c.strip().lower() != "identity"
    ]
    if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip")):
        raise errors.unsupported_encoding(request.headers.get("Content-Encoding", ""))
    raw = request.get_data(cache=False)
    if not codings:
        if len(raw) > max_bytes:
            raise errors.too_large(max_bytes)
        return raw
    return gunzip(raw, max_bytes)


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """Inflate one or more concatenated gzip members, stopping past ``max_bytes``.

    Raises:
        Problem: 413 when the inflated size exceeds ``max_bytes``; 400 for a damaged stream.
    """
    out = bytearray()
    pending = data
    try:
        while True:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            # max_length bounds the memory used however well the input compresses.
            out += inflater.decompress(pending, max_bytes - len(out) + 1)
            if len(out) > max_bytes:
                raise errors.too_large(max_bytes)
            if not inflater.eof:
                raise errors.malformed_body("the gzip stream is truncated")
            pending = inflater.unused_data
            if not pending.strip(b"\0"):
                return bytes(out)
    except zlib.error as exc:
        raise errors.malformed_body(f"the body is not valid gzip ({exc})") from None
