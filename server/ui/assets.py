"""The UI's static files (its stylesheet and script, and the vendored htmx and Leaflet) under
URLs that name their content: ``/ui/static/<digest>/<path>``. A URL never changes meaning, so
browsers keep the file for a year and ask again only when a new release changes its digest.
Text files are sent gzipped to clients that accept it (a satellite link pays per byte)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import mimetypes
from pathlib import Path

from flask import Response, abort, request

from server.http import wants_gzip

STATIC_DIR = Path(__file__).resolve().parent / "static"
_TEXT = (".css", ".js", ".svg", ".json")
YEAR = 365 * 24 * 3600


@functools.cache
def _file(path: str) -> tuple[bytes, bytes | None, str] | None:
    """The file's bytes, its gzip copy (text files), and its digest; None outside STATIC_DIR."""
    target = (STATIC_DIR / path).resolve()
    if not target.is_file() or STATIC_DIR not in target.parents:
        return None
    data = target.read_bytes()
    packed = gzip.compress(data, 9, mtime=0) if target.suffix in _TEXT else None
    return data, packed, hashlib.sha256(data).hexdigest()[:12]


def asset_url(path: str) -> str:
    """The versioned URL of a static file (templates call it as ``asset('ui.css')``).

    Raises:
        LookupError: no such file (a template names a file that is not shipped).
    """
    found = _file(path)
    if found is None:
        raise LookupError(f"no static file {path!r} in the UI package")
    return f"/ui/static/{found[2]}/{path}"


def serve(digest: str, path: str) -> Response:
    found = _file(path)
    if found is None:
        abort(404)
    data, packed, current = found
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    response = Response(content_type=content_type)
    use_gzip = packed is not None and wants_gzip()
    response.set_data(packed if use_gzip and packed is not None else data)
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["ETag"] = f'"{current}{"-gz" if use_gzip else ""}"'
    # An old digest still gets the file (a page cached across a release), but only briefly.
    immutable = digest == current
    response.headers["Cache-Control"] = (
        f"public, max-age={YEAR}, immutable" if immutable else "public, max-age=300"
    )
    if request.if_none_match.contains(response.headers["ETag"].strip('"')):
        response.set_data(b"")
        response.status_code = 304
    return response
