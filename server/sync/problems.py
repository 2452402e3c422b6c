"""The sync API's refusals, with their stable codes (see docs/sync-protocol.md).

They extend the catalogue in :mod:`server.errors`, which holds the codes shared with the rest of
the server (``request.unsupported_encoding``, ``request.too_large``...).
"""

from __future__ import annotations

from server.errors import Problem


def cursor_expired(detail: str) -> Problem:
    return Problem(
        410,
        "sync.cursor_expired",
        "The cursor can no longer be served",
        f"{detail}; drop the local copy and pull again without a cursor",
    )


def idempotency_key_required() -> Problem:
    return Problem(
        400,
        "sync.idempotency_key_required",
        "A push needs an Idempotency-Key header",
        "send 'Idempotency-Key: <unique key>' (1 to 200 visible ASCII characters), "
        "the same on every retry of this batch",
    )


def idempotency_key_reused() -> Problem:
    return Problem(
        422,
        "sync.idempotency_key_reused",
        "This Idempotency-Key was used for a different request",
        "a retry must send the same body as the first attempt; use a new key for a new batch",
    )


def request_in_flight(retry_after: int) -> Problem:
    return Problem(
        409,
        "sync.request_in_flight",
        "A request with this Idempotency-Key is still being processed",
        f"retry in {retry_after} seconds to get its answer",
        headers={"Retry-After": str(retry_after)},
    )


def malformed_body(detail: str) -> Problem:
    return Problem(400, "request.malformed_body", "The request body could not be decoded", detail)


def invalid_hash(value: str) -> Problem:
    return Problem(
        400,
        "blob.invalid_hash",
        "Not a SHA-256",
        f"{value[:80]!r} is not 64 lowercase hexadecimal digits",
    )


def bad_upload_header(name: str, detail: str) -> Problem:
    return Problem(400, "blob.bad_header", f"Missing or malformed {name} header", detail)


def offset_mismatch(server_offset: int, length: int | None) -> Problem:
    headers = {"Upload-Offset": str(server_offset)}
    if length is not None:
        headers["Upload-Length"] = str(length)
    return Problem(
        409,
        "blob.offset_mismatch",
        "The chunk does not start where the upload stands",
        f"the server holds {server_offset} bytes of this blob; send from there",
        headers=headers,
        upload_offset=server_offset,
    )


def length_mismatch(server_offset: int, length: int) -> Problem:
    return Problem(
        409,
        "blob.length_mismatch",
        "The upload was started with another Upload-Length",
        f"this upload is {length} bytes long; to start again with another length, "
        "send the first chunk at offset 0",
        headers={"Upload-Offset": str(server_offset), "Upload-Length": str(length)},
        upload_offset=server_offset,
    )


def beyond_length(length: int) -> Problem:
    return Problem(
        400,
        "blob.beyond_length",
        "The chunk goes past the end of the upload",
        f"the upload is {length} bytes long",
    )


def checksum_mismatch() -> Problem:
    return Problem(
        422,
        "blob.checksum_mismatch",
        "The chunk's checksum does not match its content",
        "the chunk was damaged on the way and was discarded; send it again",
    )


def hash_mismatch(sha256: str) -> Problem:
    return Problem(
        422,
        "blob.hash_mismatch",
        "The uploaded content does not have the SHA-256 it was sent under",
        f"the content's SHA-256 is not {sha256}; the upload was discarded, start again from 0",
        headers={"Upload-Offset": "0"},
    )
