"""JSON API for sessions, users, roles and app users."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from server import errors
from server.accounts import service
from server.accounts.identity import current_api_token, current_user, login_required
from server.accounts.models import AppUser, Role, User
from server.accounts.permissions import SITE_ADMIN, requires
from server.accounts.schemas import (
    AppUserCreateRequest,
    RoleGrantRequest,
    SessionRequest,
    UserCreateRequest,
)
from server.http import load_json
from server.projects.service import get_project
from server.urls import app_user_url
from server.web import commit, db, runtime

blueprint = Blueprint("accounts_api", __name__, url_prefix="/api/v1")


@blueprint.post("/sessions")
def open_session() -> Any:
    data = load_json(SessionRequest())
    user = service.authenticate_password(db(), data["email"], data["password"])
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
        actor_user_id=actor.id,
    )
    commit()
    return jsonify(_user_json(user)), 201


@blueprint.delete("/users/<email>/sessions")
@login_required
def revoke_user_sessions(email: str) -> Any:
    """Log a user out everywhere: every token they hold (laptops, field hubs) stops working."""
    actor = current_user()
    target = service.get_user_by_email(db(), email)
    # Not a role check: anyone may log themselves out everywhere.
    if not actor.is_site_admin and actor.id != target.id:
        raise errors.forbidden("only site administrators revoke other users' sessions")
    service.revoke_all_sessions(db(), target, actor.id)
    commit()
    return "", 204


@blueprint.put("/projects/<int:project_id>/roles")
@requires(Role.ADMINISTRATOR)
def grant_role(project_id: int) -> Any:
    actor = current_user()
    data = load_json(RoleGrantRequest())
    target = service.get_user_by_email(db(), data["email"])
    service.grant_role(db(), target, get_project(db(), project_id), Role(data["role"]), actor.id)
    commit()
    return jsonify({"email": target.email, "project_id": project_id, "role": data["role"]})


@blueprint.get("/projects/<int:project_id>/app-users")
@requires(Role.COORDINATOR)
def list_app_users(project_id: int) -> Any:
    return jsonify([_app_user_json(a) for a in service.list_app_users(db(), project_id)])


@blueprint.post("/projects/<int:project_id>/app-users")
@requires(Role.COORDINATOR)
def create_app_user(project_id: int) -> Any:
    actor = current_user()
    data = load_json(AppUserCreateRequest())
    issued = service.create_app_user(db(), get_project(db(), project_id), data["name"], actor.id)
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
    }


def _app_user_json(app_user: AppUser) -> dict[str, Any]:
    return {
        "id": app_user.id,
        "project_id": app_user.project_id,
        "name": app_user.display_name,
        "created_at": app_user.created_at.isoformat(),
        "revoked": app_user.revoked_at is not None,
    }
