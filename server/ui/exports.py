"""The Exports page: download buttons for every form (with the export's options) and entity
list. The downloads are the JSON API's exports, unchanged."""

from __future__ import annotations

from typing import Any

from server import errors
from server.accounts.models import Role
from server.accounts.permissions import requires
from server.entities import records
from server.exports import views as exports_api
from server.exports.options import ExportFormat
from server.forms import service as forms
from server.ui.blueprint import blueprint
from server.ui.pages import page
from server.web import db

FORMATS = {f.value: f for f in ExportFormat}


@blueprint.get("/projects/<int:project_id>/exports")
@requires(Role.VIEWER)
def exports(project_id: int) -> Any:
    return page(
        "exports.html",
        forms=forms.list_forms(db(), project_id),
        lists=records.lists(db(), project_id),
        formats=list(FORMATS),
    )


@blueprint.get("/projects/<int:project_id>/forms/<form_id>/export.<fmt>")
@requires(Role.VIEWER)
def export(project_id: int, form_id: str, fmt: str) -> Any:
    if fmt not in FORMATS:
        raise errors.not_found("Export format", f"no export format {fmt!r}")
    return exports_api.export_response(project_id, form_id, FORMATS[fmt])


@blueprint.get("/projects/<int:project_id>/entities/<list_name>/entities.csv")
@requires(Role.VIEWER)
def export_entities(project_id: int, list_name: str) -> Any:
    return exports_api.entity_list_csv(project_id=project_id, list_name=list_name)
