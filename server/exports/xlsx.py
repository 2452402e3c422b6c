"""The XLSX export: one sheet per table (the root and each repeat group), the same columns as
the CSV, a frozen header row, dates and numbers as real cells.

openpyxl's write-only mode keeps each sheet's rows in a temporary file, so the workbook is
written in constant memory; the finished file is then streamed. Text is always written as text,
never as a formula, whatever it starts with (``=``, ``+``, ``-``, ``@``): the CSV keeps Central's
bytes, the workbook is where a spreadsheet user is protected.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from server.exports.rows import Cell, submission_rows
from server.exports.source import ExportSubmission
from server.exports.tables import Column, ColumnKind, ExportSchema, Table

CHUNK = 256 * 1024
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_INT_META = {"SubmitterID", "AttachmentsPresent", "AttachmentsExpected", "Edits"}
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss.000"


def sheet_names(schema: ExportSchema) -> list[str]:
    """A valid, unique sheet name (at most 31 characters) per table."""
    names: list[str] = []
    for table in schema.tables:
        base = table.repeat.name if table.repeat is not None else schema.form_id
        base = _SHEET_FORBIDDEN.sub("_", base).strip("'")[:31] or "data"
        name, n = base, 1
        while name.lower() in (x.lower() for x in names):
            n += 1
            suffix = f"~{n}"
            name = base[: 31 - len(suffix)] + suffix
        names.append(name)
    return names


def workbook(
    schema: ExportSchema,
    submissions: Iterable[ExportSubmission],
    pseudonymise: Callable[[str], str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The workbook's bytes, in chunks."""
    book = Workbook(write_only=True)
    sheets: dict[int, WriteOnlyWorksheet] = {}
    for table, name in zip(schema.tables, sheet_names(schema), strict=True):
        sheet = book.create_sheet(title=name)
        sheet.freeze_panes = "A2"
        sheet.append([_text(sheet, h) for h in table.headers])
        sheets[id(table)] = sheet
    for n, submission in enumerate(submissions, 1):
        rows = submission_rows(schema, submission, pseudonymise)
        root = sheets[id(schema.root)]
        root.append(_cells(root, schema.root, rows.root))
        for table, row in rows.repeats:
            sheet = sheets[id(table)]
            sheet.append(_cells(sheet, table, row))
        if progress is not None:
            progress(n)
    with tempfile.TemporaryFile() as out:
        book.save(out)
        out.seek(0)
        while block := out.read(CHUNK):
            yield block


def _text(sheet: WriteOnlyWorksheet, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"  # never a formula
    return cell


def _cells(sheet: WriteOnlyWorksheet, table: Table, row: list[Cell]) -> list[Any]:
    return [_cell(sheet, column, value) for column, value in zip(table.columns, row, strict=True)]


def _cell(sheet: WriteOnlyCell | Any, column: Column, value: Cell) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    typed = _typed(column, value)
    if typed is None:
        return _text(sheet, value)
    cell = WriteOnlyCell(sheet, value=typed)
    if isinstance(typed, datetime):
        cell.number_format = DATETIME_FORMAT
    elif isinstance(typed, date):
        cell.number_format = DATE_FORMAT
    return cell


def _typed(column: Column, value: str) -> Any:
    """The value as a number or date when its field says it is one and it reads as one."""
    if column.kind is ColumnKind.META:
        if column.header == "SubmissionDate":
            return _datetime(value)
        if column.header in _INT_META:
            return _number(value, int)
        return None
    if column.kind is ColumnKind.GEO_PART:
        return _number(value, Decimal)
    kind = column.field.type if column.field is not None else ""
    if kind == "int":
        return _number(value, int)
    if kind == "decimal":
        return _number(value, Decimal)
    if kind == "date":
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    if kind == "dateTime":
        return _datetime(value)
    return None


def _number(value: str, kind: type) -> Any:
    try:
        return kind(value.strip())
    except (ValueError, InvalidOperation):
        return None


def _datetime(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    # Excel has no time zones: write UTC.
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment
