"""Building the absolute URLs handed to devices."""

from __future__ import annotations

import base64
import json
import zlib

from flask import has_request_context, request

from server.web import runtime


def base_url(fallback: str | None = None) -> str:
    """The public base URL: configured, else the request's own, else ``fallback``."""
    configured = runtime().settings.public_url
    if configured:
        return configured
    if has_request_context():
        return request.host_url.rstrip("/")
    return (fallback or "http://127.0.0.1:5000").rstrip("/")


def app_user_url(host_url: str | None, token: str, project_id: int) -> str:
    """The server URL a device is configured with; Collect appends /formList and /submission."""
    return f"{base_url(host_url)}/v1/key/{token}/projects/{project_id}"


def collect_qr_payload(url: str, project_name: str, device_name: str) -> str:
    """What Collect's "Configure with QR code" reads: zlib-compressed JSON settings, base64."""
    settings = {
        "general": {
            "server_url": url,
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": f"{project_name} ({device_name})", "icon": "F"},
    }
    raw = json.dumps(settings, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(zlib.compress(raw)).decode("ascii")
