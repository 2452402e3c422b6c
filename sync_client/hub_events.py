"""What the field hub prints while it serves: one line per tablet event (which device, which
form, how big) and a summary line every few minutes, so a coordinator sees the camp's tablets
at work. Never a form's answers: only the form id, sizes and the device's name.

Hooked onto the hub's Flask app from outside (a WSGI wrapper keeps the first bytes of a
submission, to name its form; an ``after_request`` hook reports), so the server is unchanged.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, Response, g, request

from sync_client.progress import plural

# Enough of a multipart body to reach the XML's root element (its id names the form).
HEAD_BYTES = 64 * 1024
_ROOT_ID = re.compile(rb"<(?![?!])[A-Za-z_][\w:.-]*\s[^>]*?\bid=[\"']([^\"']{1,200})[\"']")
_FORM_XML = re.compile(r"/forms/([^/]+)\.xml$")
_MEDIA = re.compile(r"/forms/([^/]+)/attachments/([^/]+)$")


def human_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


@dataclass
class Activity:
    """Counts since the last summary and since the hub started."""

    received: int = 0
    received_bytes: int = 0
    downloads: int = 0
    download_bytes: int = 0
    refused: int = 0
    devices: set[str] = field(default_factory=set)
    total_received: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def summary(self, seconds: float) -> str:
        span = f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
        with self.lock:
            line = (
                f"last {span}: {plural(self.received, 'form')} received "
                f"({human_size(self.received_bytes)}), {plural(self.downloads, 'download')} "
                f"({human_size(self.download_bytes)}) by {plural(len(self.devices), 'tablet')}"
                + (f", {self.refused} refused" if self.refused else "")
                + f"; {self.total_received} received since the hub started"
            )
            self.received = self.received_bytes = self.downloads = self.download_bytes = 0
            self.refused = 0
            self.devices = set()
        return line


class _Head:
    """A request body stream that keeps a copy of its first bytes as they are read."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.head = bytearray()

    def _keep(self, data: bytes) -> bytes:
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        return data

    def read(self, *args: Any) -> bytes:
        return self._keep(self._stream.read(*args))

    def readline(self, *args: Any) -> bytes:
        return self._keep(self._stream.readline(*args))

    def __iter__(self) -> Any:
        return (self._keep(line) for line in self._stream)


def _device_name() -> str:
    caller = g.get("caller")
    try:
        # The request's database session is still open here: a committed row reloads.
        app_user = getattr(caller, "app_user", None)
        if app_user is not None:
            return f"tablet {app_user.display_name!r}"
        user = getattr(caller, "user", None)
        if user is not None:
            return f"user {user.email}"
    except Exception:  # a line about a request never breaks the request
        return "a tablet"
    return "a tablet"


def _size(response: Response) -> int:
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else 0


def describe(path: str, method: str, response: Response, head: bytes) -> tuple[str, str] | None:
    """(kind, text) of a tablet's request worth a line, or None (health checks, manifests)."""
    ok = response.status_code < 400
    if method == "POST" and path.endswith("/submission"):
        found = _ROOT_ID.search(head)
        form = found.group(1).decode("utf-8", "replace") if found else "?"
        size = request.content_length or len(head)
        if ok:
            return "received", f"sent form {form} ({human_size(size)})"
        return "refused", f"sent form {form}: refused ({response.status_code})"
    if method != "GET" or "/v1/" not in path:
        return None
    if not ok:
        return "refused", f"asked for {path.rsplit('/', 1)[-1]}: refused ({response.status_code})"
    if path.endswith("/formList"):
        return "download", "checked the form list"
    match = _FORM_XML.search(path)
    if match:
        return "download", f"downloaded form {match.group(1)} ({human_size(_size(response))})"
    match = _MEDIA.search(path)
    if match:
        return (
            "download",
            f"downloaded {match.group(2)} for form {match.group(1)} "
            f"({human_size(_size(response))})",
        )
    return None


def install(app: Flask, activity: Activity, echo: Callable[[str], None]) -> None:
    """Report each tablet event of ``app`` through ``echo`` and count it in ``activity``."""
    inner = app.wsgi_app

    def keep_head(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST":
            wrapped = _Head(environ["wsgi.input"])
            environ["wsgi.input"] = wrapped
            environ["fieldsync.hub.head"] = wrapped
        return inner(environ, start_response)

    app.wsgi_app = keep_head  # type: ignore[method-assign]

    @app.after_request
    def report(response: Response) -> Response:
        head = request.environ.get("fieldsync.hub.head")
        event = describe(request.path, request.method, response, bytes(head.head) if head else b"")
        if event is None:
            return response
        kind, text = event
        device = _device_name()
        with activity.lock:
            activity.devices.add(device)
            if kind == "received":
                activity.received += 1
                activity.total_received += 1
                activity.received_bytes += request.content_length or 0
            elif kind == "download":
                activity.downloads += 1
                activity.download_bytes += _size(response)
            else:
                activity.refused += 1
        echo(f"{datetime.now().strftime('%H:%M:%S')} {device} {text}")
        return response


def summary_loop(activity: Activity, every: float, echo: Callable[[str], None]) -> None:
    """Print a summary line every ``every`` seconds (run in a daemon thread)."""
    while True:
        time.sleep(every)
        echo(f"{datetime.now().strftime('%H:%M:%S')} {activity.summary(every)}")
