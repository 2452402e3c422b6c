"""Telling a wrong scheme from a bad link: ``https://`` to a server that speaks plain HTTP (the
TLS handshake then waits for an answer that never comes) or ``http://`` to a TLS-only port.

A probe is one short connection to the same host and port in the other scheme; it is made only
after a request in the given scheme failed, and at most once per server per command.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit, urlunsplit

PROBE_TIMEOUT = 3.0


def other_scheme_url(url: str) -> str:
    parts = urlsplit(url)
    other = "http" if parts.scheme == "https" else "https"
    netloc = parts.netloc
    if parts.port is None:
        # Keep the port the coordinator reached: the default of the scheme given.
        netloc = f"{parts.hostname}:{443 if parts.scheme == 'https' else 80}"
    return urlunsplit((other, netloc, parts.path, "", ""))


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or "", port


def speaks_plain_http(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether the host and port of ``url`` answer a plain HTTP request with an HTTP status
    line (a TLS port answers with an alert, or nothing)."""
    host, port = _address(url)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(f"HEAD / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode("ascii", "replace"))
            first = sock.recv(16)
    except OSError:
        return False
    return first.startswith(b"HTTP/")


def speaks_tls(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether the host and port of ``url`` complete a TLS handshake (certificate unchecked:
    this only asks which protocol the port speaks; the real request checks it)."""
    host, port = _address(url)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as sock,
            context.wrap_socket(sock, server_hostname=host or None),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False


def scheme_mismatch(url: str) -> str | None:
    """The URL to use instead when ``url``'s server speaks the other scheme, else None."""
    scheme = urlsplit(url).scheme
    if scheme == "https" and speaks_plain_http(url):
        return other_scheme_url(url)
    if scheme == "http" and speaks_tls(url):
        return other_scheme_url(url)
    return None
