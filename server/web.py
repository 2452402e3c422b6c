"""Request plumbing shared by every blueprint: the runtime, the request's database session,
JSON input parsing, and the identity of the caller on the JSON API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g, request
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from server import errors
from server.accounts import service as accounts
from server.accounts.models import ApiToken, User
from server.blobs.store import FileBlobStore
from server.http import load_json as load_json  # JSON bodies are read in server.http
from server.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Runtime:
    """What the app holds for its lifetime; kept in ``app.extensions['fieldsync']``."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    blobs: FileBlobStore


def make_runtime(settings: Settings) -> Runtime:
    """Open the engine and stores for ``settings`` (used by the app and by the CLI)."""
    from server.db import make_engine, make_session_factory

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.upload_tmp_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    return Runtime(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine, settings=settings),
        blobs=FileBlobStore(settings.blob_dir),
    )


def runtime(app: Flask | None = None) -> Runtime:
    return cast(Runtime, (app or current_app).extensions["fieldsync"])


def db() -> Session:
    """The request's session, opened on first use, in one transaction for the whole request.

    Views commit with :func:`commit` before answering; anything not committed is rolled back
    when the request ends.
    """
    session = g.get("db_session")
    if session is None:
        session = runtime().session_factory()
        session.begin()
        g.db_session = session
    return cast(Session, session)


def commit() -> None:
    session = g.get("db_session")
    if session is not None and session.in_transaction():
        session.commit()


def close_request_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


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
