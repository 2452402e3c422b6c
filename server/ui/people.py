"""Users and roles, for site administrators: invite (a first password shown once), roles per
project, disable and enable."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for

from server import errors
from server.accounts import service as accounts
from server.accounts.identity import current_user
from server.accounts.models import Role, User
from server.accounts.permissions import SITE_ADMIN, requires
from server.accounts.security import new_password
from server.projects.service import get_project, list_projects
from server.ui.blueprint import blueprint
from server.ui.pages import page
from server.web import commit, db


def _users(status: int = 200, **context: Any) -> Any:
    return page(
        "users.html",
        people=accounts.list_users_with_roles(db()),
        projects={p.id: p for p in list_projects(db(), None)},
        roles=[r.value for r in Role],
        status=status,
        **context,
    )


@blueprint.get("/users")
@requires(SITE_ADMIN)
def users() -> Any:
    return _users()


@blueprint.post("/users")
@requires(SITE_ADMIN)
def invite() -> Any:
    email = request.form.get("email", "").strip()
    password = new_password()
    try:
        user = accounts.create_user(
            db(),
            email,
            password,
            display_name=request.form.get("display_name", "").strip(),
            actor_user_id=current_user().id,
        )
    except errors.Problem as exc:
        db().rollback()
        return _users(exc.status, problem=exc)
    commit()
    return _users(invited=user, password=password)


def _user(user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None:
        raise errors.not_found("User", f"no user {user_id}")
    return user


@blueprint.post("/users/<int:user_id>/roles")
@requires(SITE_ADMIN)
def set_role(user_id: int) -> Any:
    user = _user(user_id)
    project_id = request.form.get("project", "")
    role = request.form.get("role", "")
    if not project_id.isdigit():
        raise errors.ui_missing_field("project", "choose a project")
    project = get_project(db(), int(project_id))
    if role == "none":
        accounts.remove_role(db(), user, project, actor_user_id=current_user().id)
    elif role in {r.value for r in Role}:
        accounts.grant_role(db(), user, project, Role(role), actor_user_id=current_user().id)
    else:
        raise errors.ui_missing_field("role", "choose a role")
    commit()
    return redirect(url_for("ui.users"), code=303)


@blueprint.post("/users/<int:user_id>/active")
@requires(SITE_ADMIN)
def set_active(user_id: int) -> Any:
    user = _user(user_id)
    accounts.set_active(db(), user, request.form.get("active") == "1", current_user().id)
    commit()
    return redirect(url_for("ui.users"), code=303)
