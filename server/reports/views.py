"""The report routes under ``/api/v1/projects/<id>/reports``.

Reading a report takes the viewer role or above (viewer, coordinator, administrator): the
figures are aggregates with no personal field, but data collectors (the tablets' accounts)
send reports and read none, as with exports. Strategy targets and taskings are managed by
coordinators and administrators; the report settings by administrators. A project the caller
has no role in is a 404, so nothing is computed over data they may not read.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from server import errors, http
from server.accounts.models import Role
from server.accounts.permissions import current_role, requires
from server.projects.service import get_project
from server.reports import params, service
from server.reports.render import RENDERERS
from server.reports.schemas import SettingsRequest, TargetRequest, TaskingRequest
from server.reports.strategy import NewTarget
from server.submissions.views import READ_ROLES
from server.web import commit, db

blueprint = Blueprint(
    "reports_api", __name__, url_prefix="/api/v1/projects/<int:project_id>/reports"
)


def _reader() -> None:
    if current_role() not in READ_ROLES:
        raise errors.forbidden("data collectors send reports but do not read the coalition's")


@blueprint.get("/<any(article7, monitor, 'who-what-where', strategy):kind>")
@requires(Role.VIEWER)
def report(project_id: int, kind: str) -> Response:
    _reader()
    args = request.args.to_dict()
    fmt = params.output_format(args, request.headers.get("Accept"))
    built = service.build(db(), get_project(db(), project_id), kind, args)
    body = RENDERERS[fmt](built)
    response = Response(body, mimetype=params.MEDIA_TYPES[fmt])
    if fmt in ("csv", "xlsx"):
        name = f"{kind}-{built.period.replace(' ', '_')}.{fmt}"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@blueprint.get("/settings")
@requires(Role.VIEWER)
def get_settings(project_id: int) -> Any:
    _reader()
    return jsonify(vars(service.settings_of(db(), project_id)))


@blueprint.put("/settings")
@requires(Role.ADMINISTRATOR)
def put_settings(project_id: int) -> Any:
    body = http.load_json(SettingsRequest())
    settings = service.update_settings(db(), project_id, **body)
    commit()
    return jsonify(vars(settings))


@blueprint.get("/strategy/targets")
@requires(Role.VIEWER)
def list_targets(project_id: int) -> Any:
    _reader()
    return jsonify([service.target_json(t) for t in service.list_targets(db(), project_id)])


@blueprint.post("/strategy/targets")
@requires(Role.COORDINATOR)
def add_target(project_id: int) -> Any:
    body = http.load_json(TargetRequest())
    row = service.add_target(db(), project_id, NewTarget(**body))
    answer = service.target_json(row)
    commit()
    return jsonify(answer), 201


@blueprint.delete("/strategy/targets/<int:target_id>")
@requires(Role.COORDINATOR)
def remove_target(project_id: int, target_id: int) -> Any:
    service.remove_target(db(), project_id, target_id)
    commit()
    return "", 204


@blueprint.get("/taskings")
@requires(Role.VIEWER)
def list_taskings(project_id: int) -> Any:
    _reader()
    return jsonify([service.tasking_json(t) for t in service.list_taskings(db(), project_id)])


@blueprint.post("/taskings")
@requires(Role.COORDINATOR)
def add_tasking(project_id: int) -> Any:
    body = http.load_json(TaskingRequest())
    row = service.add_tasking(db(), project_id, **body)
    answer = service.tasking_json(row)
    commit()
    return jsonify(answer), 201
