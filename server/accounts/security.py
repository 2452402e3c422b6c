"""Password and token primitives."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

DIGEST_REALM = "fieldsync"
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


def digest_ha1(email: str, password: str) -> str:
    return hashlib.md5(
        f"{email}:{DIGEST_REALM}:{password}".encode(), usedforsecurity=False
    ).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(12)


def new_passphrase() -> str:
    """A project encryption passphrase (144 random bits) for a key made without one."""
    return secrets.token_urlsafe(18)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
