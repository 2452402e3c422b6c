"""JSON API for projects: the ones you can see, creating one, granting roles in it. (It lives in
accounts because what a caller sees of projects is decided by their roles; the projects package
below it knows nothing of users, ADR 0007.)"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from server.accounts import service as accounts
from server.accounts.identity import current_user, login_required
from server.accounts.models import Role
from server.accounts.permissions import SITE_ADMIN, current_role, requires
from server.http import load_json
from server.projects import service
from server.projects.models import Project
from server.projects.schemas import ProjectCreateRequest
from server.web import commit, db

blueprint = Blueprint("projects_api", __name__, url_prefix="/api/v1")


@blueprint.get("/projects")
@login_required
def list_projects() -> Any:
    user = current_user()
    projects = service.list_projects(db(), accounts.visible_project_ids(db(), user))
    return jsonify([_project_json(p, accounts.role_in(db(), user, p.id)) for p in projects])


@blueprint.post("/projects")
@requires(SITE_ADMIN, detail="only site administrators create projects")
def create_project() -> Any:
    user = current_user()
    data = load_json(ProjectCreateRequest())
    project = service.create_project(db(), data["name"], data["description"], user.id)
    commit()
    return jsonify(_project_json(project, Role.ADMINISTRATOR)), 201


@blueprint.get("/projects/<int:project_id>")
@requires(Role.VIEWER)
def get_project(project_id: int) -> Any:
    return jsonify(_project_json(service.get_project(db(), project_id), current_role()))


def _project_json(project: Project, role: Role | None) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "created_at": project.created_at.isoformat(),
        "role": role.value if role else None,
    }
