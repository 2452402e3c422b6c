"""Requests an attacker (or Collect) sends: Digest headers built by hand, so they can be sniffed
and replayed, and counts of what the database holds."""

from __future__ import annotations

import base64

import requests

from tests.openrosa.helpers import OPENROSA, digest_authorization


def challenge(url: str, method: str = "HEAD") -> str:
    """A fresh Digest challenge from the server (the 401 to an unauthenticated request)."""
    response = requests.request(method, url, headers=OPENROSA, timeout=10)
    assert response.status_code == 401
    return next(c for c in challenges_of(response) if c.startswith("Digest"))


def digest_header(
    challenge_value: str, method: str, url: str, email: str, password: str, nc: int = 1
) -> str:
    path = "/" + url.split("/", 3)[3]
    return digest_authorization(challenge_value, method, path, email, password, nc=f"{nc:08x}")


def basic_header(email: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()


def challenges_of(response: requests.Response) -> list[str]:
    return list(response.raw.headers.getlist("WWW-Authenticate"))
