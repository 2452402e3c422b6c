"""Who is calling the JSON API: the user behind the request's bearer token."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from server import errors
from server.accounts import service as accounts
from server.accounts.models import ApiToken, User
from server.web import db

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def current_user() -> User:
    """The user behind the request's bearer token.

    Raises:
        Problem: 401 when no token is sent or it is unknown, expired or revoked.
    """
    user = g.get("api_user")
    if user is not None:
        return cast(User, user)
    token = bearer_token()
    if not token:
        raise errors.auth_required()
    user, row = accounts.user_for_token(db(), token)
    g.api_user = user
    g.api_token = row
    return user


def current_api_token() -> ApiToken:
    current_user()
    return cast(ApiToken, g.api_token)


def login_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        current_user()
        return view(*args, **kwargs)

    return cast(F, wrapper)
