"""The Reports page: Article 7 (Forms F-I), Monitor, 3W/4W (overlaps highlighted), strategy
progress and donor reports for a period and an admin area, drawn from the reports package
through :mod:`server.ui.adapters`; their downloads are the reports' own renderers (CSV, XLSX,
printable HTML) and the donor report's CSV."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from server import errors
from server.accounts.models import Role
from server.accounts.permissions import current_role, requires
from server.db import utcnow
from server.gazetteer.service import project_areas
from server.submissions.views import READ_ROLES
from server.ui import adapters
from server.ui.blueprint import blueprint, ui_user
from server.ui.pages import page
from server.web import db


def _reader() -> None:
    """Data collectors (the tablets' accounts) send reports and read none, as on the API."""
    if current_role() not in READ_ROLES:
        raise errors.forbidden("data collectors send reports but do not read the coalition's")


def _chosen() -> tuple[str, str, str, int | None]:
    _reader()
    names = dict(adapters.REPORTS)
    chosen = request.args.get("report", adapters.REPORTS[0][0])
    chosen = chosen if chosen in names else adapters.REPORTS[0][0]
    period = request.args.get("period", "").strip() or str(utcnow().year)
    area = request.args.get("area", "").strip()
    donor = request.args.get("donor", "").strip()
    return chosen, period, area, int(donor) if donor.isdigit() else None


@blueprint.get("/projects/<int:project_id>/reports")
@requires(Role.VIEWER)
def reports(project_id: int) -> Any:
    chosen, period, area, donor = _chosen()
    shown = adapters.report(
        db(), project_id, chosen, period=period, area=area, user=ui_user(), donor=donor
    )
    return page(
        "reports.html",
        reports=adapters.REPORTS,
        chosen=chosen,
        chosen_title=dict(adapters.REPORTS)[chosen],
        period=period,
        area=area,
        donor=donor,
        areas=project_areas(db(), project_id),
        report=shown,
        print_view=request.args.get("print") == "1",
    )


@blueprint.get("/projects/<int:project_id>/reports/<any(article7, monitor, '3w', strategy):name>")
@requires(Role.VIEWER)
def report_download(project_id: int, name: str) -> Response:
    """A report in CSV, XLSX or printable HTML, rendered by the reports package."""
    from server.reports import params
    from server.reports.render import RENDERERS

    _, period, area, _ = _chosen()
    args = adapters.report_query(name, period, area)
    fmt = params.output_format({"format": request.args.get("format", "html")}, None)
    built = adapters.build(db(), project_id, name, args)
    response = Response(RENDERERS[fmt](built), mimetype=params.MEDIA_TYPES[fmt])
    if fmt in ("csv", "xlsx"):
        filename = f"{adapters.KINDS[name]}-{built.period.replace(' ', '_')}.{fmt}"
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blueprint.get("/projects/<int:project_id>/reports/donors/<int:donor_id>.csv")
@requires(Role.VIEWER)
def donor_download(project_id: int, donor_id: int) -> Response:
    """The donor report's CSV (a donor-linked user's own donor only; another is a 404)."""
    from server.donors import report
    from server.donors.access import donor_access

    _, period, _, _ = _chosen()
    user = ui_user()
    assert user is not None  # requires() let only a logged-in user through
    donor = donor_access(db(), user, project_id).donor(db(), donor_id)
    year = adapters.donor_year(adapters.report_query("donors", period, ""))
    body = report.donor_report(db(), project_id, donor, year=year)
    response = Response(report.donor_report_csv(body), mimetype="text/csv")
    filename = f"donor-{donor.id}" + (f"-{year}" if year else "")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response
