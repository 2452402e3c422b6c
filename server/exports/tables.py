"""A form's export tables, read from its XForm: which fields exist, in which order, and the
columns each table (the root and one per repeat group) has.

This follows ODK Central's export so a script written for Central reads ours unchanged: fields
in the depth-first order of the primary instance, group paths joined with ``-``, geopoints split
in four, select-multiples optionally split into one 0/1 column per value. Pure: no Flask, no
database.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from server.xmlsafe import local_name, parse

GEOPOINT_PARTS = ("Latitude", "Longitude", "Altitude", "Accuracy")
ROOT_TRAILER = (
    "KEY",
    "SubmitterID",
    "SubmitterName",
    "AttachmentsPresent",
    "AttachmentsExpected",
    "Status",
    "ReviewState",
    "DeviceID",
    "Edits",
    "FormVersion",
)
REPEAT_TRAILER = ("PARENT_KEY", "KEY")
_ILLEGAL_FILE_CHARS = re.compile(r'[/\\?<>:*|"\x00-\x1f\x80-\x9f]')


@dataclass(frozen=True)
class Field:
    """One node of the primary instance: a group (``structure``), a repeat, or a value."""

    path: str  # "/hh/person/age", namespaces stripped, envelope root left out
    name: str
    type: str  # the bind type ("string", "int", "geopoint", ...), "structure" or "repeat"
    select_multiple: bool = False

    @property
    def is_container(self) -> bool:
        return self.type in ("structure", "repeat")

    @property
    def parent_path(self) -> str:
        return self.path.rsplit("/", 1)[0]


def _strip_ns(name: str) -> str:
    return name.split(":", 1)[1] if ":" in name else name


def _strip_path(path: str) -> str:
    return "/".join(_strip_ns(p) for p in path.split("/"))


def form_fields(xform: str | bytes) -> list[Field]:
    """The fields of an XForm, depth-first in instance order.

    Raises:
        Problem: 400 when the XForm is not well-formed XML (it was checked on publishing, so
            this means a corrupted row).
    """
    data = xform.encode("utf-8") if isinstance(xform, str) else xform
    root = parse(data, "the XForm")
    model = next((e for e in root.iter() if _is(e, "model")), None)
    body = next((e for e in root.iter() if _is(e, "body")), None)
    if model is None:
        return []
    instance = next((e for e in model if _is(e, "instance")), None)
    primary = (
        next((e for e in instance if isinstance(e.tag, str)), None)
        if instance is not None
        else None
    )
    if primary is None:
        return []
    envelope = local_name(primary)
    binds: dict[str, str] = {}
    for bind in model:
        if _is(bind, "bind") and bind.get("type") and bind.get("nodeset"):
            nodeset = bind.get("nodeset", "")
            if not nodeset.startswith("/"):
                nodeset = f"/{envelope}/{nodeset}"
            binds.setdefault(_strip_path(nodeset), bind.get("type", ""))
    repeats: set[str] = set()
    selects: set[str] = set()
    if body is not None:
        for node in body.iter():
            if _is(node, "repeat") and node.get("nodeset"):
                repeats.add(_strip_path(node.get("nodeset", "")))
            elif _is(node, "select"):
                ref = node.get("ref") or node.get("nodeset")
                if ref:
                    selects.add(_strip_path(ref))
    fields: list[Field] = []
    _walk(primary, f"/{envelope}", "", binds, repeats, selects, fields)
    return fields


def _is(element: etree._Element, name: str) -> bool:
    return isinstance(element.tag, str) and local_name(element) == name


def _walk(
    node: etree._Element,
    bind_base: str,
    base: str,
    binds: dict[str, str],
    repeats: set[str],
    selects: set[str],
    out: list[Field],
) -> None:
    seen_repeats: set[str] = set()
    for child in node:
        if not isinstance(child.tag, str):
            continue
        name = local_name(child)
        path = f"{base}/{name}"
        bind_path = f"{bind_base}/{name}"
        has_children = any(isinstance(c.tag, str) for c in child)
        if bind_path in repeats:
            # pyxform writes a repeat twice (a jr:template and a first instance): keep one.
            if bind_path in seen_repeats:
                continue
            seen_repeats.add(bind_path)
            kind = "repeat"
        elif bind_path in binds:
            kind = binds[bind_path]
        elif has_children or (name == "entity" and "/meta/entity" in path):
            kind = "structure"
        else:
            kind = "unknown"
        out.append(Field(path, name, kind, select_multiple=bind_path in selects))
        if kind in ("repeat", "structure") and has_children:
            _walk(child, bind_path, path, binds, repeats, selects, out)


def merge_fields(current: Sequence[Field], older: Iterable[Sequence[Field]]) -> list[Field]:
    """The current fields plus those only earlier versions had (``deletedFields=true``).

    A field only an earlier version had goes right after the field that preceded it in that
    version (or first in its group), so it stays in its group or repeat table. ``older`` is
    newest first; where a path changed type, the newer definition wins.
    """
    merged = list(current)
    known = {f.path for f in merged}
    for version in older:
        previous: str | None = None
        for fld in version:
            if fld.path not in known:
                merged.insert(_insert_at(merged, fld, previous), fld)
                known.add(fld.path)
            previous = fld.path
    return merged


def _insert_at(merged: list[Field], fld: Field, previous: str | None) -> int:
    parent = fld.parent_path
    if previous is not None:
        positions = [i for i, f in enumerate(merged) if f.path == previous]
        if positions and (previous == parent or previous.startswith(parent + "/")):
            i = positions[0] + 1
            # Past the previous field's own children.
            while i < len(merged) and merged[i].path.startswith(previous + "/"):
                i += 1
            return i
    if parent:
        positions = [i for i, f in enumerate(merged) if f.path == parent]
        if positions:
            return positions[0] + 1
    return 0


# --- the column policy --------------------------------------------------------------------------


class ColumnAction(enum.Enum):
    KEEP = "keep"
    DROP = "drop"
    PSEUDONYMISE = "pseudonymise"


# Decides, for a field and the exporting role, whether its column is written as it is, left out,
# or replaced by a pseudonym. The one place where columns are filtered.
ColumnPolicy = Callable[[Field, str], ColumnAction]


def keep_everything(_field: Field, _role: str) -> ColumnAction:
    """Every field as it is. Personal fields are left out for callers who may not read them by
    :func:`server.exports.service.personal_columns_dropped`, which wraps this policy."""
    return ColumnAction.KEEP


# --- tables and columns -----------------------------------------------------------------------


class ColumnKind(enum.Enum):
    VALUE = "value"
    GEO_PART = "geo_part"  # one of the four parts of a geopoint
    CHOICE = "choice"  # one 0/1 column of a split select-multiple
    META = "meta"  # SubmissionDate, KEY, PARENT_KEY, SubmitterID, ...


@dataclass(frozen=True)
class Column:
    header: str
    kind: ColumnKind
    field: Field | None = None
    part: int = 0  # GEO_PART: index into the split value
    choice: str = ""  # CHOICE: the value this column counts
    pseudonymise: bool = False


@dataclass
class Table:
    """The root table (``repeat`` is None) or the table of one repeat group."""

    file_stem: str  # "<formId>" or "<formId>-<repeat name>" (with "~n" on a clash)
    repeat: Field | None
    columns: list[Column] = field(default_factory=list)
    # Field path -> index of its first column in this table.
    index: dict[str, int] = field(default_factory=dict)

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]


@dataclass
class ExportSchema:
    form_id: str
    fields: list[Field]
    tables: list[Table]  # the root first, then repeats depth-first
    by_path: dict[str, Field]
    # Field path -> the table its value is written to.
    table_of: dict[str, Table]
    repeat_tables: dict[str, Table]
    # The walking plan :mod:`server.exports.rows` compiles from this schema on first use.
    compiled: Any = None

    @property
    def root(self) -> Table:
        return self.tables[0]


def build_schema(
    form_id: str,
    fields: Sequence[Field],
    *,
    group_paths: bool = True,
    select_values: dict[str, list[str]] | None = None,
    include_repeats: bool = True,
    policy: ColumnPolicy = keep_everything,
    role: str = "viewer",
) -> ExportSchema:
    """Lay the fields out in tables and columns.

    ``select_values`` maps a select-multiple's path to the values to split it into (only when
    splitting was asked for). ``policy`` decides per field and role whether its column is kept,
    dropped or pseudonymised.
    """
    root = Table(file_stem=form_id, repeat=None)
    root.columns.append(Column("SubmissionDate", ColumnKind.META))
    tables = [root]
    table_of: dict[str, Table] = {}
    repeat_tables: dict[str, Table] = {}
    stack: list[Table] = [root]
    kept: list[Field] = []
    skipped: str | None = None  # a repeat left out with everything in it
    for fld in fields:
        if skipped is not None and fld.path.startswith(skipped + "/"):
            continue
        skipped = None
        while len(stack) > 1 and not fld.path.startswith(_repeat_path(stack[-1]) + "/"):
            _close_repeat(stack.pop())
        if fld.type == "repeat":
            if not include_repeats:
                skipped = fld.path
                continue
            table = Table(file_stem="", repeat=fld)
            tables.append(table)
            repeat_tables[fld.path] = table
            stack.append(table)
            kept.append(fld)
            continue
        kept.append(fld)
        if fld.type == "structure":
            continue
        action = policy(fld, role)
        if action is ColumnAction.DROP:
            continue
        table = stack[-1]
        table_of[fld.path] = table
        table.index[fld.path] = len(table.columns)
        base = _relative(fld, table) if group_paths else fld.name
        pseudo = action is ColumnAction.PSEUDONYMISE
        if fld.type == "geopoint":
            for i, part in enumerate(GEOPOINT_PARTS):
                table.columns.append(
                    Column(f"{base}-{part}", ColumnKind.GEO_PART, fld, i, "", pseudo)
                )
        else:
            table.columns.append(Column(base, ColumnKind.VALUE, fld, pseudonymise=pseudo))
            if fld.select_multiple and select_values and fld.path in select_values and not pseudo:
                for value in select_values[fld.path]:
                    table.columns.append(
                        Column(f"{base}/{value}", ColumnKind.CHOICE, fld, choice=value)
                    )
    while len(stack) > 1:
        _close_repeat(stack.pop())
    root.columns.extend(Column(h, ColumnKind.META) for h in ROOT_TRAILER)
    _name_repeat_files(form_id, tables[1:])
    return ExportSchema(
        form_id=form_id,
        fields=kept,
        tables=tables,
        by_path={f.path: f for f in kept},
        table_of=table_of,
        repeat_tables=repeat_tables,
    )


def _repeat_path(table: Table) -> str:
    assert table.repeat is not None
    return table.repeat.path


def _relative(fld: Field, table: Table) -> str:
    prefix = "" if table.repeat is None else table.repeat.path
    return fld.path[len(prefix) + 1 :].replace("/", "-")


def _close_repeat(table: Table) -> None:
    table.columns.extend(Column(h, ColumnKind.META) for h in REPEAT_TRAILER)


def _name_repeat_files(form_id: str, repeats: list[Table]) -> None:
    totals: dict[str, int] = {}
    for table in repeats:
        assert table.repeat is not None
        totals[table.repeat.name] = totals.get(table.repeat.name, 0) + 1
    counts: dict[str, int] = {}
    for table in repeats:
        assert table.repeat is not None
        name = table.repeat.name
        if totals[name] > 1:
            counts[name] = counts.get(name, 0) + 1
            table.file_stem = safe_file_name(f"{form_id}-{name}~{counts[name]}")
        else:
            table.file_stem = safe_file_name(f"{form_id}-{name}")


def safe_file_name(name: str) -> str:
    """A name safe in a zip on every system (what Central's sanitize-filename removes)."""
    cleaned = _ILLEGAL_FILE_CHARS.sub("", name).rstrip(". ")
    return cleaned[:240] or "_"
