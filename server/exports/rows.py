"""One submission's XML turned into table rows: a row of the root table and one row per repeat
instance, with Central's ``KEY`` and ``PARENT_KEY`` (``uuid:…/hh/person[1]/visit[2]``).

Pure: no Flask, no database. Elements the schema does not know (and everything below them) are
left out, as Central does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from server.exports.source import ExportSubmission, iso_millis
from server.exports.tables import ROOT_TRAILER, ColumnKind, ExportSchema, Table
from server.xmlsafe import local_name, parse

_SPACE = re.compile(r"\s+")

Cell = str | int | None


@dataclass
class InstanceRows:
    root: list[Cell]
    # (table, row) in the order the repeat instances close, as Central writes them.
    repeats: list[tuple[Table, list[Cell]]] = field(default_factory=list)


def empty_row(table: Table) -> list[Cell]:
    # Central starts split select-multiple columns at 0, every other cell empty.
    return [0 if c.kind is ColumnKind.CHOICE else None for c in table.columns]


def instance_rows(
    schema: ExportSchema,
    instance_key: str,
    xml: str | bytes,
    pseudonymise: Callable[[str], str] | None = None,
) -> InstanceRows:
    """The rows of one submission; ``instance_key`` is the submission's first instanceID.

    Raises:
        Problem: 400 when the stored XML is not well-formed (never for an accepted submission).
    """
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    element = parse(data, "the submission")
    rows = InstanceRows(root=empty_row(schema.root))
    walker = _Walker(schema, rows, pseudonymise)
    walker.walk(element, "", rows.root, [instance_key], instance_key, {})
    return rows


class _Walker:
    def __init__(
        self,
        schema: ExportSchema,
        rows: InstanceRows,
        pseudonymise: Callable[[str], str] | None,
    ) -> None:
        self.schema = schema
        self.rows = rows
        self.pseudonymise = pseudonymise

    def walk(
        self,
        element: etree._Element,
        base: str,
        row: list[Cell],
        key: list[str],
        parent_key: str,
        counters: dict[str, int],
    ) -> None:
        schema = self.schema
        for child in element:
            if not isinstance(child.tag, str):
                continue
            name = local_name(child)
            path = f"{base}/{name}"
            fld = schema.by_path.get(path)
            if fld is None:
                continue
            if fld.type == "repeat":
                table = schema.repeat_tables.get(path)
                if table is None:
                    continue
                counters[path] = counters.get(path, 0) + 1
                child_key = [*key, f"{name}[{counters[path]}]"]
                subrow = empty_row(table)
                subrow[-2] = parent_key
                subrow[-1] = "/".join(child_key)
                self.walk(child, path, subrow, child_key, "/".join(child_key), {})
                self.rows.repeats.append((table, subrow))
            elif fld.type == "structure":
                self.walk(child, path, row, [*key, name], parent_key, counters)
            else:
                self._value(child, path, row)

    def _value(self, element: etree._Element, path: str, row: list[Cell]) -> None:
        table = self.schema.table_of.get(path)
        if table is None:
            return
        text = element.text
        if len(element):
            text = (text or "") + "".join(c.tail or "" for c in element)
        if text is None:
            return
        idx = table.index[path]
        column = table.columns[idx]
        if column.pseudonymise and self.pseudonymise is not None:
            text = self.pseudonymise(text)
        if column.kind is ColumnKind.GEO_PART:
            parts: list[Any] = _SPACE.split(text)
            for i in range(4):
                row[idx + i] = parts[i] if i < len(parts) else None
            return
        row[idx] = text
        if column.field is not None and column.field.select_multiple:
            choices = {}
            j = idx + 1
            while j < len(table.columns) and table.columns[j].kind is ColumnKind.CHOICE:
                if table.columns[j].field is column.field:
                    choices[table.columns[j].choice] = j
                j += 1
            for value in _SPACE.split(text):
                if value in choices:
                    row[choices[value]] = 1


def submission_rows(
    schema: ExportSchema,
    submission: ExportSubmission,
    pseudonymise: Callable[[str], str] | None = None,
) -> InstanceRows:
    """The rows of one submission with Central's metadata columns filled in."""
    rows = instance_rows(schema, submission.instance_id, submission.xml, pseudonymise)
    root = rows.root
    root[0] = iso_millis(submission.submission_date)
    meta = len(root) - len(ROOT_TRAILER)
    root[meta] = submission.instance_id
    if submission.submitter_id is not None:
        root[meta + 1] = submission.submitter_id
        root[meta + 2] = submission.submitter_name
    root[meta + 3] = submission.attachments_present
    root[meta + 4] = submission.attachments_expected
    root[meta + 5] = None  # Status: only for encrypted submissions, which fieldsync has none of
    root[meta + 6] = submission.review_state
    root[meta + 7] = submission.device_id
    root[meta + 8] = submission.edits
    root[meta + 9] = submission.form_version
    return rows


def select_values_in(xmls: Iterable[str | bytes], paths: set[str]) -> dict[str, list[str]]:
    """The values chosen in the given select-multiple fields across the submissions, sorted:
    Central splits a select-multiple into the values found in the data, not the form's
    choices."""
    found: dict[str, set[str]] = {p: set() for p in paths}
    if not paths:
        return {}
    for xml in xmls:
        data = xml.encode("utf-8") if isinstance(xml, str) else xml
        _collect(parse(data, "the submission"), "", paths, found)
    return {p: sorted(v) for p, v in found.items()}


def _collect(
    element: etree._Element, base: str, paths: set[str], found: dict[str, set[str]]
) -> None:
    for child in element:
        if not isinstance(child.tag, str):
            continue
        path = f"{base}/{local_name(child)}"
        if path in paths:
            found[path].update(v for v in _SPACE.split(child.text or "") if v)
        elif len(child):
            _collect(child, path, paths, found)
