"""The web UI's blueprint and what every page shares: who is logged in (a cookie holding an API
session token), the CSRF check on every POST, the page headers (CSP without inline code,
caching) and refusals rendered as pages.

The login cookie carries the same session token as ``POST /api/v1/sessions`` hands out, so the
permission decorator (:func:`server.accounts.permissions.requires`) and every service see the
same user as on the JSON API; logging out revokes it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, g, request
from werkzeug.wrappers import Response as BaseResponse

from server import errors
from server.accounts import service as accounts
from server.accounts.models import ApiToken, User
from server.web import db, runtime

blueprint = Blueprint(
    "ui", __name__, url_prefix="/ui", template_folder="templates", static_folder=None
)

SESSION_COOKIE = "fieldsync_ui"
PRELOGIN_COOKIE = "fieldsync_ui_pre"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _hmac(purpose: str, value: str) -> str:
    key = runtime().settings.secret_key.encode("utf-8")
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:40]


def csrf_token() -> str:
    """The token every form carries: bound to the login session, or before logging in to a
    random cookie of its own (the login form is protected too)."""
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token and g.get("ui_user") is not None:
        return _hmac("csrf", session_token)
    pre = g.get("ui_prelogin") or request.cookies.get(PRELOGIN_COOKIE)
    if not pre:
        pre = secrets.token_urlsafe(24)
        g.ui_prelogin = pre
    return _hmac("pre", pre)


def _csrf_ok() -> bool:
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    candidates = []
    session_token = request.cookies.get(SESSION_COOKIE)
    if session_token and g.get("ui_user") is not None:
        candidates.append(_hmac("csrf", session_token))
    pre = request.cookies.get(PRELOGIN_COOKIE)
    if pre:
        candidates.append(_hmac("pre", pre))
    return bool(sent) and any(hmac.compare_digest(sent, c) for c in candidates)


def ui_user() -> User | None:
    return g.get("ui_user")


@blueprint.before_request
def _identify() -> Any:
    """Find the logged-in user (then :func:`current_user` answers with them), and refuse any
    POST without the form's CSRF token before a view runs."""
    g.ui_user = None
    if request.endpoint == "ui.static":
        return None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            user, row = accounts.user_for_token(db(), token)
        except errors.Problem:
            g.ui_drop_cookie = True
        else:
            g.ui_user, g.api_user, g.api_token = user, user, row
    if request.method not in _SAFE_METHODS and not _csrf_ok():
        raise errors.ui_csrf_refused()
    return None


@blueprint.after_request
def _page_headers(response: Response) -> Response:
    tile_origin = ""
    tile_url = runtime().settings.ui_tile_url
    if tile_url:
        # Leaflet's "{s}" subdomains (a., b., c.) are one wildcard in the policy.
        parts = urlsplit(tile_url.replace("{s}", "*"))
        tile_origin = f" {parts.scheme}://{parts.netloc}"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data:{tile_origin}; connect-src 'self'; font-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    if request.endpoint == "ui.static":
        return response  # the same bytes for everyone: cached by content, not by user
    response.headers.setdefault("Cache-Control", "private, no-cache")
    response.headers["Vary"] = "Cookie, Accept-Language, Accept-Encoding"
    if g.get("ui_prelogin"):
        _set_cookie(response, PRELOGIN_COOKIE, g.ui_prelogin, max_age=None)
    if g.get("ui_drop_cookie"):
        response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response


def _set_cookie(response: BaseResponse, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/ui",
        httponly=True,
        secure=request.is_secure,
        samesite="Lax",
    )


def start_session(response: BaseResponse, token: str) -> None:
    _set_cookie(response, SESSION_COOKIE, token, runtime().settings.session_ttl_seconds)


def end_session(response: BaseResponse) -> None:
    row: ApiToken | None = g.get("api_token")
    if row is not None:
        accounts.revoke_session(db(), row)
    response.delete_cookie(SESSION_COOKIE, path="/ui")
