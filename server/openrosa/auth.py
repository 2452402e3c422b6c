"""Who is calling an OpenRosa route: an app user (device token in the URL) or a user by HTTP
Basic or Digest.

A Digest nonce is a timestamp signed with the app secret, valid for ``NONCE_TTL_SECONDS``; its
use is tracked in the database (:mod:`server.accounts.nonces`): each ``nc`` must be higher than
the last, and a nonce authorises at most one write. An expired, replayed or spent nonce with a
right response is answered with ``stale=true``, so Collect retries silently. Password attempts
are throttled per account and per address (:mod:`server.accounts.login`). See
docs/adr/0002-digest-auth.md for why Digest is offered at all, and to whom.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.datastructures import Authorization

from server import errors
from server.accounts import login
from server.accounts import service as accounts
from server.accounts.models import AppUser, Role, User
from server.accounts.permissions import allows
from server.accounts.security import DIGEST_REALM, token_hash
from server.config_cache import config_cache
from server.errors import ChallengeRequired, Problem
from server.projects.models import Project
from server.submissions.service import Submitter

NONCE_TTL_SECONDS = 15 * 60


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one OpenRosa request, and the project it addresses."""

    project: Project
    user: User | None = None
    app_user: AppUser | None = None
    role: Role | None = None

    @property
    def may_fill(self) -> bool:
        """Whether the caller may download and submit the project's forms (the rule of
        ``@requires(Role.DATA_COLLECTOR)``: a device may, a viewer may not)."""
        return self.app_user is not None or allows(self.role, Role.DATA_COLLECTOR)

    def submitter(self) -> Submitter:
        return Submitter(
            user_id=self.user.id if self.user is not None else None,
            app_user_id=self.app_user.id if self.app_user is not None else None,
        )


def authenticate_app_user(session: Session, token: str, project_id: int) -> Caller:
    """Resolve a device token from the URL.

    Raises:
        Problem: 403 ``auth.app_user_token_invalid`` for an unknown or revoked token, or one
            issued for another project; never 401, which would make Collect ask for a password.
    """
    hashed = token_hash(token)

    def load() -> tuple[AppUser, Project] | None:
        row = session.execute(
            select(AppUser, Project)
            .join(Project, Project.id == AppUser.project_id)
            .where(AppUser.token_hash == hashed)
        ).first()
        return (row[0], row[1]) if row is not None else None

    # This runs on every device request: kept between requests, checked against the
    # generation (server.config_cache), so a revocation is seen at the next request.
    cache = config_cache(session)
    row = cache.get(session, ("app_user", hashed), load) if cache is not None else load()
    if row is None:
        raise errors.app_user_token_invalid()
    app_user, project = row
    if not accounts.app_user_usable(app_user) or app_user.project_id != project_id:
        raise errors.app_user_token_invalid()
    return Caller(project=project, app_user=app_user)


def authenticate_user(
    session: Session, factory: sessionmaker[Session], project_id: int, secret: str
) -> Caller:
    """Resolve HTTP Basic, Digest or Bearer credentials and the user's role in the project.
    Password and Digest checks run in transactions of their own (``factory``), before
    ``session`` is used, so their counts survive a refused request.

    Raises:
        ChallengeRequired: no credentials, wrong ones, or an expired, replayed or spent Digest
            nonce (401).
        Problem: 429 after too many password attempts; 403 when the user has no role in the
            project.
    """
    auth = request.authorization
    if auth is None:
        raise ChallengeRequired("log in with your fieldsync email and password")
    if auth.type == "basic":
        user = _basic_user(session, factory, auth)
    elif auth.type == "digest":
        user = _digest_user(session, factory, auth, secret)
    elif auth.type == "bearer":
        # The sync client and a field hub hold an API session token, not a password.
        try:
            user, _row = accounts.user_for_token(session, auth.token or "")
        except Problem:
            raise ChallengeRequired("the session token is unknown, expired or revoked") from None
    else:
        raise ChallengeRequired(f"the {auth.type!r} authentication scheme is not supported here")
    role = accounts.role_in(session, user, project_id)
    if role is None:
        raise errors.forbidden("your account has no role in this project")
    project = session.get(Project, project_id)
    if project is None:
        raise errors.not_found("Project", f"there is no project {project_id}")
    return Caller(project=project, user=user, role=role)


def _basic_user(session: Session, factory: sessionmaker[Session], auth: Authorization) -> User:
    try:
        user_id = login.password_login(
            factory,
            auth.username or "",
            auth.password or "",
            request.remote_addr or "",
            scheme="basic",
        )
    except Problem as exc:
        if exc.code == errors.BAD_CREDENTIALS:
            raise ChallengeRequired("wrong email or password") from None
        raise
    return _user(session, user_id)


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.is_active:  # removed or disabled a moment ago
        raise ChallengeRequired("wrong email or password")
    return user


def _digest_user(
    session: Session, factory: sessionmaker[Session], auth: Authorization, secret: str
) -> User:
    params = {key: value or "" for key, value in auth.parameters.items()}
    nonce = params.get("nonce", "")
    uri = params.get("uri", "")
    if params.get("realm") != DIGEST_REALM:
        raise ChallengeRequired("wrong authentication realm")
    if (params.get("algorithm") or "MD5").upper() != "MD5":
        raise ChallengeRequired("only the MD5 Digest algorithm is supported")
    if not _uri_matches(uri):
        raise ChallengeRequired("the Digest uri does not match the request")
    nonce_state = check_nonce(nonce, secret)
    if nonce_state == "invalid":
        raise ChallengeRequired("the Digest nonce was not issued by this server")
    qop = params.get("qop") or None
    nc_text = params.get("nc", "")
    if qop != "auth":
        # Without qop there is no nonce count, so a replay could not be told from a retry.
        raise ChallengeRequired('Digest needs qop="auth"')
    try:
        nc = int(nc_text, 16)
    except ValueError:
        raise ChallengeRequired("the Digest nonce count is malformed") from None

    def matches(ha1: str) -> bool:
        expected = digest_response(
            ha1, request.method, uri, nonce, qop=qop, nc=nc_text, cnonce=params.get("cnonce", "")
        )
        return expected is not None and hmac.compare_digest(expected, params.get("response", ""))

    user_id = login.digest_login(
        factory,
        login.DigestAttempt(
            username=auth.username or "",
            address=request.remote_addr or "",
            nonce=nonce,
            nc=nc,
            write=request.method not in ("GET", "HEAD", "OPTIONS"),
            nonce_expires_at=nonce_expiry(nonce),
            nonce_expired=nonce_state == "stale",
            response_matches=matches,
        ),
    )
    return _user(session, user_id)


def _uri_matches(uri: str) -> bool:
    # The digest covers the uri the client names; it must be the resource requested, or a
    # captured response could be replayed against another URL.
    return bool(uri) and unquote(urlsplit(uri).path) == request.path


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest_response(
    ha1: str, method: str, uri: str, nonce: str, *, qop: str | None, nc: str, cnonce: str
) -> str | None:
    """The ``response`` value RFC 7616 expects (MD5, qop ``auth`` or none); None for another
    qop."""
    ha2 = _md5(f"{method}:{uri}")
    if qop is None:
        return _md5(f"{ha1}:{nonce}:{ha2}")
    if qop == "auth":
        return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return None


def _sign(value: str, secret: str) -> str:
    return hmac.new(secret.encode(), f"digest-nonce:{value}".encode(), hashlib.sha256).hexdigest()[
        :32
    ]


def make_nonce(secret: str, now: float | None = None) -> str:
    """``timestamp.random.signature``: unique per challenge, so its use can be tracked."""
    timestamp = str(int(now if now is not None else time.time()))
    value = f"{timestamp}.{secrets.token_hex(8)}"
    return f"{value}.{_sign(value, secret)}"


def nonce_expiry(nonce: str) -> datetime:
    """When a nonce of ours stops being valid (its tracking row may be swept then)."""
    timestamp = int(nonce.partition(".")[0])
    return datetime.fromtimestamp(timestamp + NONCE_TTL_SECONDS, UTC)


def check_nonce(nonce: str, secret: str, now: float | None = None) -> str:
    """``"valid"``, ``"stale"`` (ours but expired) or ``"invalid"`` (not ours)."""
    value, _, signature = nonce.rpartition(".")
    timestamp, _, random_part = value.partition(".")
    if (
        not timestamp.isdigit()
        or len(timestamp) > 12
        or not random_part
        or not hmac.compare_digest(signature, _sign(value, secret))
    ):
        return "invalid"
    age = (now if now is not None else time.time()) - int(timestamp)
    return "valid" if 0 <= age <= NONCE_TTL_SECONDS else "stale"


def challenges(secret: str, stale: bool = False) -> list[str]:
    """``WWW-Authenticate`` values: Digest first (Collect prefers it), then Basic."""
    digest = (
        f'Digest realm="{DIGEST_REALM}", qop="auth", algorithm=MD5, '
        f'nonce="{make_nonce(secret)}", opaque="{_sign("opaque", secret)[:16]}"'
    )
    if stale:
        digest += ", stale=true"
    return [digest, f'Basic realm="{DIGEST_REALM}", charset="UTF-8"']
