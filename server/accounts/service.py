"""Account operations: users, roles, sessions and app users.

Every function works inside the caller's transaction and raises :class:`server.errors.Problem`
for what the caller did wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import errors
from server.accounts.models import (
    ROLE_RANK,
    ApiToken,
    AppUser,
    ProjectRole,
    Role,
    User,
)
from server.accounts.security import (
    MIN_PASSWORD_LENGTH,
    digest_ha1,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from server.audit import service as audit
from server.db import utcnow
from server.projects.models import Project


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    email: str,
    password: str,
    *,
    display_name: str = "",
    site_admin: bool = False,
    digest: bool = False,
    actor_user_id: int | None = None,
) -> User:
    """Create a user; ``digest`` lets them log in with HTTP Digest (their HA1 is then kept).

    Raises:
        Problem: the email is taken (409) or the password is too short (400).
    """
    email = normalise_email(email)
    if "@" not in email or len(email) > 320:
        raise errors.invalid_input({"email": ["not a valid email address"]})
    if len(password) < MIN_PASSWORD_LENGTH:
        raise errors.invalid_input(
            {"password": [f"must be at least {MIN_PASSWORD_LENGTH} characters"]}
        )
    user = User(
        email=email,
        display_name=display_name or email.split("@")[0],
        password_hash=hash_password(password),
        digest_ha1=digest_ha1(email, password) if digest else None,
        digest_enabled=digest,
        is_site_admin=site_admin,
    )
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise errors.user_exists(email) from None
    audit.record(
        session, "user.create", user_id=actor_user_id, target_type="user", target_id=user.id
    )
    return user


def set_password(
    session: Session, user: User, password: str, actor_user_id: int | None = None
) -> int:
    """Replace a user's password (a reset, or offboarding a shared account) and revoke their
    API tokens, which were handed out against the old one; returns how many were revoked.

    Raises:
        Problem: 400 when the password is too short.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise errors.invalid_input(
            {"password": [f"must be at least {MIN_PASSWORD_LENGTH} characters"]}
        )
    user.password_hash = hash_password(password)
    user.digest_ha1 = digest_ha1(user.email, password) if user.digest_enabled else None
    audit.record(
        session,
        "user.password",
        user_id=actor_user_id if actor_user_id is not None else user.id,
        target_type="user",
        target_id=user.id,
    )
    return _revoke_tokens(session, user)


def set_active(session: Session, user: User, active: bool, actor_user_id: int | None = None) -> int:
    """Disable (offboard) or enable a user. Disabling revokes every API token they hold; from
    then on Bearer, Basic, Digest and the sync API refuse them. Returns the tokens revoked."""
    revoked = 0
    if user.is_active != active:
        user.is_active = active
        audit.record(
            session,
            "user.enable" if active else "user.disable",
            user_id=actor_user_id,
            target_type="user",
            target_id=user.id,
        )
    if not active:
        revoked = _revoke_tokens(session, user)
    return revoked


def set_digest(
    session: Session, user: User, enabled: bool, actor_user_id: int | None = None
) -> None:
    """Turn HTTP Digest on or off for a user. Off drops the stored HA1; on keeps it from the
    next time the password is set or used (Basic or ``POST /api/v1/sessions``), because HA1
    needs the password, which the server does not keep."""
    if user.digest_enabled == enabled:
        return
    user.digest_enabled = enabled
    if not enabled:
        user.digest_ha1 = None
    audit.record(
        session,
        "user.digest_on" if enabled else "user.digest_off",
        user_id=actor_user_id,
        target_type="user",
        target_id=user.id,
    )


def _revoke_tokens(session: Session, user: User) -> int:
    now = utcnow()
    rows = list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        )
    )
    for row in rows:
        row.revoked_at = now
    return len(rows)


def grant_role(
    session: Session,
    user: User,
    project: Project,
    role: Role,
    actor_user_id: int | None = None,
    *,
    personal_data: bool | None = None,
) -> ProjectRole:
    """Give ``user`` ``role`` in ``project``, replacing any role they had there.
    ``personal_data`` sets or clears the survivor caseworker permission (None keeps it)."""
    existing = session.scalars(
        select(ProjectRole).where(
            ProjectRole.user_id == user.id, ProjectRole.project_id == project.id
        )
    ).first()
    if existing:
        existing.role = role.value
        grant = existing
    else:
        grant = ProjectRole(user_id=user.id, project_id=project.id, role=role.value)
        session.add(grant)
    if personal_data is not None:
        grant.personal_data = personal_data
    audit.record(
        session,
        "role.grant",
        project_id=project.id,
        user_id=actor_user_id,
        target_type="user",
        target_id=user.id,
        role=role.value,
        personal_data=bool(grant.personal_data),
    )
    return grant


def holds_personal_data(session: Session, user_id: int, project_id: int) -> bool:
    """Whether the user is a survivor caseworker in the project (may read personal data)."""
    return bool(
        session.scalar(
            select(ProjectRole.personal_data).where(
                ProjectRole.user_id == user_id, ProjectRole.project_id == project_id
            )
        )
    )


def remove_role(
    session: Session, user: User, project: Project, actor_user_id: int | None = None
) -> Role:
    """Take away the user's role in ``project``; returns the role they had.

    Raises:
        Problem: 404 when they had no role there.
    """
    grant = session.scalars(
        select(ProjectRole).where(
            ProjectRole.user_id == user.id, ProjectRole.project_id == project.id
        )
    ).first()
    if grant is None:
        raise errors.not_found("Role", f"{user.email} has no role in project {project.id}")
    session.delete(grant)
    audit.record(
        session,
        "role.remove",
        project_id=project.id,
        user_id=actor_user_id,
        target_type="user",
        target_id=user.id,
        role=grant.role,
    )
    return Role(grant.role)


def find_user_by_email(session: Session, email: str) -> User | None:
    """The user with this email (compared as :func:`normalise_email` writes it), or None."""
    return session.scalars(select(User).where(User.email == normalise_email(email))).first()


def get_user_by_email(session: Session, email: str) -> User:
    """Raises: Problem 404 when no user has this email."""
    user = find_user_by_email(session, email)
    if user is None:
        raise errors.not_found("User", f"no user {email}")
    return user


def any_user_exists(session: Session) -> bool:
    return session.scalars(select(User.id).limit(1)).first() is not None


@dataclass(frozen=True)
class UserWithRoles:
    user: User
    roles: list[tuple[int, Role]]  # (project id, role)


def list_users_with_roles(session: Session) -> list[UserWithRoles]:
    """Every user with their project roles, in order of creation (two queries in all)."""
    users = list(session.scalars(select(User).order_by(User.id)))
    roles: dict[int, list[tuple[int, Role]]] = {}
    for user_id, project_id, role in session.execute(
        select(ProjectRole.user_id, ProjectRole.project_id, ProjectRole.role).order_by(
            ProjectRole.id
        )
    ):
        roles.setdefault(user_id, []).append((project_id, Role(role)))
    return [UserWithRoles(user, roles.get(user.id, [])) for user in users]


def roles_held(session: Session, user: User) -> list[Role]:
    """The user's roles across all projects."""
    rows = session.scalars(select(ProjectRole.role).where(ProjectRole.user_id == user.id))
    return [Role(r) for r in rows]


def role_in(session: Session, user: User, project_id: int) -> Role | None:
    """The user's role in a project; site administrators count as administrators everywhere."""
    if user.is_site_admin:
        return Role.ADMINISTRATOR
    value = session.scalar(
        select(ProjectRole.role).where(
            ProjectRole.user_id == user.id, ProjectRole.project_id == project_id
        )
    )
    return Role(value) if value else None


def require_role(session: Session, user: User, project_id: int, minimum: Role) -> Role:
    """Check that the user holds at least ``minimum`` in the project.

    Raises:
        Problem: 404 when the user has no role there (the project's existence is not revealed),
            403 when the role is too weak.
    """
    role = role_in(session, user, project_id)
    if role is None:
        raise errors.not_found("Project")
    if ROLE_RANK[role] < ROLE_RANK[minimum]:
        raise errors.forbidden(f"this needs the {minimum.value} role; you are {role.value}")
    return role


def visible_project_ids(session: Session, user: User) -> list[int] | None:
    """Projects the user may see; None means all (site administrator)."""
    if user.is_site_admin:
        return None
    return list(
        session.scalars(select(ProjectRole.project_id).where(ProjectRole.user_id == user.id))
    )


def authenticate_password(session: Session, email: str, password: str) -> User:
    """Return the active user with these credentials, unthrottled: for trusted callers
    (tests, scripts). Requests log in through :mod:`server.accounts.login`, which counts
    attempts and audits failures.

    Raises:
        Problem: 401 ``auth.bad_credentials``; the same answer for an unknown email and a wrong
            password, so the API does not reveal who has an account.
    """
    user = find_user_by_email(session, email)
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        raise errors.bad_credentials()
    return user


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: str


def open_session(session: Session, user: User, ttl_seconds: int) -> IssuedToken:
    token = new_token()
    expires = utcnow() + timedelta(seconds=ttl_seconds)
    session.add(ApiToken(token_hash=token_hash(token), user_id=user.id, expires_at=expires))
    audit.record(session, "session.open", user_id=user.id, target_type="user", target_id=user.id)
    return IssuedToken(token=token, expires_at=expires.isoformat())


def user_for_token(session: Session, token: str) -> tuple[User, ApiToken]:
    """Resolve a bearer token.

    Raises:
        Problem: 401 ``auth.token_invalid`` for an unknown, expired or revoked token.
    """
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash(token))).first()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise errors.token_invalid()
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise errors.token_invalid()
    return user, row


def revoke_session(session: Session, row: ApiToken) -> None:
    row.revoked_at = utcnow()
    audit.record(
        session, "session.revoke", user_id=row.user_id, target_type="api_token", target_id=row.id
    )


def revoke_all_sessions(session: Session, user: User, actor_user_id: int | None = None) -> int:
    """Revoke every live API token of a user (a lost laptop, a hub taken out of service)."""
    count = _revoke_tokens(session, user)
    audit.record(
        session,
        "session.revoke_all",
        user_id=actor_user_id,
        target_type="user",
        target_id=user.id,
        count=count,
    )
    return count


@dataclass(frozen=True)
class IssuedAppUser:
    app_user: AppUser
    token: str


def create_app_user(
    session: Session,
    project: Project,
    name: str,
    actor_user_id: int | None = None,
    *,
    expires_at: datetime | None = None,
) -> IssuedAppUser:
    """Create a device identity; the token is returned once and only its hash is kept. From
    ``expires_at`` on (when given) the token is refused like a revoked one.

    Raises:
        Problem: 400 for an empty name or an expiry that is not in the future.
    """
    name = name.strip()
    if not name:
        raise errors.invalid_input({"name": ["must not be empty"]})
    if expires_at is not None and expires_at <= utcnow():
        raise errors.invalid_input({"expires_at": ["must be in the future"]})
    token = new_token()
    app_user = AppUser(
        project_id=project.id,
        display_name=name,
        token_hash=token_hash(token),
        created_by_user_id=actor_user_id,
        expires_at=expires_at,
    )
    session.add(app_user)
    session.flush()
    audit.record(
        session,
        "app_user.create",
        project_id=project.id,
        user_id=actor_user_id,
        target_type="app_user",
        target_id=app_user.id,
        name=name,
        expires_at=expires_at.isoformat() if expires_at else None,
    )
    return IssuedAppUser(app_user=app_user, token=token)


def revoke_app_user(session: Session, app_user: AppUser, actor_user_id: int | None = None) -> None:
    if app_user.revoked_at is None:
        app_user.revoked_at = utcnow()
        audit.record(
            session,
            "app_user.revoke",
            project_id=app_user.project_id,
            user_id=actor_user_id,
            target_type="app_user",
            target_id=app_user.id,
        )


def list_app_users(session: Session, project_id: int) -> list[AppUser]:
    """The project's device identities, revoked ones included, in order of creation."""
    return list(
        session.scalars(
            select(AppUser).where(AppUser.project_id == project_id).order_by(AppUser.id)
        )
    )


def get_app_user(session: Session, app_user_id: int, project_id: int | None = None) -> AppUser:
    """Raises: Problem 404 when there is no such app user (in ``project_id``, when given)."""
    row = session.get(AppUser, app_user_id)
    if row is None or (project_id is not None and row.project_id != project_id):
        raise errors.not_found("App user", f"no app user {app_user_id}")
    return row


def app_user_for_token(session: Session, token: str) -> AppUser:
    """Resolve a device token.

    Raises:
        Problem: 403 ``auth.app_user_token_invalid`` (never 401, see errors.py).
    """
    row = session.scalars(select(AppUser).where(AppUser.token_hash == token_hash(token))).first()
    if row is None or not app_user_usable(row):
        raise errors.app_user_token_invalid()
    return row


def app_user_usable(app_user: AppUser) -> bool:
    """Neither revoked nor past its expiry."""
    if app_user.revoked_at is not None:
        return False
    return app_user.expires_at is None or app_user.expires_at > utcnow()
