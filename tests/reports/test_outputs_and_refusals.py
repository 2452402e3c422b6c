"""The outputs (CSV, XLSX, HTML, chosen by ?format= or Accept), the refusals (problem+json
with the parameter named), who may read reports, the command line, and the reporting tables
following edits and reviews."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import func, select

from server.accounts.models import Role
from server.cli import main
from server.db import transaction
from server.reports import facts
from server.reports.models import ReportFact, ReportItem
from tests.reports.conftest import HA, Coalition, area_report

KM2 = ["cancelled_km2", "reduced_km2", "cleared_km2"]


def _csv_tables(text: str) -> dict[str, list[list[str]]]:
    tables: dict[str, list[list[str]]] = {}
    name = ""
    for row in csv.reader(io.StringIO(text)):
        if row and row[0].startswith("# table: "):
            name = row[0].removeprefix("# table: ")
            tables[name] = []
        elif row:
            tables[name].append(row)
    return tables


def test_csv_xlsx_and_html(coalition: Coalition) -> None:
    answer = coalition.get("/reports/article7?year=2026&format=csv")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    tables = _csv_tables(answer.get_data(as_text=True))
    assert tables["form_f.land_released"] == [
        ["admin1", "admin2", "cancelled_m2", "reduced_m2", "cleared_m2", *KM2],
        ["LA09", "LA0901", "2000.0", "0.0", "3000.0", "0.002", "0.0", "0.003"],
        ["LA09", "LA0902", "0.0", "5000.0", "11000.0", "0.0", "0.005", "0.011"],
        ["LA15", "LA1501", "1000.0", "0.0", "4000.0", "0.001", "0.0", "0.004"],
    ]
    assert tables["form_h.casualties"][1:3] == [
        ["injured", "female", "adult", "civilian", "<5"],
        ["injured", "male", "adult", "civilian", "5"],
    ]
    # The same choice through Accept.
    by_accept = coalition.get("/reports/monitor?year=2026", Accept="text/csv")
    assert by_accept.mimetype == "text/csv"
    assert "# table: land_released" in by_accept.get_data(as_text=True)

    xlsx = coalition.get("/reports/article7?year=2026&format=xlsx")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(xlsx.data))
    assert book.sheetnames[0] == "Cover"
    cover = {r[0]: r[1] for r in book["Cover"].iter_rows(min_row=2, values_only=True)}
    assert cover["project"] == "Coalition reports"
    assert cover["period"] == "2026"
    assert cover["approved reports only"] == "yes"
    assert cover["filter used"] == "year=2026"
    assert cover["generated at"]
    assert "form_f.contaminated_areas" in book.sheetnames
    totals = list(book["form_f.totals"].iter_rows(min_row=2, values_only=True))
    assert dict(zip(totals[0], totals[1], strict=True))["submunitions_destroyed"] == 16
    casualties = list(book["form_h.casualties"].iter_rows(min_row=3, values_only=True))
    assert casualties[0] == ("injured", "female", "adult", "civilian", "<5")

    html = coalition.get("/reports/article7?year=2026", Accept="text/html")
    assert html.mimetype == "text/html"
    page = html.get_data(as_text=True)
    # One printed page per form: a section with a page break before each of F, G, H, I.
    assert page.count("<section class='form'>") == 4
    assert "page-break-before:always" in page
    assert "&lt;5" in page and "Approved reports only".lower() in page.lower()


REFUSALS = [
    ("/reports/article7", 400, "report.bad_period", None),
    ("/reports/article7?year=26", 400, "report.bad_period", None),
    ("/reports/article7?year=2026&quarter=2026-Q1", 400, "report.bad_filter", "quarter"),
    ("/reports/article7?year=2026&admin=LA09", 400, "report.bad_filter", "admin"),
    ("/reports/article7?year=2026&approved_only=maybe", 400, "report.bad_filter", "approved_only"),
    ("/reports/article7?year=2026&format=pdf", 400, "report.bad_filter", "format"),
    ("/reports/who-what-where?quarter=2026-Q5", 400, "report.bad_period", None),
    ("/reports/who-what-where?month=2026-13", 400, "report.bad_period", None),
    ("/reports/who-what-where?from=2026-05-01&to=2026-04-01", 400, "report.bad_period", None),
    ("/reports/who-what-where?year=2026&month=2026-03", 400, "report.bad_period", None),
    ("/reports/who-what-where?year=2026&admin=LA99", 404, "report.unknown_admin_area", None),
    ("/reports/who-what-where?year=2026&operator=Acme", 404, "report.unknown_operator", None),
    ("/reports/strategy?as_of=yesterday", 400, "report.bad_period", None),
    ("/reports/donors", 404, "not_found", None),
]  # fmt: skip


def test_refusals_name_what_is_wrong(coalition: Coalition) -> None:
    for query, status, code, parameter in REFUSALS:
        answer = coalition.get(query)
        assert answer.status_code == status, (query, answer.data)
        assert answer.mimetype == "application/problem+json", query
        body = answer.get_json()
        assert body["code"] == code, query
        if parameter is not None:
            assert body["parameter"] == parameter, query
            assert parameter in body["detail"], query


def test_who_may_read_reports(coalition: Coalition, factories: object) -> None:
    from tests.factories import Factories

    assert isinstance(factories, Factories)
    assert coalition.get("/reports/monitor?year=2026", Accept="application/xml").status_code == 406
    collector = factories.logged_in(coalition.project, Role.DATA_COLLECTOR)
    assert coalition.get("/reports/monitor?year=2026", who=collector).status_code == 403
    stranger = factories.login(factories.user())
    # Another project's reports are not there for a stranger: 404, no figure.
    refused = coalition.get("/reports/article7?year=2026", who=stranger)
    assert refused.status_code == 404 and "form_f" not in refused.get_data(as_text=True)
    assert coalition.client.get(coalition.api("/reports/article7?year=2026")).status_code == 401
    # Viewers read but do not change settings or targets.
    denied = coalition.client.put(
        coalition.api("/reports/settings"),
        json={"min_cell_size": 1},
        headers=coalition.viewer.headers,
    )
    assert denied.status_code == 403


def _env(app: Flask) -> dict[str, str]:
    settings = app.extensions["fieldsync"].settings
    return {
        "DATABASE_URL": settings.database_url,
        "FIELDSYNC_DATA_DIR": str(settings.data_dir),
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }


def test_the_command_line_writes_a_report_and_rebuilds_the_tables(
    app: Flask, coalition: Coalition, tmp_path: Path
) -> None:
    out = tmp_path / "a7.json"
    project = ["--project", str(coalition.project.id)]
    run = CliRunner().invoke(
        main, ["reports", "build", "article7", *project, "--year", "2026", "--out", str(out)],
        env=_env(app), catch_exceptions=False,
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert json.loads(out.read_text())["form_f"]["totals"]["cleared_m2"] == 18000.0
    every = tmp_path / "a7-all.json"
    run = CliRunner().invoke(
        main,
        ["reports", "build", "article7", *project, "--year", "2026", "--all-reports", "--out",
         str(every)],
        env=_env(app), catch_exceptions=False,
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert json.loads(every.read_text())["form_f"]["totals"]["cleared_m2"] == 21000.0
    bad = CliRunner().invoke(
        main, ["reports", "build", "monitor", *project, "--year", "20x6"], env=_env(app)
    )
    assert bad.exit_code != 0 and "year" in bad.output
    target = CliRunner().invoke(
        main,
        ["reports", "target", "add", *project, "--label", "All cleared", "--metric",
         "cleared_m2", "--value", "100000", "--start", "2026-01-01", "--by", "2030-12-31"],
        env=_env(app), catch_exceptions=False,
    )  # fmt: skip
    assert target.exit_code == 0, target.output
    listed = CliRunner().invoke(main, ["reports", "target", "list", *project], env=_env(app))
    assert "All cleared\tnational\tcleared_m2\t100000" in listed.output

    runtime = app.extensions["fieldsync"]
    with runtime.session_factory() as session:
        before = session.execute(
            select(func.count(ReportFact.id), func.sum(ReportFact.cleared_m2))
        ).one()
        items = session.scalar(select(func.count(ReportItem.id)))
    rebuilt = CliRunner().invoke(main, ["reports", "rebuild-facts", *project], env=_env(app))
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"{before[0]} submissions read" in rebuilt.output
    with runtime.session_factory() as session:
        after = session.execute(
            select(func.count(ReportFact.id), func.sum(ReportFact.cleared_m2))
        ).one()
        assert tuple(after) == tuple(before)
        assert session.scalar(select(func.count(ReportItem.id))) == items


def test_an_edit_replaces_its_facts_and_a_rejection_removes_them_from_approved_figures(
    app: Flask, coalition: Coalition
) -> None:
    # The Sekong school lesson is corrected on the tablet: 2 more boys, one session still.
    coalition.send(
        "eore 2 edited",
        "eore_session",
        {"organisation": "NPA", "admin1": "LA15", "admin2": "LA1501", "method": "school_lesson",
         "girls_10_17": "20", "boys_10_17": "24"},
        date="2026-05-05",
        edit_of=coalition.sent["eore 2"],
    )  # fmt: skip
    g = coalition.get("/reports/article7?year=2026").get_json()["form_g"]
    assert (g["sessions"], g["totals"]["beneficiaries"]) == (2, 94)
    # The HALO clearance on HA-0002 is rejected: its 1,000 m² leave the approved figures.
    coalition.review("clearance_report", coalition.sent["ha2 clearance halo"], "rejected")
    totals = coalition.get("/reports/article7?year=2026").get_json()["form_f"]["totals"]
    assert totals["cleared_m2"] == 17000.0
    runtime = app.extensions["fieldsync"]
    with transaction(runtime.session_factory) as session:
        assert facts.rebuild(session, coalition.project.id) > 0
    again = coalition.get("/reports/article7?year=2026").get_json()["form_f"]["totals"]
    assert again == totals


def test_a_clearance_synced_before_its_hazard_report_is_placed_when_the_report_arrives(
    empty_coalition: Coalition,
) -> None:
    c = empty_coalition
    area_report(
        c, "early clearance", "clearance_report", 1, "MAG", "2026-03-01",
        fields={"method": "clearance"}, cleared=700, status="in_clearance", remaining=300,
        values={"hazard_type": "sha", "contamination_types": "cmr"},
    )  # fmt: skip
    released = c.get("/reports/article7?year=2026").get_json()["form_f"]["land_released"]
    assert [(r["admin1"], r["admin2"], r["cleared_m2"]) for r in released] == [("", "", 700.0)]
    area = {"ha_code": "HA-0001", "hazard_type": "sha", "status": "suspected"}
    area |= {"contamination_types": "cmr", "estimated_area_m2": "1000", "remaining_area_m2": "1000"}
    area |= {"admin1_pcode": "LA15", "admin2_pcode": "LA1501", "admin_area": "LA1501"}
    c.send("late survey", "hazard_report", {"organisation": "MAG", "report_mode": "new_area"},
           entity=HA[1], create=True, values=area, date="2026-02-01")  # fmt: skip
    released = c.get("/reports/article7?year=2026").get_json()["form_f"]["land_released"]
    assert [(r["admin1"], r["admin2"], r["cleared_m2"]) for r in released] == [
        ("LA15", "LA1501", 700.0)
    ]
