"""A report in each output format: JSON (the report's own keys), CSV (every table, one after
the other, each headed by a ``# table: <name>`` line and separated by a blank line), XLSX (a
cover sheet, then one sheet per table; text is never a formula) and printable HTML (one page
per form: a page break before each new section).
"""

from __future__ import annotations

import csv
import io
import json
from html import escape

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from server.reports.document import Report, Table, row_cells


def to_json(report: Report) -> bytes:
    return json.dumps(report.data, ensure_ascii=False, indent=1).encode("utf-8")


def to_csv(report: Report) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for number, table in enumerate(report.tables):
        if number:
            writer.writerow([])
        writer.writerow([f"# table: {table.name}"])
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow(_text(v) for v in row_cells(row, table.columns, report.min_cell_size))
    return out.getvalue().encode("utf-8")


def to_xlsx(report: Report) -> bytes:
    book = Workbook(write_only=True)
    cover = book.create_sheet("Cover")
    cover.append([_cell(cover, report.title)])
    for name, value in report.cover():
        cover.append([_cell(cover, name), _cell(cover, value)])
    used: set[str] = {"cover"}
    for table in report.tables:
        sheet = book.create_sheet(_sheet_name(table, used))
        sheet.append([_cell(sheet, table.title)])
        sheet.append([_cell(sheet, c) for c in table.columns])
        for row in table.rows:
            sheet.append(
                [_cell(sheet, v) for v in row_cells(row, table.columns, report.min_cell_size)]
            )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def to_html(report: Report) -> bytes:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(report.title)}: {escape(report.period)}</title>",
        "<style>body{font-family:sans-serif;font-size:11pt;margin:1.5cm}"
        "table{border-collapse:collapse;margin:0 0 1em}th,td{border:1px solid #999;"
        "padding:2px 6px;text-align:left}td.n{text-align:right}"
        "section.form{break-before:page;page-break-before:always}"
        "@media print{body{margin:0}}</style></head><body>",
        f"<header><h1>{escape(report.title)}</h1><table>",
    ]
    for name, value in report.cover():
        parts.append(f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>")
    parts.append("</table></header>")
    section = None
    for table in report.tables:
        if table.section != section:
            if section is not None:
                parts.append("</section>")
            section = table.section
            parts.append(f"<section class='form'><h2>{escape(section)}</h2>")
        parts.append(_html_table(table, report.min_cell_size))
    if section is not None:
        parts.append("</section>")
    parts.append("</body></html>")
    return "".join(parts).encode("utf-8")


def _html_table(table: Table, minimum: int) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for value in row_cells(row, table.columns, minimum):
            kind = (
                " class='n'"
                if isinstance(value, int | float) and not isinstance(value, bool)
                else ""
            )
            cells.append(f"<td{kind}>{escape(_text(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    if not body:
        body.append(f"<tr><td colspan='{len(table.columns)}'>nothing in this period</td></tr>")
    return (
        f"<h3>{escape(table.title)}</h3><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _cell(sheet: object, value: object) -> WriteOnlyCell:
    if isinstance(value, bool) or value is None or not isinstance(value, int | float):
        cell = WriteOnlyCell(sheet, value=_text(value))
        cell.data_type = "s"  # text stays text, never a formula
        return cell
    return WriteOnlyCell(sheet, value=value)


def _sheet_name(table: Table, used: set[str]) -> str:
    base = "".join("_" if ch in "[]:*?/\\" else ch for ch in table.name)[:31]
    name, n = base, 1
    while name.lower() in used:
        n += 1
        name = f"{base[:28]}~{n}"
    used.add(name.lower())
    return name


RENDERERS = {"json": to_json, "csv": to_csv, "xlsx": to_xlsx, "html": to_html}
