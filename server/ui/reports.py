"""The Reports page: Article 7 (Forms F-I), Monitor, 3W/4W (overlaps highlighted), strategy
progress and donor reports for a period and an admin area, drawn from the reports package
through :mod:`server.ui.adapters`; their downloads are the reports' own renderers (CSV, XLSX,
printable HTML) and the donor report's CSV.

A user linked to a donor of the project (``server.donors``: a donor's programme officer) opens
the page with no project role, or with one that reads no report (a data collector): they are
shown the donor report alone, and only their own donor's (:func:`_donor_only`)."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from server import errors
from server.accounts.models import Role
from server.accounts.permissions import current_role, require, requires
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


def _donor_only(project_id: int) -> bool:
    """Whether the caller reads the donor report alone: a user linked to a donor of the project
    whose role (none, or a data collector's) reads no other report. Anyone else needs a role
    that reads reports, as :func:`_reader` says.

    Raises:
        Problem: 401 without a login; 404 for a project the caller has no role and no donor
            in; 403 for a data collector who speaks for no donor.
    """
    from server.donors import members

    user = ui_user()
    try:
        require(Role.VIEWER, project_id)
    except errors.Problem as exc:
        if user is None or exc.status != 404:
            raise
        if not members.linked_donor_ids(db(), user, project_id):
            raise
        return True
    if current_role() in READ_ROLES:
        return False
    assert user is not None  # require() let only a logged-in user through
    if members.linked_donor_ids(db(), user, project_id):
        return True
    _reader()
    return False


def _chosen(*, donor_only: bool = False) -> tuple[str, str, str, int | None]:
    if not donor_only:
        _reader()
    names = dict(adapters.REPORTS)
    chosen = request.args.get("report", adapters.REPORTS[0][0])
    chosen = chosen if chosen in names else adapters.REPORTS[0][0]
    if donor_only:
        chosen = "donors"
    period = request.args.get("period", "").strip() or str(utcnow().year)
    area = request.args.get("area", "").strip()
    donor = request.args.get("donor", "").strip()
    return chosen, period, area, int(donor) if donor.isdigit() else None


@blueprint.get("/projects/<int:project_id>/reports")
def reports(project_id: int) -> Any:
    donor_only = _donor_only(project_id)
    chosen, period, area, donor = _chosen(donor_only=donor_only)
    shown = adapters.report(
        db(), project_id, chosen, period=period, area=area, user=ui_user(), donor=donor
    )
    listed = [r for r in adapters.REPORTS if r[0] == "donors"] if donor_only else adapters.REPORTS
    return page(
        "reports.html",
        reports=listed,
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
def donor_download(project_id: int, donor_id: int) -> Response:
    """The donor report's CSV (a donor-linked user's own donor only; another is a 404)."""
    from server.donors import report
    from server.donors.access import donor_access

    _, period, _, _ = _chosen(donor_only=_donor_only(project_id))
    user = ui_user()
    assert user is not None  # requires() let only a logged-in user through
    donor = donor_access(db(), user, project_id).donor(db(), donor_id)
    year = adapters.donor_year(adapters.report_query("donors", period, ""))
    body = report.donor_report(db(), project_id, donor, year=year)
    response = Response(report.donor_report_csv(body), mimetype="text/csv")
    filename = f"donor-{donor.id}" + (f"-{year}" if year else "")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response
