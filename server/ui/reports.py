"""The Reports page: Article 7, Monitor, 3W/4W and donor reports for a period and an admin
area, drawn from the reports package through :mod:`server.ui.adapters` ("not available"
while it is not installed)."""

from __future__ import annotations

from typing import Any

from flask import request

from server.accounts.models import Role
from server.accounts.permissions import requires
from server.db import utcnow
from server.gazetteer.service import project_areas
from server.ui import adapters
from server.ui.blueprint import blueprint
from server.ui.pages import page
from server.web import db


@blueprint.get("/projects/<int:project_id>/reports")
@requires(Role.VIEWER)
def reports(project_id: int) -> Any:
    names = dict(adapters.REPORTS)
    chosen = request.args.get("report", adapters.REPORTS[0][0])
    chosen = chosen if chosen in names else adapters.REPORTS[0][0]
    period = request.args.get("period", "").strip() or str(utcnow().year)
    area = request.args.get("area", "").strip()
    shown = adapters.report(db(), project_id, chosen, period=period, area=area)
    return page(
        "reports.html",
        reports=adapters.REPORTS,
        chosen=chosen,
        chosen_title=names[chosen],
        period=period,
        area=area,
        areas=project_areas(db(), project_id),
        report=shown,
        print_view=request.args.get("print") == "1",
    )
