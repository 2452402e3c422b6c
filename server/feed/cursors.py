"""Opaque pull cursors: a feed position, bound to one server and one project by an HMAC.

A cursor the server did not hand out for this project (tampered, truncated, from another server
or from a project that was deleted and re-created) fails to decode, and the client is told to
pull from scratch.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass

_VERSION = 1
_PAYLOAD = struct.Struct(">BQQ")
_MAC_BYTES = 12


class CursorInvalid(Exception):
    """The cursor is malformed or was not issued for this server and project."""


@dataclass(frozen=True, order=True)
class Position:
    """A place in a project's feed: just after the row ``(xid, id)`` in feed order.

    On SQLite ``xid`` is always 0 and ``id`` alone orders the feed.
    """

    xid: int
    id: int


START = Position(0, 0)


def encode_cursor(secret: str, scope: str, position: Position) -> str:
    payload = _PAYLOAD.pack(_VERSION, position.xid, position.id)
    token = payload + _mac(secret, scope, payload)
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")


def decode_cursor(secret: str, scope: str, cursor: str) -> Position:
    """Read a cursor handed out by :func:`encode_cursor` with the same secret and scope.

    Raises:
        CursorInvalid: malformed, tampered with, or issued by another server or for another
            project.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise CursorInvalid("not base64") from None
    if len(raw) != _PAYLOAD.size + _MAC_BYTES:
        raise CursorInvalid("wrong length")
    payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    if not hmac.compare_digest(mac, _mac(secret, scope, payload)):
        raise CursorInvalid("not issued here")
    version, xid, row_id = _PAYLOAD.unpack(payload)
    if version != _VERSION:
        raise CursorInvalid(f"unknown cursor version {version}")
    return Position(xid, row_id)


def _mac(secret: str, scope: str, payload: bytes) -> bytes:
    message = b"fieldsync-sync-cursor\0" + scope.encode("utf-8") + b"\0" + payload
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()[:_MAC_BYTES]
