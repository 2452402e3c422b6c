"""server.http: gzip request bodies with one limit, on every blueprint."""

from __future__ import annotations

import gzip
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from server.errors import Problem
from server.http import gunzip


def test_gunzip_reads_concatenated_members() -> None:
    data = gzip.compress(b"hello ") + gzip.compress(b"world")
    assert gunzip(data, 100) == b"hello world"
    # Zero padding after the last member is allowed.
    assert gunzip(data + b"\0" * 8, 100) == b"hello world"


def test_gunzip_stops_at_the_limit() -> None:
    assert gunzip(gzip.compress(b"x" * 100), 100) == b"x" * 100
    with pytest.raises(Problem) as raised:
        gunzip(gzip.compress(b"x" * 101), 100)
    assert raised.value.status == 413


def test_gunzip_refuses_damaged_input() -> None:
    whole = gzip.compress(b"some json body" * 20)
    for damaged in (whole[:-6], b"not gzip at all", whole[:10], b""):
        with pytest.raises(Problem) as raised:
            gunzip(damaged, 10_000)
        assert (raised.value.status, raised.value.code) == (400, "request.malformed_body")


def _login(client: FlaskClient, body: bytes, coding: str) -> tuple[int, str]:
    response = client.post(
        "/api/v1/sessions",
        data=body,
        headers={"Content-Encoding": coding, "Content-Type": "application/json"},
    )
    assert response.mimetype == "application/problem+json"
    assert response.json is not None
    return response.status_code, response.json["code"]


def test_every_json_route_reads_gzip_bodies_the_same_way(app: Flask, client: FlaskClient) -> None:
    credentials = json.dumps({"email": "nobody@example.org", "password": "wrong password"})
    zipped = gzip.compress(credentials.encode())
    # The body was decoded and read: the credentials themselves are refused.
    assert _login(client, zipped, "gzip") == (401, "auth.bad_credentials")
    assert _login(client, zipped[: len(zipped) // 2], "gzip") == (400, "request.malformed_body")
    assert _login(client, b"not gzip", "gzip") == (400, "request.malformed_body")
    assert _login(client, zipped, "br") == (415, "request.unsupported_encoding")
    limit = app.config["MAX_CONTENT_LENGTH"]
    bomb = gzip.compress(b'{"email": "' + b"a" * (limit + 10) + b'"}')
    assert len(bomb) < limit
    assert _login(client, bomb, "gzip") == (413, "request.too_large")
