"""Reading and checking a gazetteer file, and writing the CSV that forms select places from.

Plain functions over plain data: no database, no Flask. A gazetteer is a list of administrative
areas in the long format of OCHA's Common Operational Datasets (COD-AB): one row per area with
its admin level, P-code, the P-code of the area it lies in, and its names.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# The form media file every form's place questions read (select_one_from_file gazetteer.csv).
MEDIA_NAME = "gazetteer.csv"
BUNDLED_GAZETTEER = Path(__file__).resolve().parents[2] / "forms" / "gazetteer" / "lao_pdr.csv"
DEVICE_COLUMNS = ("name", "label", "level", "parent", "name_en", "name_local")
PCODE_RE = re.compile(r"^[A-Z]{2,3}[0-9A-Z]{0,20}$")
MAX_LEVEL = 4

# Header spellings accepted for each column (COD-AB files and hand-made sheets differ).
_ALIASES = {
    "level": ("admin_level", "level", "adm_level", "admin level"),
    "pcode": ("pcode", "p_code", "p-code", "admin_pcode"),
    "parent": ("parent_pcode", "parent", "parent_p_code", "parent p-code"),
    "name_en": ("name_en", "name", "name english"),
}


@dataclass(frozen=True)
class AdminArea:
    """One administrative area: a province (level 1), district (2), village (3)..."""

    level: int
    pcode: str
    parent_pcode: str
    name_en: str
    name_local: str = ""
    row: int = 0  # the row of the file it was read from (the header is row 1)

    @property
    def label(self) -> str:
        """What a person sees in the list: both names when they differ."""
        if self.name_local and self.name_local != self.name_en:
            return f"{self.name_en} ({self.name_local})"
        return self.name_en


class GazetteerError(ValueError):
    """The file is not a gazetteer fieldsync can use; the message names the row."""


def read_table(filename: str, data: bytes) -> list[list[str]]:
    """The cells of a CSV (UTF-8, with or without BOM) or XLSX file, header row first.

    Raises GazetteerError for another file type, or a file that cannot be read.
    """
    suffix = Path(filename).suffix.lower()
    if suffix == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise GazetteerError(f"{filename}: not UTF-8 text ({exc.reason})") from None
        return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text))]
    if suffix == ".xlsx":
        import openpyxl

        try:
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many types for a damaged file
            raise GazetteerError(f"{filename}: not a readable XLSX workbook ({exc})") from None
        try:
            sheet = workbook.worksheets[0]
            return [
                ["" if v is None else _cell(v) for v in row]
                for row in sheet.iter_rows(values_only=True)
            ]
        finally:
            workbook.close()
    raise GazetteerError(f"{filename}: a gazetteer is a .csv or .xlsx file")


def _cell(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_areas(table: Sequence[Sequence[str]]) -> list[AdminArea]:
    """Read areas from a table and check them: every P-code unique, every parent present one
    level up, no cycles.

    Raises GazetteerError naming the first offending row.
    """
    if not table:
        raise GazetteerError("the file is empty")
    header = [h.strip().lower() for h in table[0]]
    columns = {key: _column(header, names) for key, names in _ALIASES.items()}
    missing = [key for key, index in columns.items() if index is None and key != "parent"]
    if missing or columns["parent"] is None:
        raise GazetteerError(
            "row 1: the header needs the columns admin_level, pcode, parent_pcode and name_en "
            "(and optionally a local name such as name_lo)"
        )
    local = next(
        (
            i
            for i, h in enumerate(header)
            if h.startswith("name_") and i != columns["name_en"] and h != "name_en"
        ),
        None,
    )
    areas: list[AdminArea] = []
    for number, cells in enumerate(table[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        areas.append(_area(number, list(cells), columns, local))
    if not areas:
        raise GazetteerError("the file has a header but no areas")
    check_areas(areas)
    return areas


def _column(header: list[str], names: Iterable[str]) -> int | None:
    return next((header.index(n) for n in names if n in header), None)


def _area(
    number: int, cells: list[str], columns: dict[str, int | None], local: int | None
) -> AdminArea:
    def get(index: int | None) -> str:
        return cells[index].strip() if index is not None and index < len(cells) else ""

    level_text = get(columns["level"])
    try:
        level = int(level_text)
    except ValueError:
        raise GazetteerError(f"row {number}: admin level {level_text!r} is not a number") from None
    if not 1 <= level <= MAX_LEVEL:
        raise GazetteerError(f"row {number}: admin level {level} is not between 1 and {MAX_LEVEL}")
    pcode = get(columns["pcode"]).upper()
    if not PCODE_RE.match(pcode):
        raise GazetteerError(
            f"row {number}: P-code {pcode!r} is not a P-code (letters of the country code, "
            "then digits, e.g. LA0901)"
        )
    name_en = get(columns["name_en"])
    if not name_en:
        raise GazetteerError(f"row {number} ({pcode}): the English name is empty")
    return AdminArea(
        level=level,
        pcode=pcode,
        parent_pcode=get(columns["parent"]).upper(),
        name_en=name_en,
        name_local=get(local),
        row=number,
    )


def check_areas(areas: Sequence[AdminArea]) -> None:
    """Unique P-codes, parents that exist one level up, and no cycles.

    Raises GazetteerError naming the first offending row.
    """
    by_code: dict[str, AdminArea] = {}
    for area in areas:
        first = by_code.get(area.pcode)
        if first is not None:
            raise GazetteerError(
                f"row {area.row}: P-code {area.pcode} appears twice (first in row {first.row})"
            )
        by_code[area.pcode] = area
    for area in areas:
        if area.level == 1:
            if area.parent_pcode and area.parent_pcode in by_code:
                raise GazetteerError(
                    f"row {area.row} ({area.pcode}): a level 1 area has no parent in the "
                    f"gazetteer, but {area.parent_pcode} is given"
                )
            continue
        if not area.parent_pcode or area.parent_pcode not in by_code:
            raise GazetteerError(
                f"row {area.row} ({area.pcode}): parent P-code {area.parent_pcode or '(empty)'} "
                "is not in the file"
            )
    for area in areas:
        seen = [area.pcode]
        current = area
        while current.level != 1 and current.parent_pcode in by_code:
            current = by_code[current.parent_pcode]
            if current.pcode in seen:
                chain = " -> ".join([*seen, current.pcode])
                raise GazetteerError(
                    f"row {area.row} ({area.pcode}): parents form a cycle: {chain}"
                )
            seen.append(current.pcode)
    for area in areas:
        if area.level > 1 and by_code[area.parent_pcode].level != area.level - 1:
            parent = by_code[area.parent_pcode]
            raise GazetteerError(
                f"row {area.row} ({area.pcode}): a level {area.level} area lies in a level "
                f"{area.level - 1} area, but {parent.pcode} is level {parent.level}"
            )


def load_file(path: Path) -> list[AdminArea]:
    """Read and check a gazetteer file. Raises GazetteerError (see :func:`parse_areas`)."""
    return parse_areas(read_table(path.name, path.read_bytes()))


def device_csv(areas: Iterable[AdminArea]) -> str:
    """The form media file: one row per area, `name` the P-code and `parent` its parent's."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DEVICE_COLUMNS)
    for area in sorted(areas, key=lambda a: (a.level, a.pcode)):
        writer.writerow(
            [area.pcode, area.label, area.level, area.parent_pcode, area.name_en, area.name_local]
        )
    return out.getvalue()
