"""JSON API for projects."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from server import errors
from server.accounts import service as accounts
from server.accounts.models import Role
from server.http import load_json
from server.projects import service
from server.projects.models import Project
from server.projects.schemas import ProjectCreateRequest
from server.web import commit, current_user, db, login_required

blueprint = Blueprint("projects_api", __name__, url_prefix="/api/v1")


@blueprint.get("/projects")
@login_required
def list_projects() -> Any:
    user = current_user()
    projects = service.list_projects(db(), accounts.visible_project_ids(db(), user))
    return jsonify([_project_json(p, accounts.role_in(db(), user, p.id)) for p in projects])


@blueprint.post("/projects")
@login_required
def create_project() -> Any:
    user = current_user()
    if not user.is_site_admin:
        raise errors.forbidden("only site administrators create projects")
    data = load_json(ProjectCreateRequest())
    project = service.create_project(db(), data["name"], data["description"], user.id)
    commit()
    return jsonify(_project_json(project, Role.ADMINISTRATOR)), 201


@blueprint.get("/projects/<int:project_id>")
@login_required
def get_project(project_id: int) -> Any:
    role = accounts.require_role(db(), current_user(), project_id, Role.VIEWER)
    return jsonify(_project_json(service.get_project(db(), project_id), role))


def _project_json(project: Project, role: Role | None) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "created_at": project.created_at.isoformat(),
        "role": role.value if role else None,
    }
