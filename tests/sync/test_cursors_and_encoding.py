"""The pure parts of the sync API: cursor tokens and gzip request bodies."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.errors import Problem
from server.feed.cursors import CursorInvalid, Position, decode_cursor, encode_cursor
from server.sync.encoding import gunzip

SECRET = "server secret"
SCOPE = "7:2026-11-29T10:00:00+00:00"


@given(st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1))
def test_a_cursor_reads_back_as_its_position(xid: int, row_id: int) -> None:
    token = encode_cursor(SECRET, SCOPE, Position(xid, row_id))
    assert decode_cursor(SECRET, SCOPE, token) == Position(xid, row_id)
    assert token.isascii() and "=" not in token


def test_a_cursor_is_bound_to_its_server_and_project() -> None:
    token = encode_cursor(SECRET, SCOPE, Position(10, 20))
    with pytest.raises(CursorInvalid):
        decode_cursor("another secret", SCOPE, token)
    with pytest.raises(CursorInvalid):
        decode_cursor(SECRET, "8:2026-11-29T10:00:00+00:00", token)


@given(st.text(max_size=60))
def test_no_arbitrary_text_is_taken_for_a_cursor(text: str) -> None:
    with pytest.raises(CursorInvalid):
        decode_cursor(SECRET, SCOPE, text)


def test_gunzip_reads_concatenated_members() -> None:
    data = gzip.compress(b"hello ") + gzip.compress(b"world")
    assert gunzip(data, 100) == b"hello world"


def test_gunzip_stops_at_the_limit() -> None:
    assert gunzip(gzip.compress(b"x" * 100), 100) == b"x" * 100
    with pytest.raises(Problem) as raised:
        gunzip(gzip.compress(b"x" * 101), 100)
    assert raised.value.status == 413


def test_gunzip_refuses_damaged_input() -> None:
    whole = gzip.compress(b"some json body" * 20)
    for damaged in (whole[:-6], b"not gzip at all", whole[:10]):
        with pytest.raises(Problem) as raised:
            gunzip(damaged, 10_000)
        assert (raised.value.status, raised.value.code) == (400, "request.malformed_body")
