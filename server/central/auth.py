"""HTTP Basic on Central's REST routes: ruODK, Power BI and Excel send the email and password
with every request, as Central accepts. The check is the password login every other route uses
(throttled per account and address, disabled users refused), so Basic here is no weaker than
``POST /v1/sessions``."""

from __future__ import annotations

from flask import g, request

from server.accounts import login
from server.accounts.models import User
from server.web import db, runtime


def basic_caller() -> None:
    """Before a Central route: log the caller in from HTTP Basic credentials, if they sent
    them (a bearer token is read where it is needed, by ``current_user``).

    Raises:
        Problem: 401 ``auth.bad_credentials`` (Central 401.2); 429 after too many attempts.
    """
    auth = request.authorization
    if auth is None or auth.type != "basic":
        return
    user_id = login.password_login(
        runtime().session_factory,
        auth.username or "",
        auth.password or "",
        request.remote_addr or "",
        scheme="basic",
    )
    g.api_user = db().get(User, user_id)
