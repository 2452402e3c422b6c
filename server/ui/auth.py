"""Logging in and out of the web UI with an existing account, and choosing the language."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import redirect, request, url_for

from server import errors
from server.accounts import login as logins
from server.accounts import service as accounts
from server.accounts.models import User
from server.ui.blueprint import blueprint, end_session, start_session, ui_user
from server.ui.i18n import LANGUAGE_COOKIE, LANGUAGES
from server.ui.pages import page
from server.web import commit, db, runtime


def _next_url() -> str:
    """Where to go after logging in: a path of this UI only (never another site)."""
    target = request.values.get("next", "")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui/") or target.startswith("//"):
        return url_for("ui.home")
    return target


@blueprint.get("/login")
def login() -> Any:
    if ui_user() is not None:
        return redirect(_next_url())
    return page("login.html", next=request.args.get("next", ""), failed=None)


@blueprint.post("/login")
def login_submit() -> Any:
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    try:
        user_id = logins.password_login(
            runtime().session_factory, email, password, request.remote_addr or "", scheme="ui"
        )
        user = db().get(User, user_id)
        if user is None or not user.is_active:
            raise errors.bad_credentials()
    except errors.Problem as exc:
        status = exc.status if exc.status in (401, 429) else 400
        refused = page("login.html", next=_next_url(), failed=exc, email=email, status=status)
        refused.headers.update(exc.headers)
        return refused
    issued = accounts.open_session(db(), user, runtime().settings.session_ttl_seconds)
    commit()
    response = redirect(_next_url(), code=303)
    start_session(response, issued.token)
    return response


@blueprint.post("/logout")
def logout() -> Any:
    response = redirect(url_for("ui.login"), code=303)
    end_session(response)
    commit()
    return response


@blueprint.post("/language")
def language() -> Any:
    chosen = request.form.get("lang", "")
    response = redirect(_next_url(), code=303)
    if chosen in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE,
            chosen,
            max_age=365 * 24 * 3600,
            path="/ui",
            httponly=True,
            secure=request.is_secure,
            samesite="Lax",
        )
    return response
