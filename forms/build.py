"""Build the XLSForm workbooks (forms/*.xlsx) from their readable sources (forms/src/*.md).

Each source holds one markdown table per sheet (survey, choices, settings, entities), so a
change to a form shows as a one-line diff. `--extract` goes the other way for a workbook that
was edited in Excel or LibreOffice; `--check` compiles every workbook with pyxform.

Usage (from the repository root):
    python forms/build.py                      write forms/*.xlsx from forms/src/*.md
    python forms/build.py --check              also compile each form, fail on any warning
    python forms/build.py --validate           also run ODK Validate (needs Java)
    python forms/build.py --extract forms/hazard_report.xlsx   workbook -> forms/src/*.md
    python forms/build.py --force              overwrite workbooks edited after their source
    python forms/build.py --add-language "Thai (th)" [--form eore_session]
                                               add empty translation columns to the sources
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from openpyxl.styles import Font

FORMS_DIR = Path(__file__).resolve().parent
SOURCE_DIR = FORMS_DIR / "src"
SHEET_ORDER = ("survey", "choices", "settings", "entities")
LINE_BREAK = "<br>"
DEFAULT_LANGUAGE = "English (en)"
# The columns that hold text for people, translated column by column (`label::Lao (lo)`).
TRANSLATED_COLUMNS = ("label", "hint", "constraint_message", "required_message")
LANGUAGE_RE = re.compile(r"^[A-Z][A-Za-z ]+ \([a-z]{2,3}\)$")

Row = list[str]


class SourceError(ValueError):
    """A readable form source or workbook does not have the expected shape."""


@dataclass
class FormSource:
    """One form: its sheets in order, each a header row followed by data rows."""

    form_id: str
    preamble: str = ""
    sheets: dict[str, list[Row]] = field(default_factory=dict)


def _split_cells(line: str) -> Row:
    r"""Split a markdown table line on unescaped pipes; `\|` is a literal pipe."""
    body = line.strip()
    if not (body.startswith("|") and body.endswith("|")) or body.endswith("\\|"):
        raise SourceError(f"not a table row: {line!r}")
    cells: Row = []
    current: list[str] = []
    i = 1
    while i < len(body) - 1:
        char = body[i]
        if char == "\\" and body[i + 1] == "|":
            current.append("|")
            i += 2
            continue
        if char == "|":
            cells.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    cells.append("".join(current))
    return [cell.strip().replace(LINE_BREAK, "\n") for cell in cells]


def _is_separator(cells: Row) -> bool:
    return all(cell and set(cell) <= {"-", ":"} for cell in cells)


def parse_source(text: str, form_id: str) -> FormSource:
    """Parse a readable form source.

    Raises SourceError when a table row has a different number of cells than its header,
    a sheet appears twice, or a table sits outside a `## sheet` section.
    """
    source = FormSource(form_id=form_id)
    preamble: list[str] = []
    sheet: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("## "):
            sheet = line[3:].strip()
            if sheet in source.sheets:
                raise SourceError(f"{form_id}: line {number}: sheet {sheet!r} appears twice")
            source.sheets[sheet] = []
            continue
        if sheet is None:
            preamble.append(line)
            continue
        if not line.strip().startswith("|"):
            continue
        cells = _split_cells(line)
        rows = source.sheets[sheet]
        if len(rows) == 1 and _is_separator(cells):
            continue
        if rows and len(cells) != len(rows[0]):
            raise SourceError(
                f"{form_id}: line {number}: {len(cells)} cells, header has {len(rows[0])}"
            )
        rows.append(cells)
    source.preamble = "\n".join(preamble).strip()
    return source


def _escape(cell: str) -> str:
    if cell.endswith("\\"):
        raise SourceError(f"a cell may not end with a backslash: {cell!r}")
    return cell.replace("|", "\\|").replace("\n", LINE_BREAK)


def render_source(source: FormSource) -> str:
    """Render a form as markdown, one table per sheet, cells unpadded so diffs stay small.

    Raises SourceError when a cell cannot be written unambiguously.
    """
    parts = [source.preamble.strip() or f"# {source.form_id}", ""]
    for sheet, rows in source.sheets.items():
        parts += [f"## {sheet}", ""]
        if rows:
            width = len(rows[0])
            parts.append("| " + " | ".join(_escape(c) for c in rows[0]) + " |")
            parts.append("|" + "---|" * width)
            for row in rows[1:]:
                parts.append("| " + " | ".join(_escape(c) for c in row) + " |")
        parts.append("")
    return "\n".join(parts)


def _cell_text(value: object) -> str:
    # Excel turns "2026112901" or "0" into numbers when a person retypes them.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _trim(rows: list[Row]) -> list[Row]:
    """Drop trailing empty columns (beyond the header) and trailing empty rows."""
    if not rows:
        return rows
    header = list(rows[0])
    while header and not header[-1]:
        header.pop()
    width = len(header)
    trimmed = [header] + [(row + [""] * width)[:width] for row in rows[1:]]
    while len(trimmed) > 1 and not any(trimmed[-1]):
        trimmed.pop()
    return trimmed


def read_workbook(path: Path) -> dict[str, list[Row]]:
    """Read every sheet of an XLSForm workbook as text rows, header first."""
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return {
            sheet.title: _trim(
                [[_cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            )
            for sheet in workbook.worksheets
        }
    finally:
        workbook.close()


def write_workbook(sheets: dict[str, list[Row]], path: Path) -> None:
    """Write sheets as an .xlsx with text cells, a bold frozen header and usable widths."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append([cell if cell else None for cell in row])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for index, column in enumerate(sheet.iter_cols(values_only=True), start=1):
            longest = max((len(str(v)) for v in column if v is not None), default=8)
            letter = openpyxl.utils.get_column_letter(index)
            sheet.column_dimensions[letter].width = min(max(longest + 2, 10), 60)
    workbook.save(path)


def languages(source: FormSource) -> list[str]:
    """The languages a form's survey sheet has texts in, English (the default) first."""
    found = []
    for column in source.sheets.get("survey", [[]])[0]:
        base, _, language = column.partition("::")
        if base in TRANSLATED_COLUMNS and language and language not in found:
            found.append(language)
    return sorted(found, key=lambda lang: (lang != DEFAULT_LANGUAGE, found.index(lang)))


def add_language(source: FormSource, language: str) -> bool:
    """Add empty `<column>::<language>` columns after the English ones on the survey and
    choices sheets; returns False when the form already has them.

    Raises SourceError for a language not written as `Name (code)`, e.g. `Thai (th)`.
    """
    if not LANGUAGE_RE.match(language):
        raise SourceError(f"write the language as 'Name (code)', e.g. 'Thai (th)': {language!r}")
    if language in languages(source):
        return False
    for sheet in ("survey", "choices"):
        rows = source.sheets.get(sheet)
        if not rows:
            continue
        for base in TRANSLATED_COLUMNS:
            header = rows[0]
            english = f"{base}::{DEFAULT_LANGUAGE}"
            if english not in header:
                continue
            # After the last existing translation of this column, so languages stay in order.
            at = max(i for i, c in enumerate(header) if c.partition("::")[0] == base) + 1
            rows[0] = [*header[:at], f"{base}::{language}", *header[at:]]
            for i in range(1, len(rows)):
                rows[i] = [*rows[i][:at], "", *rows[i][at:]]
    return True


def missing_translations(source: FormSource) -> list[str]:
    """One line per text that has English but no translation in a language the form has."""
    problems = []
    for sheet in ("survey", "choices"):
        rows = source.sheets.get(sheet, [])
        if not rows:
            continue
        header = rows[0]
        for language in languages(source)[1:]:
            for base in TRANSLATED_COLUMNS:
                english, other = f"{base}::{DEFAULT_LANGUAGE}", f"{base}::{language}"
                if english not in header:
                    continue
                if other not in header:
                    problems.append(f"{source.form_id}: {sheet}: no column {other}")
                    continue
                e, o = header.index(english), header.index(other)
                for number, row in enumerate(rows[1:], start=2):
                    if row[e].strip() and not row[o].strip():
                        name = row[header.index("name")] if "name" in header else ""
                        problems.append(
                            f"{source.form_id}: {sheet} row {number} ({name}): no {other}"
                        )
    return problems


def load_sources(source_dir: Path = SOURCE_DIR) -> list[FormSource]:
    """Read every form source in source_dir, sorted by form_id.

    Raises SourceError if a source is malformed or its file name differs from its form_id.
    """
    sources = []
    for path in sorted(source_dir.glob("*.md")):
        source = parse_source(path.read_text(encoding="utf-8"), form_id=path.stem)
        settings = source.sheets.get("settings", [])
        if len(settings) < 2 or "form_id" not in settings[0]:
            raise SourceError(f"{path.name}: settings sheet needs a form_id")
        declared = settings[1][settings[0].index("form_id")]
        if declared != path.stem:
            raise SourceError(f"{path.name}: form_id is {declared!r}, expected {path.stem!r}")
        sources.append(source)
    return sources


def sheets_in_order(source: FormSource) -> dict[str, list[Row]]:
    """The source's sheets in the usual XLSForm order, empty trailing parts removed."""
    names = [s for s in SHEET_ORDER if s in source.sheets]
    names += [s for s in source.sheets if s not in SHEET_ORDER]
    return {name: _trim(source.sheets[name]) for name in names}


def build(
    source_dir: Path = SOURCE_DIR, out_dir: Path = FORMS_DIR, force: bool = False
) -> list[Path]:
    """Write one workbook per source; a workbook whose cells already match is left untouched.

    Returns the paths written. Raises SourceError on a malformed source, and, unless force is
    set, when a workbook differs from its source and was saved after it: that is a spreadsheet
    edit which `--extract` must read back first, or it would be lost.
    """
    written = []
    for source in load_sources(source_dir):
        target = out_dir / f"{source.form_id}.xlsx"
        sheets = sheets_in_order(source)
        if target.exists():
            if read_workbook(target) == sheets:
                continue
            source_path = source_dir / f"{source.form_id}.md"
            if not force and target.stat().st_mtime > source_path.stat().st_mtime:
                raise SourceError(
                    f"{target.name} was edited after {source_path.name}; run "
                    f"`python forms/build.py --extract {target}` to keep the edit, "
                    "or --force to overwrite it"
                )
        write_workbook(sheets, target)
        written.append(target)
    return written


def extract(workbook_path: Path, source_dir: Path = SOURCE_DIR) -> Path:
    """Rewrite the readable source of one workbook from its cells, keeping the preamble.

    Raises SourceError if the workbook's form_id differs from its file name.
    """
    form_id = workbook_path.stem
    sheets = read_workbook(workbook_path)
    settings = sheets.get("settings", [])
    if len(settings) < 2 or "form_id" not in settings[0]:
        raise SourceError(f"{workbook_path.name}: settings sheet needs a form_id")
    if settings[1][settings[0].index("form_id")] != form_id:
        raise SourceError(f"{workbook_path.name}: form_id must equal the file name")
    target = source_dir / f"{form_id}.md"
    preamble = ""
    if target.exists():
        preamble = parse_source(target.read_text(encoding="utf-8"), form_id).preamble
    target.write_text(
        render_source(FormSource(form_id=form_id, preamble=preamble, sheets=sheets)),
        encoding="utf-8",
    )
    return target


def check(paths: list[Path], validate: bool = False) -> list[str]:
    """Compile each workbook with pyxform (and ODK Validate if asked).

    Returns one line per error or warning found; an empty list means every form is clean.
    """
    from pyxform.errors import PyXFormError
    from pyxform.validators.odk_validate import ODKValidateError
    from pyxform.xls2xform import convert

    problems = []
    for path in paths:
        warnings: list[str] = []
        try:
            convert(xlsform=path, warnings=warnings, validate=validate)
        except (PyXFormError, ODKValidateError) as error:
            problems.append(f"{path.name}: error: {error}")
        problems += [f"{path.name}: warning: {w}" for w in warnings]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extract", type=Path, metavar="XLSX", help="workbook to read back")
    parser.add_argument("--check", action="store_true", help="compile with pyxform")
    parser.add_argument("--validate", action="store_true", help="also run ODK Validate")
    parser.add_argument("--force", action="store_true", help="overwrite edited workbooks")
    parser.add_argument(
        "--add-language", metavar="LANGUAGE", help="add translation columns, e.g. 'Thai (th)'"
    )
    parser.add_argument(
        "--form", action="append", metavar="FORM_ID", help="with --add-language: only this form"
    )
    args = parser.parse_args(argv)
    try:
        if args.add_language:
            for source in load_sources():
                if args.form and source.form_id not in args.form:
                    continue
                if add_language(source, args.add_language):
                    path = SOURCE_DIR / f"{source.form_id}.md"
                    path.write_text(render_source(source), encoding="utf-8")
                    print(f"added {args.add_language} to {path}")
        if args.extract:
            print(f"wrote {extract(args.extract)}")
        for path in build(force=args.force):
            print(f"wrote {path}")
    except SourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.check or args.validate:
        problems = [line for s in load_sources() for line in missing_translations(s)]
        problems += check(sorted(FORMS_DIR.glob("*.xlsx")), validate=args.validate)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            return 1
        print("all forms compile without errors or warnings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
