"""Errors in Central's shape: ``{"code": 404.1, "message": "..."}``.

Central's clients match on the numeric code; our catalogue's codes (server/errors.py) stay the
stable names, and each is answered here with the Central code of its kind. This module imports
only the catalogue, so the error handler in :mod:`server.app_errors` can use it without a cycle.
"""

from __future__ import annotations

from typing import Any

from server import errors
from server.errors import Problem

# The blueprints that serve Central's routes; the error handler renders their refusals here.
BLUEPRINTS = frozenset(
    {
        "central",
        "central_odata",
        "central_entities",
        "central_entity_writes",
        "central_submissions",
        "central_keys",
    }
)

# Central's codes for the refusals its clients tell apart (central-backend lib/util/problem.js).
_BY_CODE: dict[str, float] = {
    errors.MALFORMED_JSON: 400.1,
    errors.MALFORMED_BODY: 400.1,
    errors.MALFORMED_XML: 400.1,
    errors.HOSTILE_XML: 400.1,
    errors.SUBMISSION_INVALID: 400.1,
    errors.CENTRAL_FORM_MISMATCH: 400.8,
    errors.CENTRAL_ODATA_QUERY: 400.8,
    errors.CENTRAL_DRAFT_MISMATCH: 400.8,
    errors.CENTRAL_DRAFT_VERSION: 400.8,
    errors.CENTRAL_ASSIGNMENT_ROLE: 400.8,
    errors.FORM_INVALID: 400.8,
    errors.SUBMISSION_INSTANCE_CONFLICT: 409.3,
    errors.CENTRAL_DUPLICATE_SUBMISSION: 409.3,
    errors.FORM_VERSION_CONFLICT: 409.3,
    errors.ENTITY_EXISTS: 409.3,
    errors.CENTRAL_ENTITY_INVALID: 400.28,
    errors.CENTRAL_ENTITY_VERSION: 409.15,
    errors.CENTRAL_ENTITY_MERGED: 409.15,
    errors.CENTRAL_EDIT_NOT_DEPRECATING: 400.19,
    errors.SUBMISSION_EDIT_STALE: 409.9,
    errors.FORM_CLOSED: 409.2,
    errors.CENTRAL_ATTACHMENT_DIFFERS: 409.1,
    errors.ENCRYPTION_WRONG_PASSPHRASE: 400.12,  # Central's "could not perform decryption"
}
# Otherwise by status: Central's most common code of that status.
_BY_STATUS: dict[int, float] = {
    400: 400.8,  # unexpected value
    401: 401.2,  # could not authenticate
    403: 403.1,  # insufficient rights
    404: 404.1,  # not found
    405: 405.1,
    409: 409.3,  # already exists
    413: 413.1,
    500: 500.1,
}


def central_code(problem: Problem) -> float:
    """The numeric code Central gives a refusal of this kind."""
    if problem.code in _BY_CODE:
        return _BY_CODE[problem.code]
    return _BY_STATUS.get(problem.status, float(f"{problem.status}.1"))


def central_error_body(problem: Problem) -> dict[str, Any]:
    """The JSON body of a refusal on a Central route; our code travels in ``details``."""
    details: dict[str, Any] = {"fieldsyncCode": problem.code}
    details.update(problem.extra)
    return {"code": central_code(problem), "message": problem.detail, "details": details}
