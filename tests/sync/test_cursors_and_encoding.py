"""The pure parts of the sync API: cursor tokens (gzip request bodies: tests/core/test_http.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.feed.cursors import CursorInvalid, Position, decode_cursor, encode_cursor

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
