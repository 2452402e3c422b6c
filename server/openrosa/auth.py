"""Who is calling an OpenRosa route: an app user (device token in the URL) or a user by HTTP
Basic or Digest.

Digest nonces are stateless: a timestamp signed with the app secret, valid for
``NONCE_TTL_SECONDS``; an expired one is answered with ``stale=true`` so Collect retries
silently. See docs/adr/0002-digest-auth.md for why Digest is offered at all.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import Authorization

from server import errors
from server.accounts import service as accounts
from server.accounts.models import AppUser, Role, User
from server.accounts.permissions import allows
from server.accounts.security import DIGEST_REALM, token_hash
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
    # One round trip for the device and its project: this runs on every device request.
    row = session.execute(
        select(AppUser, Project)
        .join(Project, Project.id == AppUser.project_id)
        .where(AppUser.token_hash == token_hash(token))
    ).first()
    if row is None:
        raise errors.app_user_token_invalid()
    app_user, project = row
    if app_user.revoked_at is not None or app_user.project_id != project_id:
        raise errors.app_user_token_invalid()
    return Caller(project=project, app_user=app_user)


def authenticate_user(session: Session, project_id: int, secret: str) -> Caller:
    """Resolve HTTP Basic, Digest or Bearer credentials and the user's role in the project.

    Raises:
        ChallengeRequired: no credentials, wrong ones, or an expired Digest nonce (401).
        Problem: 403 when the user has no role in the project.
    """
    auth = request.authorization
    if auth is None:
        raise ChallengeRequired("log in with your fieldsync email and password")
    if auth.type == "basic":
        user = _basic_user(session, auth)
    elif auth.type == "digest":
        user = _digest_user(session, auth, secret)
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


def _basic_user(session: Session, auth: Authorization) -> User:
    try:
        return accounts.authenticate_password(session, auth.username or "", auth.password or "")
    except Problem:
        raise ChallengeRequired("wrong email or password") from None


def _digest_user(session: Session, auth: Authorization, secret: str) -> User:
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
    user = accounts.find_user_by_email(session, auth.username or "")
    if user is None or not user.is_active:
        raise ChallengeRequired("wrong email or password")
    expected = digest_response(
        user.digest_ha1,
        request.method,
        uri,
        nonce,
        qop=params.get("qop") or None,
        nc=params.get("nc", ""),
        cnonce=params.get("cnonce", ""),
    )
    if expected is None or not hmac.compare_digest(expected, params.get("response", "")):
        raise ChallengeRequired("wrong email or password")
    if nonce_state == "stale":
        # Right password, old nonce: Collect retries with a fresh one without asking anybody.
        raise ChallengeRequired("the login expired; retrying", stale=True)
    return user


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


def _sign(timestamp: str, secret: str) -> str:
    return hmac.new(
        secret.encode(), f"digest-nonce:{timestamp}".encode(), hashlib.sha256
    ).hexdigest()[:32]


def make_nonce(secret: str, now: float | None = None) -> str:
    timestamp = str(int(now if now is not None else time.time()))
    return f"{timestamp}.{_sign(timestamp, secret)}"


def check_nonce(nonce: str, secret: str, now: float | None = None) -> str:
    """``"valid"``, ``"stale"`` (ours but expired) or ``"invalid"`` (not ours)."""
    timestamp, _, signature = nonce.partition(".")
    if not timestamp.isdigit() or not hmac.compare_digest(signature, _sign(timestamp, secret)):
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
