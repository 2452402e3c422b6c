"""Request plumbing shared by every blueprint: the runtime and the request's database session.
(Who is calling is :mod:`server.accounts.identity`; JSON bodies are :mod:`server.http`.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

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
