"""Where the UI meets parts built apart from it: the reports (``server.reports``) and the
personal-data rules (``server.personal``). Each is one small function here; until its package
is wired in it answers ``None`` and the page says "not available" instead of guessing. Wiring a
package in means replacing the body of its function with a call to that package.

The personal-data rules are wired in: a page shows a form's answers through the same guard as
the JSON API (:func:`server.forms.personal.submission_guard`).

The reports are wired in: :func:`report` builds them with ``server.reports`` (and the donor
report with ``server.donors``) and turns their tables into rows the page draws, with the cells
as the reports' own outputs show them; nothing is computed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from server.accounts.models import User
from server.db import utcnow
from server.exports.service import personal_columns_dropped
from server.exports.tables import ColumnAction, ColumnPolicy, Field, keep_everything
from server.forms.models import Form
from server.forms.personal import submission_guard
from server.personal.fields import is_personal_name
from server.personal.guard import FormGuard
from server.reports.document import Report, row_cells
from server.reports.who_what_where import WORK_KINDS

# The reports the coalition asked for, in the order the Reports page lists them.
REPORTS = (
    ("article7", "CCM Article 7 transparency report"),
    ("monitor", "Landmine and Cluster Munition Monitor figures"),
    ("3w", "3W/4W: who does what where"),
    ("strategy", "National strategy: progress against targets"),
    ("donors", "Donor report"),
)
# The page's name of a report -> the reports package's.
KINDS = {"article7": "article7", "monitor": "monitor", "3w": "who-what-where"}
KINDS["strategy"] = "strategy"
# The reports the admin-area filter narrows (Article 7 and the Monitor cover the country).
BY_AREA = frozenset({"who-what-where", "strategy"})
DOWNLOADS = ("csv", "xlsx", "html")


@dataclass
class TableView:
    """One table of a report as the page draws it (cells already as the outputs show them:
    a suppressed count is ``<5`` with the project's minimum)."""

    title: str
    section: str
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    highlighted: set[int] = field(default_factory=set)  # row indexes (3W/4W overlaps)


@dataclass
class ReportView:
    """A report as tables (what the Reports page draws)."""

    title: str
    period: str = ""
    tables: list[TableView] = field(default_factory=list)
    downloads: dict[str, str] = field(default_factory=dict)  # format -> URL under the page
    notes: list[str] = field(default_factory=list)
    min_cell_size: int = 5
    donors: list[tuple[int, str]] = field(default_factory=list)  # the donors one may open
    problem: str = ""  # why the report could not be built (a bad period, an unknown area)


def report_query(name: str, period: str, area: str) -> dict[str, str]:
    """The reports package's query for the page's period and admin area. The period is written
    ``2026``, ``2026-Q2``, ``2026-03`` or ``2026-01-01/2026-06-30`` (either end may be left
    empty); the package checks it."""
    text = period.strip()
    args: dict[str, str] = {}
    if "/" in text:
        start, _, end = text.partition("/")
        args |= {k: v.strip() for k, v in (("from", start), ("to", end)) if v.strip()}
    elif "-Q" in text.upper():
        args["quarter"] = text.upper()
    elif text.count("-") == 1:
        args["month"] = text
    else:
        args["year"] = text
    if area and KINDS.get(name) in BY_AREA:
        args["admin"] = area
    return args


def build(session: Session, project_id: int, name: str, args: dict[str, str]) -> Report:
    """The reports package's report for the page's query (raises its Problems)."""
    from server.projects.service import get_project
    from server.reports import params, service

    kind = KINDS[name]
    if kind == "strategy":
        # Progress up to the end of the chosen period (never past today).
        today = utcnow().date()
        periodic = {k: v for k, v in args.items() if k != "admin"}
        chosen = params.parse_period(
            periodic, allowed=frozenset({"year", "quarter", "month", "range"}), today=today
        )
        args = {"as_of": min(chosen.end, today).isoformat()} | (
            {"admin": args["admin"]} if "admin" in args else {}
        )
    return service.build(session, get_project(session, project_id), kind, args)


def report(
    session: Session,
    project_id: int,
    name: str,
    *,
    period: str,
    area: str,
    user: User | None = None,
    donor: int | None = None,
) -> ReportView | None:
    """A report's figures for the period and admin area, as tables; for the donor report, the
    donors the user may open (a donor-linked user only their own) and the chosen one's report."""
    from server.errors import Problem

    title = dict(REPORTS)[name]
    args = report_query(name, period, area)
    try:
        if name == "donors":
            return _donor_view(session, project_id, user, donor, args, title, period)
        built = build(session, project_id, name, args)
    except Problem as problem:
        return ReportView(title, problem=str(problem))
    view = ReportView(built.title, built.period, min_cell_size=built.min_cell_size)
    page_query = {"period": period, "area": area}
    view.downloads = {
        fmt: f"{name}?{urlencode({**page_query, 'format': fmt})}" for fmt in DOWNLOADS
    }
    if area and KINDS[name] not in BY_AREA:
        view.notes.append("This report covers the whole country: the admin area is not used.")
    overlapping = _overlapping(built.data.get("overlaps", []))
    for table in built.tables:
        shown = TableView(table.title, table.section, list(table.columns))
        for index, row in enumerate(table.rows):
            shown.rows.append(row_cells(row, table.columns, built.min_cell_size))
            key = (row.get("operator"), row.get("admin1"), row.get("admin2"))
            if table.name == "overlaps" or (
                table.name == "rows" and row.get("activity") in WORK_KINDS and key in overlapping
            ):
                shown.highlighted.add(index)
        view.tables.append(shown)
    return view


def _overlapping(overlaps: list[dict[str, Any]]) -> set[tuple[Any, Any, Any]]:
    """The (operator, province, district) of each operator named in an overlap."""
    return {(op, o.get("admin1"), o.get("admin2")) for o in overlaps for op in o["operators"]}


def _donor_view(
    session: Session,
    project_id: int,
    user: User | None,
    donor_id: int | None,
    args: dict[str, str],
    title: str,
    period: str,
) -> ReportView:
    from server.donors import report as donor_report
    from server.donors import service as donors
    from server.donors.access import donor_access
    from server.errors import not_found

    if user is None:
        raise not_found("Project")
    access = donor_access(session, user, project_id)
    listed = donors.list_donors(session, project_id, access.donor_ids)
    view = ReportView(title, donors=[(d.id, d.name) for d in listed])
    if donor_id is None and access.donor_ids is not None and len(listed) == 1:
        donor_id = listed[0].id
    if donor_id is None:
        view.notes.append("Choose a donor to see the outputs of what it funded.")
        return view
    donor = access.donor(session, donor_id)
    year = donor_year(args)
    body = donor_report.donor_report(session, project_id, donor, year=year)
    view.title = f"{title}: {donor.name}"
    view.period = str(year) if year else ""
    if year is None:
        view.notes.append("The donor report takes a year; without one it covers every year.")
    columns = list(donor_report.CSV_COLUMNS)
    agreements = TableView("Outputs by funding agreement", "Outputs", columns)
    for item in body["agreements"]:
        head = [item["iati_identifier"], item["title"], item["period_start"], item["period_end"]]
        agreements.rows.append(head + [item["outputs"][c] for c in columns[4:]])
    agreements.rows.append(["total", "", "", ""] + [body["totals"][c] for c in columns[4:]])
    funding_columns = ["currency", "commitment", "disbursement", "expenditure"]
    funding = TableView("Funding by currency", "Funding", funding_columns)
    funding.rows = [[row.get(c, 0) for c in funding_columns] for row in body["funding"]]
    view.tables = [agreements, funding]
    view.downloads = {"csv": f"donors/{donor.id}.csv?{urlencode({'period': view.period})}"}
    return view


def donor_year(args: dict[str, str]) -> int | None:
    """The donor report's year: the page's period must be a year (raises the package's
    ``report.bad_filter`` otherwise)."""
    from server.reports import params

    if not args.get("year"):
        return None
    chosen = params.parse_period(
        {k: v for k, v in args.items() if k != "admin"},
        allowed=frozenset({"year"}),
        today=utcnow().date(),
    )
    return chosen.start.year


@dataclass(frozen=True)
class PersonalRules:
    """What the personal-data rules say about a form for the caller's role."""

    fields: frozenset[str]  # paths of the personal fields (marked on every page)
    policy: ColumnPolicy  # drops or pseudonymises them in tables, as in exports
    guard: FormGuard | None = None  # the caller's view of the form's submissions


def personal_rules(
    session: Session, form: Form, form_fields: list[Field], role: str
) -> PersonalRules | None:
    """The personal fields of a form and how the request's caller sees them: the fields are
    marked for everyone; their values are left out unless the caller is a survivor caseworker
    (``server.personal``), whatever their ``role``."""
    guard = submission_guard(session, form)
    marked = guard.paths | {f.path for f in form_fields if is_personal_name(f.path)}
    policy = (
        keep_everything
        if guard.access.may_read
        else personal_columns_dropped(frozenset(marked), keep_everything)
    )
    return PersonalRules(frozenset(marked), policy, guard)


def column_policy(rules: PersonalRules | None) -> ColumnPolicy:
    return rules.policy if rules is not None else keep_everything


def hidden_paths(rules: PersonalRules | None, fields: list[Field], role: str) -> frozenset[str]:
    """The fields whose values a page must not show to ``role`` (dropped or pseudonymised in
    exports): the same decision as the export's, field by field."""
    if rules is None:
        return frozenset()
    return frozenset(f.path for f in fields if rules.policy(f, role) is not ColumnAction.KEEP)
