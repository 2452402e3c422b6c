"""Reading the entity block of a submission (``meta/entity``, ODK entities spec 2024.1 as
pyxform compiles it) together with the property values the form saves to the entity."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from server.xmlsafe import child, local_name

TRUE_VALUES = frozenset({"1", "true", "true()"})


@dataclass(frozen=True)
class EntityBlock:
    list_name: str
    uuid: str
    create: bool
    update: bool
    label: str | None
    base_version: int | None
    trunk_version: int | None
    branch_id: str | None
    values: dict[str, str] = field(default_factory=dict)
    date_of_information: str | None = None
    reason: str | None = None
    problems: tuple[str, ...] = ()


def _int_or_none(raw: str | None, name: str, problems: list[str]) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        problems.append(f"{name} {raw!r} is not a whole number")
        return None
    if value < 0:
        problems.append(f"{name} {raw!r} is negative")
        return None
    return value


def _node_at(root: etree._Element, path: str) -> etree._Element | None:
    parts = [p for p in path.split("/") if p][1:]
    node: etree._Element | None = root
    for part in parts:
        if node is None:
            return None
        node = child(node, part)
    return node


def read_entity_block(root: etree._Element, entity_spec: dict[str, object]) -> EntityBlock | None:
    """The submission's entity block, or None when it has none or it asks for nothing.

    Values are read at the paths the form saves to the entity. A blank value is treated as
    "not sent": a field that was not relevant in this report must not wipe what is known.
    """
    meta = child(root, "meta")
    entity = child(meta, "entity") if meta is not None else None
    if entity is None:
        return None
    create = (entity.get("create") or "").strip().lower() in TRUE_VALUES
    update = (entity.get("update") or "").strip().lower() in TRUE_VALUES
    if not create and not update:
        return None
    problems: list[str] = []
    label_node = child(entity, "label")
    label = (label_node.text or "").strip() if label_node is not None else ""
    values: dict[str, str] = {}
    date_of_information = None
    properties = entity_spec.get("properties") or []
    assert isinstance(properties, list)
    for prop in properties:
        node = _node_at(root, str(prop.get("path", "")))
        text = (node.text or "").strip() if node is not None else ""
        if text:
            values[str(prop["name"])] = text
    for node in root:
        if isinstance(node.tag, str) and local_name(node) == "date_of_information":
            date_of_information = (node.text or "").strip() or None
    reason = None
    for node in root.iter():
        if isinstance(node.tag, str) and local_name(node) == "reopen_reason":
            reason = (node.text or "").strip() or None
    return EntityBlock(
        list_name=entity.get("dataset", "") or str(entity_spec.get("dataset", "")),
        uuid=(entity.get("id") or "").strip().removeprefix("uuid:"),
        create=create,
        update=update,
        label=label or None,
        base_version=_int_or_none(entity.get("baseVersion"), "baseVersion", problems),
        trunk_version=_int_or_none(entity.get("trunkVersion"), "trunkVersion", problems),
        branch_id=(entity.get("branchId") or "").strip() or None,
        values=values,
        date_of_information=date_of_information,
        reason=reason,
        problems=tuple(problems),
    )
