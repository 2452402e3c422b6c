"""A report in each output format: JSON (the report's own keys), CSV (every table, one after
the other, each headed by a ``# table: <name>`` line and separated by a blank line), XLSX (a
cover sheet, then one sheet per table; text is never a formula) and printable HTML (one page
per form: a page break before each new section).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable
from html import escape

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
    """The workbook written as SpreadsheetML directly (a zip of a few XML parts): text as
    inline strings (never a formula), numbers as numbers. A spreadsheet library's cell objects
    cost more than the figures of a large 3W matrix (ADR 0017)."""
    cover: list[list[object]] = [[report.title]]
    cover += [[name, value] for name, value in report.cover()]
    sheets: list[tuple[str, list[list[object]]]] = [("Cover", cover)]
    used: set[str] = {"cover"}
    for table in report.tables:
        rows: list[list[object]] = [[table.title], list(table.columns)]
        rows += [row_cells(row, table.columns, report.min_cell_size) for row in table.rows]
        sheets.append((_sheet_name(table, used), rows))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", _content_types(len(sheets)))
        book.writestr("_rels/.rels", _ROOT_RELS)
        book.writestr("xl/workbook.xml", _workbook(name for name, _ in sheets))
        book.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets)))
        book.writestr("xl/styles.xml", _STYLES)
        for number, (_name, rows) in enumerate(sheets, 1):
            book.writestr(f"xl/worksheets/sheet{number}.xml", _sheet(rows))
    return buffer.getvalue()


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_ROOT_RELS = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{_PACKAGE_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><styleSheet xmlns="{_MAIN}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
# Characters XML 1.0 cannot carry (control characters but tab, newline, carriage return).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _content_types(sheets: int) -> str:
    parts = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{_TYPE}.worksheet+xml"/>'
        for n in range(1, sheets + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns='
        '"http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_TYPE}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_TYPE}.styles+xml"/>{parts}</Types>'
    )


def _workbook(names: Iterable[str]) -> str:
    sheets = "".join(
        f'<sheet name="{escape(name)}" sheetId="{n}" r:id="rId{n}"/>'
        for n, name in enumerate(names, 1)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{_MAIN}" '
        f'xmlns:r="{_REL}"><sheets>{sheets}</sheets></workbook>'
    )


def _workbook_rels(sheets: int) -> str:
    rels = "".join(
        f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, sheets + 1)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships '
        f'xmlns="{_PACKAGE_REL}">{rels}<Relationship Id="rId{sheets + 1}" '
        f'Type="{_REL}/styles" Target="styles.xml"/></Relationships>'
    )


def _sheet(rows: list[list[object]]) -> str:
    width = max((len(row) for row in rows), default=1)
    letters = [_column(n) for n in range(width)]
    parts = [
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{_MAIN}">'
        "<sheetData>"
    ]
    for r, row in enumerate(rows, 1):
        cells = []
        for letter, value in zip(letters, row, strict=False):
            if value is None:
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                if value != value or value in (float("inf"), float("-inf")):
                    value = _text(value)
                else:
                    cells.append(f'<c r="{letter}{r}"><v>{value!r}</v></c>')
                    continue
            text = escape(_ILLEGAL.sub("", _text(value)), quote=False)
            cells.append(
                f'<c r="{letter}{r}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
            )
        parts.append(f'<row r="{r}">{"".join(cells)}</row>')
    parts.append("</sheetData></worksheet>")
    return "".join(parts)


def _column(n: int) -> str:
    name = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        name = chr(65 + rest) + name
    return name


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


def _sheet_name(table: Table, used: set[str]) -> str:
    base = "".join("_" if ch in "[]:*?/\\" else ch for ch in table.name)[:31]
    name, n = base, 1
    while name.lower() in used:
        n += 1
        name = f"{base[:28]}~{n}"
    used.add(name.lower())
    return name


RENDERERS = {"json": to_json, "csv": to_csv, "xlsx": to_xlsx, "html": to_html}
