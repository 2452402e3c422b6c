"""One submission's XML turned into table rows: a row of the root table and one row per repeat
instance, with Central's ``KEY`` and ``PARENT_KEY`` (``uuid:…/hh/person[1]/visit[2]``).

Pure: no Flask, no database. Elements the schema does not know (and everything below them) are
left out, as Central does.
"""

from __future__ import annotations

import re
import threading
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


@dataclass(frozen=True)
class _Slot:
    """Where a value field's text goes: its table, first column, and how to write it."""

    table: Table
    index: int
    geopoint: bool
    pseudonymise: bool
    choices: dict[str, int] | None  # split select-multiple: value -> column


@dataclass
class _Plan:
    """The schema compiled for walking many instances fast."""

    kinds: dict[str, str]  # path -> "repeat" | "structure" | "value" (known fields only)
    slots: dict[str, _Slot]
    repeats: dict[str, Table]
    templates: dict[int, list[Cell]]  # id(table) -> its empty row


_NAMES: dict[str, str] = {}


def _plan(schema: ExportSchema) -> _Plan:
    if isinstance(schema.compiled, _Plan):
        return schema.compiled
    kinds = {}
    for fld in schema.fields:
        kinds[fld.path] = fld.type if fld.type in ("repeat", "structure") else "value"
    slots = {}
    for path, table in schema.table_of.items():
        idx = table.index[path]
        column = table.columns[idx]
        choices = None
        if column.field is not None and column.field.select_multiple:
            choices = {}
            j = idx + 1
            while j < len(table.columns) and table.columns[j].kind is ColumnKind.CHOICE:
                choices[table.columns[j].choice] = j
                j += 1
        slots[path] = _Slot(
            table, idx, column.kind is ColumnKind.GEO_PART, column.pseudonymise, choices or None
        )
    plan = _Plan(
        kinds=kinds,
        slots=slots,
        repeats=dict(schema.repeat_tables),
        templates={id(t): empty_row(t) for t in schema.tables},
    )
    schema.compiled = plan
    return plan


# Stored submissions passed :func:`server.xmlsafe.parse` when they arrived; reading them again
# needs no second scan, only a parser that still loads no DTD and resolves no entity (one per
# thread: lxml parsers are not to be shared between threads).
_local = threading.local()


def _parse_stored(data: bytes) -> etree._Element:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )
    try:
        return etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError:
        return parse(data, "the submission")  # raises the precise Problem


def _name(tag: str) -> str:
    name = _NAMES.get(tag)
    if name is None:
        name = tag.rsplit("}", 1)[-1]
        if len(_NAMES) < 10000:
            _NAMES[tag] = name
    return name


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
    element = _parse_stored(data)
    plan = _plan(schema)
    rows = InstanceRows(root=list(plan.templates[id(schema.root)]))
    _walk(plan, rows, pseudonymise, element, "", rows.root, [instance_key], instance_key, {})
    return rows


def _walk(
    plan: _Plan,
    rows: InstanceRows,
    pseudonymise: Callable[[str], str] | None,
    element: etree._Element,
    base: str,
    row: list[Cell],
    key: list[str],
    parent_key: str,
    counters: dict[str, int],
) -> None:
    kinds = plan.kinds
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        name = _name(tag)
        path = f"{base}/{name}"
        kind = kinds.get(path)
        if kind is None:
            continue
        if kind == "value":
            slot = plan.slots.get(path)
            if slot is not None:
                _value(slot, child, row, pseudonymise)
        elif kind == "structure":
            _walk(plan, rows, pseudonymise, child, path, row, [*key, name], parent_key, counters)
        else:
            table = plan.repeats.get(path)
            if table is None:
                continue
            counters[path] = counters.get(path, 0) + 1
            child_key = [*key, f"{name}[{counters[path]}]"]
            joined = "/".join(child_key)
            subrow = list(plan.templates[id(table)])
            subrow[-2] = parent_key
            subrow[-1] = joined
            _walk(plan, rows, pseudonymise, child, path, subrow, child_key, joined, {})
            rows.repeats.append((table, subrow))


def _value(
    slot: _Slot,
    element: etree._Element,
    row: list[Cell],
    pseudonymise: Callable[[str], str] | None,
) -> None:
    text = element.text
    if len(element):
        text = (text or "") + "".join(c.tail or "" for c in element)
    if text is None:
        return
    if slot.pseudonymise and pseudonymise is not None:
        text = pseudonymise(text)
    idx = slot.index
    if slot.geopoint:
        parts: list[Any] = _SPACE.split(text)
        for i in range(4):
            row[idx + i] = parts[i] if i < len(parts) else None
        return
    row[idx] = text
    if slot.choices is not None:
        for value in _SPACE.split(text):
            column = slot.choices.get(value)
            if column is not None:
                row[column] = 1


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
    root[meta + 1] = submission.submitter_id
    root[meta + 2] = submission.submitter_name
    root[meta + 3] = submission.attachments_present
    root[meta + 4] = submission.attachments_expected
    root[meta + 5] = submission.status  # Status: why an encrypted submission stayed closed
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
