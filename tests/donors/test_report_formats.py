"""The donor report as XLSX (a cover sheet, then a sheet per table) and as a printable HTML page
(a page per table), over HTTP and from the command line, cell by cell against the hand-computed
figures of tests/donors/test_donor_report.py."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from flask import Flask
from lxml import html
from openpyxl import load_workbook

from server.cli import main
from server.donors.report import OUTPUT_COLUMNS
from tests.donors.conftest import Coalition
from tests.donors.test_donor_report import A1, A2, A_TOTAL

AGREEMENTS = [
    ("GB-GOV-1-MA-2026", "Clearance of cluster munition remnants in Xiengkhuang",
     "2026-01-01", "2026-12-31", 500000, "USD", A1),
    ("GB-GOV-1-EORE-2026", "Pek district, first half", "2026-01-01", "2026-06-30", 500000,
     "GBP", A2),
    ("total", "", "", "", "", "", A_TOTAL),
]  # fmt: skip


def _expected_output_rows() -> list[list[Any]]:
    return [
        [ident, title, start, end, amount, currency, *(out[k] for k in OUTPUT_COLUMNS[6:])]
        for ident, title, start, end, amount, currency, out in AGREEMENTS
    ]


def _sheet_rows(book: Any, name: str) -> list[list[Any]]:
    return [[cell.value for cell in row] for row in book[name].iter_rows()]


def test_the_xlsx_has_a_cover_and_one_sheet_per_table(coalition: Coalition) -> None:
    c = coalition
    response = c.client.get(
        f"{c.base}/reports/donors/{c.donors['A']}?format=xlsx", headers=c.coordinator.headers
    )
    assert response.status_code == 200
    assert response.content_type.startswith("application/vnd.openxmlformats")
    assert 'filename="donor-' in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["Cover", "agreements", "destroyed", "beneficiaries", "funding"]
    cover = dict(row[:2] for row in _sheet_rows(book, "Cover")[1:])
    assert _sheet_rows(book, "Cover")[0][0] == "Donor report: United Kingdom FCDO"
    assert cover["project"] == "Lao coalition"
    assert cover["period"] == "each agreement's period"
    assert cover["filter used"] == "donor=GB-GOV-1"
    assert cover["approved reports only"] == "yes"
    assert cover["generated at"]
    # Empty cells (the total's title, period, amount) read back as None from the workbook.
    agreements = _sheet_rows(book, "agreements")
    assert agreements[1] == OUTPUT_COLUMNS
    assert [[v if v is not None else "" for v in row] for row in agreements[2:]] == (
        _expected_output_rows()
    )
    destroyed = _sheet_rows(book, "destroyed")
    assert destroyed[1] == ["agreement", "category", "model", "quantity"]
    assert destroyed[2:] == [
        [ident, d["category"], d["model"], d["quantity"]]
        for ident, *_rest, out in AGREEMENTS
        for d in out["destroyed"]
    ]
    people = _sheet_rows(book, "beneficiaries")[2:]
    assert [r for r in people if r[3]] == [
        ["GB-GOV-1-EORE-2026", "female", "0-9", 5],
        ["GB-GOV-1-EORE-2026", "male", "0-9", 4],
        ["GB-GOV-1-EORE-2026", "female", "18-45", 10],
        ["GB-GOV-1-EORE-2026", "male", "46+", 3],
        ["total", "female", "0-9", 5],
        ["total", "male", "0-9", 4],
        ["total", "female", "18-45", 10],
        ["total", "male", "46+", 3],
    ]
    assert len(people) == 3 * 8
    assert _sheet_rows(book, "funding")[2:] == [
        ["GB-GOV-1-MA-2026", "USD", 600000, 350000, 90000],
        ["GB-GOV-1-EORE-2026", "GBP", 80000, 40000, 0],
        ["total", "GBP", 80000, 40000, 0],
        ["total", "USD", 600000, 350000, 90000],
    ]


def test_the_printable_page_has_a_page_per_table_and_the_sources_with_explain(
    coalition: Coalition,
) -> None:
    c = coalition
    response = c.client.get(
        f"{c.base}/reports/donors/{c.donors['B']}?format=html&explain=1&year=2026",
        headers=c.coordinator.headers,
    )
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    page = html.fromstring(response.data)
    assert page.findtext(".//h1") == "Donor report: UNDP"
    cover = {tr.findtext("th"): tr.findtext("td") for tr in page.findall(".//header//tr")}
    assert cover["period"] == "2026"
    assert cover["filter used"] == "donor=XM-DAC-41114, year=2026"
    sections = page.findall(".//section[@class='form']")
    assert [s.findtext("h2") for s in sections] == [
        "Outputs", "Devices destroyed", "People reached", "Funding", "Sources",
    ]  # fmt: skip
    assert "break-before:page" in page.findtext(".//style")

    def rows(section: Any) -> list[list[str]]:
        return [[td.text_content() for td in tr.findall("td")] for tr in section.iter("tr")][1:]

    outputs = rows(sections[0])
    # B1: hz3, c3, e2 (0 / 300 / 5000; 15 people) and the total, the same reports.
    assert [r[0] for r in outputs] == ["XM-DAC-41114-LAO-77", "total"]
    for row in outputs:
        got = dict(zip(OUTPUT_COLUMNS, row, strict=True))
        assert (got["reduced_m2"], got["cleared_m2"], got["released_m2"]) == (
            "300.0", "5000.0", "5300.0",
        )  # fmt: skip
        assert (got["people_reached"], got["eore_sessions"], got["reports"]) == ("15", "1", "3")
    assert rows(sections[1]) == [["nothing in this period"]]
    sources = rows(sections[4])
    assert sorted(r[2] for r in sources) == sorted(c.instances[k] for k in ("hz3", "c3", "e2"))
    c3 = next(r for r in sources if r[2] == c.instances["c3"])
    assert c3 == [
        "XM-DAC-41114-LAO-77", "clearance_report", c.instances["c3"], "", "2026-06-15",
        c.areas["HA-0003"], "T-03", "LA13 LA1301",
    ]  # fmt: skip


def test_the_command_line_writes_the_xlsx_and_the_printable_page(
    coalition: Coalition, app: Flask, tmp_path: Path
) -> None:
    c = coalition
    settings = app.extensions["fieldsync"].settings
    env = {
        "DATABASE_URL": settings.database_url,
        "FIELDSYNC_DATA_DIR": str(settings.data_dir),
        "FIELDSYNC_LOG_LEVEL": "WARNING",
    }
    out = tmp_path / "a.xlsx"
    args = ["donors", "report", "GB-GOV-1", "--project", str(c.project.id)]
    made = CliRunner().invoke(main, [*args, "--format", "xlsx", "--out", str(out)], env=env)
    assert made.exit_code == 0, made.output
    book = load_workbook(out)
    assert [[v if v is not None else "" for v in row] for row in _sheet_rows(book, "agreements")][
        2:
    ] == _expected_output_rows()
    printed = CliRunner().invoke(main, [*args, "--format", "html", "--year", "2026"], env=env)
    assert printed.exit_code == 0, printed.output
    page = html.fromstring(printed.output)
    assert page.findtext(".//h1") == "Donor report: United Kingdom FCDO"
    refused = CliRunner().invoke(main, [*args, "--format", "pdf"], env=env)
    assert refused.exit_code == 2
    assert "pdf" in refused.output
    helped = CliRunner().invoke(main, ["donors", "report", "--help"], env=env)
    assert "xlsx" in helped.output and "html" in helped.output
