"""JSON API for sessions, users, roles and app users."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from server import errors
from server.accounts import login, service
from server.accounts.identity import current_api_token, current_user, login_required
from server.accounts.models import AppUser, Role, User
from server.accounts.permissions import SITE_ADMIN, requires
from server.accounts.schemas import (
    AppUserCreateRequest,
    PasswordRequest,
    RoleGrantRequest,
    SessionRequest,
    UserCreateRequest,
    UserUpdateRequest,
    app_user_expiry,
)
from server.http import load_json
from server.projects.service import get_project
from server.urls import app_user_url
from server.web import commit, db, runtime

blueprint = Blueprint("accounts_api", __name__, url_prefix="/api/v1")


@blueprint.post("/sessions")
def open_session() -> Any:
    """Log in (the sync client's ``fieldsync login`` too); throttled per account and address."""
    data = load_json(SessionRequest())
    user_id = login.password_login(
        runtime().session_factory,
        data["email"],
        data["password"],
        request.remote_addr or "",
        scheme="session",
    )
    user = db().get(User, user_id)
    if user is None or not user.is_active:
        raise errors.bad_credentials()
    issued = service.open_session(db(), user, runtime().settings.session_ttl_seconds)
    commit()
    return jsonify({"token": issued.token, "expires_at": issued.expires_at}), 201


@blueprint.delete("/sessions/current")
@login_required
def close_session() -> Any:
    service.revoke_session(db(), current_api_token())
    commit()
    return "", 204


@blueprint.get("/users/current")
@login_required
def who_am_i() -> Any:
    user = current_user()
    return jsonify(_user_json(user))


@blueprint.post("/users")
@requires(SITE_ADMIN, detail="only site administrators create users")
def create_user() -> Any:
    actor = current_user()
    data = load_json(UserCreateRequest())
    user = service.create_user(
        db(),
        data["email"],
        data["password"],
        display_name=data["display_name"],
        digest=data["digest"],
        actor_user_id=actor.id,
    )
    commit()
    return jsonify(_user_json(user)), 201


@blueprint.get("/users/<email>")
@requires(SITE_ADMIN, detail="only site administrators read other users")
def get_user(email: str) -> Any:
    return jsonify(_user_json(service.get_user_by_email(db(), email)))


@blueprint.patch("/users/<email>")
@requires(SITE_ADMIN, detail="only site administrators disable, enable or change users")
def update_user(email: str) -> Any:
    """Disable or enable a user (``active``), turn Digest on or off (``digest``)."""
    actor = current_user()
    data = load_json(UserUpdateRequest())
    target = service.get_user_by_email(db(), email)
    if "active" in data:
        if not data["active"] and target.id == actor.id:
            raise errors.invalid_input({"active": ["you cannot disable yourself"]})
        service.set_active(db(), target, data["active"], actor.id)
    if "digest" in data:
        service.set_digest(db(), target, data["digest"], actor.id)
    commit()
    return jsonify(_user_json(target))


@blueprint.put("/users/<email>/password")
@requires(SITE_ADMIN, detail="only site administrators set other users' passwords")
def set_user_password(email: str) -> Any:
    """Set a new password; the user's API tokens are revoked."""
    actor = current_user()
    data = load_json(PasswordRequest())
    target = service.get_user_by_email(db(), email)
    service.set_password(db(), target, data["password"], actor.id)
    commit()
    return "", 204


@blueprint.delete("/users/<email>/sessions")
@login_required
def revoke_user_sessions(email: str) -> Any:
    """Log a user out everywhere: every token they hold (laptops, field hubs) stops working."""
    actor = current_user()
    # Not a role check: anyone may log themselves out everywhere. Decided before looking the
    # email up, so that the answer does not tell who has an account.
    if not actor.is_site_admin and actor.email != service.normalise_email(email):
        raise errors.forbidden("only site administrators revoke other users' sessions")
    target = service.get_user_by_email(db(), email)
    service.revoke_all_sessions(db(), target, actor.id)
    commit()
    return "", 204


@blueprint.put("/projects/<int:project_id>/roles")
@requires(Role.ADMINISTRATOR)
def grant_role(project_id: int) -> Any:
    actor = current_user()
    data = load_json(RoleGrantRequest())
    target = service.get_user_by_email(db(), data["email"])
    grant = service.grant_role(
        db(),
        target,
        get_project(db(), project_id),
        Role(data["role"]),
        actor.id,
        personal_data=data["personal_data"],
    )
    commit()
    return jsonify(
        {
            "email": target.email,
            "project_id": project_id,
            "role": data["role"],
            "personal_data": grant.personal_data,
        }
    )


@blueprint.delete("/projects/<int:project_id>/roles/<email>")
@requires(Role.ADMINISTRATOR)
def remove_role(project_id: int, email: str) -> Any:
    """Take a user's role in the project away (offboarding); 404 when they had none."""
    actor = current_user()
    target = service.get_user_by_email(db(), email)
    service.remove_role(db(), target, get_project(db(), project_id), actor.id)
    commit()
    return "", 204


@blueprint.get("/projects/<int:project_id>/app-users")
@requires(Role.COORDINATOR)
def list_app_users(project_id: int) -> Any:
    return jsonify([_app_user_json(a) for a in service.list_app_users(db(), project_id)])


@blueprint.post("/projects/<int:project_id>/app-users")
@requires(Role.COORDINATOR)
def create_app_user(project_id: int) -> Any:
    actor = current_user()
    data = load_json(AppUserCreateRequest())
    issued = service.create_app_user(
        db(),
        get_project(db(), project_id),
        data["name"],
        actor.id,
        expires_at=app_user_expiry(data.get("expires_at"), data.get("expires_in_days")),
    )
    commit()
    body = _app_user_json(issued.app_user)
    body["token"] = issued.token
    body["server_url"] = app_user_url(request.host_url, issued.token, project_id)
    return jsonify(body), 201


@blueprint.delete("/projects/<int:project_id>/app-users/<int:app_user_id>")
@requires(Role.COORDINATOR)
def revoke_app_user(project_id: int, app_user_id: int) -> Any:
    actor = current_user()
    app_user = service.get_app_user(db(), app_user_id, project_id)
    service.revoke_app_user(db(), app_user, actor.id)
    commit()
    return "", 204


def _user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "site_admin": user.is_site_admin,
        "active": user.is_active,
        "digest": user.digest_enabled,
    }


def _app_user_json(app_user: AppUser) -> dict[str, Any]:
    return {
        "id": app_user.id,
        "project_id": app_user.project_id,
        "name": app_user.display_name,
        "created_at": app_user.created_at.isoformat(),
        "revoked": app_user.revoked_at is not None,
        "expires_at": app_user.expires_at.isoformat() if app_user.expires_at else None,
        "active": service.app_user_usable(app_user),
    }
