"""The error catalogue: every refusal the server makes, with a stable code.

A :class:`Problem` carries an HTTP status, a stable machine-readable code, a title and a detail
for people. One handler (in :mod:`server.app_errors`) renders it as ``application/problem+json``
on the JSON API and as an OpenRosa ``<OpenRosaResponse>`` on OpenRosa routes. Codes are never
reused for a different meaning; add new ones at the end of their block.
"""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """An expected failure that is the client's to fix (or to retry), rendered for the client."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail or title
        self.headers = headers or {}
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://fieldsync.org/problems/{self.code}",
            "status": self.status,
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


# --- 400: the request itself is malformed -------------------------------------------------------


def malformed_json(detail: str) -> Problem:
    return Problem(400, "request.malformed_json", "The request body is not valid JSON", detail)


def invalid_input(errors: dict[str, Any]) -> Problem:
    fields = ", ".join(sorted(errors)) or "body"
    return Problem(
        400,
        "request.invalid",
        "The request has invalid or missing fields",
        f"check these fields: {fields}",
        errors=errors,
    )


def malformed_xml(detail: str) -> Problem:
    return Problem(400, "xml.malformed", "The XML could not be read", detail)


def hostile_xml(detail: str) -> Problem:
    return Problem(
        400,
        "xml.forbidden_construct",
        "The XML uses a construct fieldsync refuses (DOCTYPE or entity declarations)",
        detail,
    )


def bad_submission(detail: str) -> Problem:
    return Problem(400, "submission.invalid", "The submission could not be accepted", detail)


def bad_attachment_name(name: str) -> Problem:
    return Problem(
        400,
        "submission.attachment_name",
        "An attachment name is not a plain file name",
        f"attachment name {name!r} must not contain a path or control characters",
    )


def unsupported_encoding(encoding: str) -> Problem:
    return Problem(
        415,
        "request.unsupported_encoding",
        "The request body's Content-Encoding is not supported",
        f"Content-Encoding {encoding!r} is not supported; send gzip or identity",
    )


# --- 401 / 403: who you are and what you may do ---------------------------------------------------


def auth_required() -> Problem:
    return Problem(
        401,
        "auth.required",
        "Authentication required",
        "log in and send the token as 'Authorization: Bearer <token>'",
    )


def bad_credentials() -> Problem:
    return Problem(401, "auth.bad_credentials", "Wrong email or password")


def token_invalid() -> Problem:
    return Problem(
        401,
        "auth.token_invalid",
        "The session token is unknown, expired or revoked",
        "log in again to get a new token",
    )


def forbidden(detail: str = "your role does not allow this") -> Problem:
    return Problem(403, "auth.forbidden", "Not allowed", detail)


def app_user_token_invalid() -> Problem:
    # 403, never 401: a 401 would make ODK Collect prompt a field worker for a password.
    return Problem(
        403,
        "auth.app_user_token_invalid",
        "This device's access was revoked or its link is wrong",
        "ask your coordinator for a new server link or QR code",
    )


# --- 404: what does not exist ---------------------------------------------------------------------


def not_found(what: str, detail: str | None = None) -> Problem:
    return Problem(404, "not_found", f"{what} not found", detail or f"no such {what.lower()}")


def form_not_found(form_id: str) -> Problem:
    return Problem(
        404,
        "form.not_found",
        "Form not found",
        f"there is no form {form_id!r} in this project",
    )


def form_version_not_found(form_id: str, version: str) -> Problem:
    return Problem(
        404,
        "form.version_not_found",
        "Form version not found",
        f"form {form_id!r} has no version {version!r}; download the current form and refill",
    )


# --- 409: state conflicts ----------------------------------------------------------------------


def conflict(code: str, title: str, detail: str, **extra: Any) -> Problem:
    return Problem(409, code, title, detail, **extra)


def form_closed(form_id: str) -> Problem:
    return conflict(
        "form.closed",
        "The form is closed",
        f"form {form_id!r} no longer accepts submissions",
    )


def form_version_exists(form_id: str, version: str) -> Problem:
    return conflict(
        "form.version_conflict",
        "That form version was already published with different content",
        f"form {form_id!r} version {version!r} exists with a different body; "
        "raise the version in the settings sheet",
    )


def submission_differs(instance_id: str) -> Problem:
    return conflict(
        "submission.instance_conflict",
        "A different submission with this instanceID was already received",
        f"instanceID {instance_id!r} was already received with different content; "
        "to change it, edit the sent form",
    )


def submission_edit_stale(instance_id: str) -> Problem:
    return conflict(
        "submission.edit_stale",
        "The copy you were editing is out of date",
        f"the copy you were editing ({instance_id!r}) is out of date: "
        "download the latest version and edit that",
    )


def duplicate(code: str, title: str, detail: str) -> Problem:
    return conflict(code, title, detail)


# --- 413 / 422 / 429 / 503 -----------------------------------------------------------------------


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        "request.too_large",
        "The upload is larger than the server accepts",
        f"the upload exceeds the limit of {limit} bytes",
        limit=limit,
    )


def unprocessable(code: str, title: str, detail: str, **extra: Any) -> Problem:
    return Problem(422, code, title, detail, **extra)


def database_unavailable() -> Problem:
    return Problem(
        503,
        "server.database_unavailable",
        "The database is not reachable",
        "try again in a moment",
        headers={"Retry-After": "5"},
    )


# gazetteer


def gazetteer_invalid(filename: str, detail: str) -> Problem:
    """A gazetteer file was refused; ``detail`` names the row. Nothing was changed."""
    return Problem(
        400,
        "gazetteer.invalid",
        "The gazetteer file was refused; nothing was changed",
        f"{filename}: {detail}",
    )
