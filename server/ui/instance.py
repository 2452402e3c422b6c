"""One submission laid out for its page: its fields in form order, a heading per group, each
repeat as a table, the files it names, and its geopoints and shapes for the map. Pure: the
stored XML and the form's fields in, plain data out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from server.exports.tables import Field
from server.xmlsafe import local_name, parse

GEO_TYPES = ("geopoint", "geotrace", "geoshape")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp")


@dataclass
class Value:
    name: str
    path: str
    type: str
    text: str

    @property
    def is_image(self) -> bool:
        return self.type == "binary" and self.text.lower().endswith(IMAGE_SUFFIXES)

    @property
    def is_file(self) -> bool:
        return self.type == "binary" and bool(self.text)


@dataclass
class Group:
    name: str
    path: str
    children: list[Node] = field(default_factory=list)


@dataclass
class Repeat:
    name: str
    path: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Value | None]] = field(default_factory=list)


Node = Value | Group | Repeat


@dataclass
class Laid:
    nodes: list[Node]
    shapes: list[dict[str, Any]]  # {"type": geopoint|geotrace|geoshape, "name", "points"}
    files: list[str]


def _points(text: str) -> list[list[float]]:
    points = []
    for part in text.split(";"):
        numbers = part.split()
        if len(numbers) >= 2:
            try:
                points.append([float(numbers[0]), float(numbers[1])])
            except ValueError:
                continue
    return points


def lay_out(xml: str, fields: list[Field], *, skip: tuple[str, ...] = ("meta",)) -> Laid:
    """Raises: Problem 400 when the stored XML is not well-formed (never for a stored row)."""
    root = parse(xml.encode("utf-8"), "the submission")
    by_path = {f.path: f for f in fields}
    laid = Laid([], [], [])
    laid.nodes = _children(root, "", by_path, laid, skip)
    return laid


def _children(
    element: etree._Element,
    prefix: str,
    by_path: dict[str, Field],
    laid: Laid,
    skip: tuple[str, ...],
) -> list[Node]:
    nodes: list[Node] = []
    repeats: dict[str, Repeat] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = local_name(child)
        path = f"{prefix}/{name}"
        if not prefix and name in skip:
            continue
        known = by_path.get(path)
        kind = known.type if known is not None else ("structure" if len(child) else "string")
        if kind == "repeat":
            table = repeats.get(path)
            if table is None:
                table = Repeat(name, path)
                repeats[path] = table
                nodes.append(table)
            _repeat_row(child, path, by_path, laid, table)
        elif kind == "structure":
            nodes.append(Group(name, path, _children(child, path, by_path, laid, skip)))
        else:
            nodes.append(_value(child, name, path, kind, laid))
    return nodes


def _value(element: etree._Element, name: str, path: str, kind: str, laid: Laid) -> Value:
    text = (element.text or "").strip()
    if kind in GEO_TYPES and text:
        points = _points(text)
        if points:
            laid.shapes.append({"type": kind, "name": name, "points": points})
    if kind == "binary" and text:
        laid.files.append(text)
    return Value(name, path, kind, text)


def _leaves(element: etree._Element, relative: str) -> list[tuple[str, etree._Element]]:
    found = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = f"{relative}/{local_name(child)}" if relative else local_name(child)
        found.extend(_leaves(child, name) if len(child) else [(name, child)])
    return found


def _repeat_row(
    element: etree._Element, path: str, by_path: dict[str, Field], laid: Laid, table: Repeat
) -> None:
    cells: dict[str, Value] = {}
    for relative, node in _leaves(element, ""):
        known = by_path.get(f"{path}/{relative}")
        kind = known.type if known is not None else "string"
        cells[relative] = _value(node, relative, f"{path}/{relative}", kind, laid)
    table.columns.extend(c for c in cells if c not in table.columns)
    table.rows.append([cells.get(c) for c in table.columns])
    for row in table.rows:
        row.extend([None] * (len(table.columns) - len(row)))
