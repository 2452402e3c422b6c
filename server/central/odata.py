"""OData for a form's submissions, as Central serves it to Power BI, Excel and
``pyodk.submissions.get_table``: the EDMX, and each submission as a JSON object.

Pure: plain data in (the XForm's fields, a submission's XML and metadata), JSON and XML out; no
Flask, no database. Tables are ``Submissions`` and one per repeat, named ``Submissions.`` and
the repeat's path joined with ``.``; a repeat row carries its own ``__id`` and its parent's
(``__Submissions-id``, or ``__Submissions-<repeat>-id`` under a nested repeat).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from server.exports.geojson import geometry
from server.exports.tables import Field, form_fields
from server.xmlsafe import local_name, parse

SUBMISSIONS = "Submissions"
NAMESPACE = "org.opendatakit.submission"
GEO_TYPES = ("geopoint", "geotrace", "geoshape")
_EDM = {
    "int": "Edm.Int64",
    "decimal": "Edm.Decimal",
    "date": "Edm.Date",
    "dateTime": "Edm.DateTimeOffset",
    "geopoint": "Edm.GeographyPoint",
    "geotrace": "Edm.GeographyLineString",
    "geoshape": "Edm.GeographyPolygon",
}


@dataclass
class Node:
    """A field of the form, with its children when it is a group or a repeat."""

    field: Field
    children: list[Node] = dataclasses.field(default_factory=list)

    @property
    def name(self) -> str:
        return self.field.name


@dataclass(frozen=True)
class SystemValues:
    """What Central puts in ``__system`` for one submission."""

    submission_date: str
    updated_at: str | None
    submitter_id: int
    submitter_name: str
    attachments_present: int
    attachments_expected: int
    review_state: str | None
    device_id: str | None
    edits: int
    form_version: str

    def json(self) -> dict[str, Any]:
        return {
            "submissionDate": self.submission_date,
            "updatedAt": self.updated_at,
            # Central's OData declares submitterId a string.
            "submitterId": str(self.submitter_id),
            "submitterName": self.submitter_name,
            "attachmentsPresent": self.attachments_present,
            "attachmentsExpected": self.attachments_expected,
            "status": None,
            "reviewState": self.review_state,
            "deviceId": self.device_id,
            "edits": self.edits,
            "formVersion": self.form_version,
            "deletedAt": None,
        }


def field_tree(xform: str) -> list[Node]:
    """The form's fields as a tree (top-level nodes first, in instance order)."""
    nodes: dict[str, Node] = {}
    roots: list[Node] = []
    for fld in form_fields(xform):
        node = Node(fld)
        nodes[fld.path] = node
        parent = nodes.get(fld.parent_path)
        (parent.children if parent is not None else roots).append(node)
    return roots


def repeat_tables(tree: list[Node]) -> dict[str, tuple[list[str], Node]]:
    """Every repeat's table name, with the repeat names above it (outermost first)."""
    tables: dict[str, tuple[list[str], Node]] = {}

    def walk(nodes: list[Node], trail: list[str], repeats: list[str]) -> None:
        for node in nodes:
            if node.field.type == "repeat":
                path = [*trail, node.name]
                tables[".".join([SUBMISSIONS, *path])] = (repeats, node)
                walk(node.children, path, [*repeats, ".".join(path)])
            elif node.field.type == "structure":
                walk(node.children, [*trail, node.name], repeats)

    walk(tree, [], [])
    return tables


# --- values --------------------------------------------------------------------------------------


def _wkt(shape: dict[str, Any]) -> str:
    def point(coords: list[float]) -> str:
        return " ".join(_number(c) for c in coords)

    if shape["type"] == "Point":
        return f"POINT ({point(shape['coordinates'])})"
    if shape["type"] == "LineString":
        return f"LINESTRING ({', '.join(point(c) for c in shape['coordinates'])})"
    ring = ", ".join(point(c) for c in shape["coordinates"][0])
    return f"POLYGON (({ring}))"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def typed_value(kind: str, text: str, *, wkt: bool) -> Any:
    """A value as Central's OData types it; an empty value is null."""
    if text == "":
        return None
    try:
        if kind == "int":
            return int(text)
        if kind == "decimal":
            return float(text)
    except ValueError:
        return text
    if kind in GEO_TYPES:
        shape = geometry(kind, text)
        if shape is None:
            return None
        if wkt:
            return _wkt(shape)
        parts = text.split(";")[0].split()
        if kind == "geopoint" and len(parts) > 3:
            shape["properties"] = {"accuracy": float(parts[3])}
        return shape
    return text


def _children(element: etree._Element | None, name: str) -> list[etree._Element]:
    if element is None:
        return []
    return [c for c in element if isinstance(c.tag, str) and local_name(c) == name]


def repeat_id(parent_id: str, path: str, index: int) -> str:
    """A repeat row's ``__id``: stable for the same submission, path and position."""
    return hashlib.sha1(f"{parent_id}/{path}/{index}".encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Context:
    instance_id: str
    navigation_base: str  # "Submissions('uuid%3A...')"
    expand: bool
    wkt: bool


def _object(
    nodes: list[Node], element: etree._Element | None, ctx: Context, path: str, row_id: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for node in nodes:
        found = _children(element, node.name)
        first = found[0] if found else None
        here = f"{path}/{node.name}" if path else node.name
        if node.field.type == "repeat":
            if ctx.expand:
                out[node.name] = [
                    {
                        "__id": repeat_id(row_id, here, i),
                        **_object(node.children, e, ctx, here, repeat_id(row_id, here, i)),
                    }
                    for i, e in enumerate(found)
                ]
            else:
                out[f"{node.name}@odata.navigationLink"] = f"{ctx.navigation_base}/{here}"
        elif node.field.type == "structure":
            out[node.name] = _object(node.children, first, ctx, here, row_id)
        else:
            text = (first.text or "") if first is not None else ""
            out[node.name] = typed_value(node.field.type, text.strip(), wkt=ctx.wkt)
    return out


def submission_object(
    tree: list[Node], xml: str, system: SystemValues, ctx: Context
) -> dict[str, Any]:
    """One row of the ``Submissions`` table."""
    root = parse(xml.encode("utf-8"), "the submission")
    body = _object(tree, root, ctx, "", ctx.instance_id)
    return {"__id": ctx.instance_id, **body, "__system": system.json()}


def repeat_rows(tree: list[Node], table: str, xml: str, ctx: Context) -> list[dict[str, Any]]:
    """The rows one submission contributes to a repeat's table."""
    path = table.split(".")[1:]
    root = parse(xml.encode("utf-8"), "the submission")
    rows: list[dict[str, Any]] = []

    def walk(
        nodes: list[Node], element: etree._Element, depth: int, trail: str, parent: tuple[str, str]
    ) -> None:
        for node in nodes:
            if node.name != path[depth]:
                continue
            here = f"{trail}/{node.name}" if trail else node.name
            found = _children(element, node.name)
            if node.field.type == "structure":
                for e in found[:1]:
                    walk(node.children, e, depth + 1, here, parent)
            elif node.field.type == "repeat":
                for i, e in enumerate(found):
                    own = repeat_id(parent[1], here, i)
                    if depth == len(path) - 1:
                        row = {**_object(node.children, e, ctx, here, own), "__id": own}
                        row[parent[0]] = parent[1]
                        rows.append(row)
                    else:
                        key = "__" + "-".join([SUBMISSIONS, *path[: depth + 1]]) + "-id"
                        walk(node.children, e, depth + 1, here, (key, own))

    walk(tree, root, 0, "", (f"__{SUBMISSIONS}-id", ctx.instance_id))
    return rows


# --- $select -------------------------------------------------------------------------------------


def select(row: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """Keep only the named properties (``name``, ``group/field``, ``__system/reviewState``)."""
    out: dict[str, Any] = {}
    for path in paths:
        parts = path.split("/")
        source: Any = row
        target = out
        for part in parts[:-1]:
            source = source.get(part) if isinstance(source, dict) else None
            target = target.setdefault(part, {})
        if isinstance(source, dict) and parts[-1] in source:
            target[parts[-1]] = source[parts[-1]]
    return out


def known_paths(tree: list[Node]) -> set[str]:
    """Every property ``$select`` may name on the ``Submissions`` table."""
    paths = {"__id", "__system"} | {f"__system/{k}" for k in _SYSTEM_FIELDS}

    def walk(nodes: list[Node], trail: str) -> None:
        for node in nodes:
            here = f"{trail}/{node.name}" if trail else node.name
            paths.add(here)
            if node.field.type == "structure":
                walk(node.children, here)

    walk(tree, "")
    return paths


def repeat_paths(tree: list[Node], table: str) -> set[str]:
    """Every property ``$select`` may name on a repeat's table: its own fields (groups as
    ``group/field``), ``__id`` and the parent's key."""
    parents, node = repeat_tables(tree)[table]
    parent_key = (
        "__" + "-".join([SUBMISSIONS, *parents[-1].split(".")]) + "-id"
        if parents
        else f"__{SUBMISSIONS}-id"
    )
    paths = {"__id", parent_key}

    def walk(nodes: list[Node], trail: str) -> None:
        for child in nodes:
            here = f"{trail}/{child.name}" if trail else child.name
            if child.field.type == "repeat":
                paths.add(f"{child.name}@odata.navigationLink")
                continue
            paths.add(here)
            if child.field.type == "structure":
                walk(child.children, here)

    walk(node.children, "")
    return paths


# The kind of value each field type is filtered as (server.exports.filters); geo values are not.
_FILTER_KINDS = {"int": "int", "decimal": "number", "date": "date", "dateTime": "datetime"}


def filter_fields(tree: list[Node]) -> dict[str, str]:
    """The form's fields ``$filter`` may name, by path (outside repeats), with their kind."""
    out: dict[str, str] = {}

    def walk(nodes: list[Node], trail: str) -> None:
        for node in nodes:
            here = f"{trail}/{node.name}" if trail else node.name
            if node.field.type == "structure":
                walk(node.children, here)
            elif node.field.type != "repeat" and node.field.type not in GEO_TYPES:
                out[here] = _FILTER_KINDS.get(node.field.type, "text")

    walk(tree, "")
    return out


def filter_value(kind: str, value: Any) -> Any:
    """A row's value as ``$filter`` compares it: dates and date-times parsed, else as typed."""
    if value is None or not isinstance(value, str) or kind not in ("date", "datetime"):
        return value
    try:
        if kind == "date":
            return date.fromisoformat(value[:10])
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def path_value(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


_SYSTEM_FIELDS = (
    "submissionDate",
    "updatedAt",
    "submitterId",
    "submitterName",
    "attachmentsPresent",
    "attachmentsExpected",
    "status",
    "reviewState",
    "deviceId",
    "edits",
    "formVersion",
    "deletedAt",
)


# --- $metadata -----------------------------------------------------------------------------------


def edmx(tree: list[Node], form_id: str) -> str:
    """The EDMX document: an entity type per table, a complex type per group, repeats as
    navigation properties, ``__system`` as ``SubmissionMetadata``."""
    complex_types: list[str] = []
    entity_types: list[str] = []
    sets: list[str] = []

    def prop(name: str, type_: str) -> str:
        return f"<Property Name={quoteattr(name)} Type={quoteattr(type_)}/>"

    def type_name(parts: list[str]) -> str:
        return ".".join([NAMESPACE, *parts]) if parts else f"{NAMESPACE}.{SUBMISSIONS}"

    def members(nodes: list[Node], trail: list[str], owner: list[str]) -> list[str]:
        out = []
        for node in nodes:
            here = [*trail, node.name]
            if node.field.type == "repeat":
                table = [SUBMISSIONS, *here]
                out.append(
                    f"<NavigationProperty Name={quoteattr(node.name)} "
                    f'Type="Collection({type_name(table)})"/>'
                )
                entity(node.children, here, table, owner)
            elif node.field.type == "structure":
                complex_name = type_name([SUBMISSIONS, *here])
                out.append(prop(node.name, complex_name))
                complex_types.append(
                    f'<ComplexType Name="{escape(".".join([SUBMISSIONS, *here]))}">'
                    + "".join(members(node.children, here, owner))
                    + "</ComplexType>"
                )
            else:
                out.append(prop(node.name, _EDM.get(node.field.type, "Edm.String")))
        return out

    def entity(nodes: list[Node], trail: list[str], table: list[str], parent: list[str]) -> None:
        name = ".".join(table)
        keys = [prop("__id", "Edm.String")]
        if trail:
            keys.append(prop(f"__{'-'.join(parent)}-id", "Edm.String"))
        # A table comes before the repeats inside it, in the types and in the container.
        sets.append(f'<EntitySet Name="{escape(name)}" EntityType="{NAMESPACE}.{escape(name)}"/>')
        at = len(entity_types)
        body = "".join(members(nodes, trail, table))
        system = f'<Property Name="__system" Type="{NAMESPACE}.metadata"/>' if not trail else ""
        entity_types.insert(
            at,
            f'<EntityType Name="{escape(name)}"><Key><PropertyRef Name="__id"/></Key>'
            + "".join(keys)
            + body
            + system
            + "</EntityType>",
        )

    entity(tree, [], [SUBMISSIONS], [SUBMISSIONS])
    metadata = (
        '<ComplexType Name="metadata">'
        + "".join(
            prop(
                k,
                "Edm.DateTimeOffset"
                if k in ("submissionDate", "updatedAt", "deletedAt")
                else "Edm.Int64"
                if k in ("attachmentsPresent", "attachmentsExpected", "edits")
                else "Edm.String",
            )
            for k in _SYSTEM_FIELDS
        )
        + "</ComplexType>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">'
        '<edmx:DataServices><Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" '
        f'Namespace="{NAMESPACE}">'
        + "".join(entity_types)
        + metadata
        + "".join(complex_types)
        + f'</Schema><Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" '
        f'Namespace="{NAMESPACE}.{escape(form_id)}"><EntityContainer Name="{escape(form_id)}">'
        + "".join(sets)
        + "</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>"
    )
