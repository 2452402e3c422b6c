"""Fill the library's forms the way ODK Collect does: the instance is the published form's own
primary instance (groups, repeats, meta and entity block as compiled), with answers by name."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from lxml import etree

JR_TEMPLATE = "{http://openrosa.org/javarosa}template"
XFORMS = "{http://www.w3.org/2002/xforms}"


def instance_xml(
    form_xml: str,
    values: dict[str, Any],
    *,
    repeats: dict[str, list[dict[str, Any]]] | None = None,
    entity: dict[str, str] | None = None,
    instance_id: str | None = None,
) -> tuple[str, bytes]:
    """The submission's instanceID and XML."""
    form = etree.fromstring(form_xml.encode("utf-8"))
    primary = next(form.iter(f"{XFORMS}instance"))
    data = copy.deepcopy(next(iter(primary)))
    for element in data.iter():
        if isinstance(element.tag, str):
            element.tag = etree.QName(element).localname
    etree.cleanup_namespaces(data)
    for name, items in (repeats or {}).items():
        _fill_repeat(data, name, items)
    for name in {e.tag.split("}")[-1] for e in data.iter() if e.get(JR_TEMPLATE) is not None}:
        if name not in (repeats or {}):
            _fill_repeat(data, name, [])
    for name, value in values.items():
        _leaf(data, name).text = str(value)
    ident = instance_id or f"uuid:{uuid.uuid4()}"
    meta = _find(data, "meta")
    _find(meta, "instanceID").text = ident
    if entity is not None:
        block = _find(meta, "entity")
        attributes = dict(entity)
        label = attributes.pop("label", None)
        for key, value in attributes.items():
            block.set(key, value)
        if label is not None:
            found = block.find("label")
            (found if found is not None else etree.SubElement(block, "label")).text = label
    return ident, etree.tostring(data, xml_declaration=True, encoding="utf-8")


def _fill_repeat(data: etree._Element, name: str, items: list[dict[str, Any]]) -> None:
    found = [e for e in data.iter() if _local(e) == name]
    template = next((e for e in found if e.get(JR_TEMPLATE) is not None), found[0])
    parent = template.getparent()
    assert parent is not None
    position = parent.index(template)
    for element in found:
        element.getparent().remove(element)  # type: ignore[union-attr]
    for offset, item in enumerate(items):
        clone = copy.deepcopy(template)
        clone.attrib.pop(JR_TEMPLATE, None)
        for key, value in item.items():
            _find(clone, key).text = str(value)
        parent.insert(position + offset, clone)


def _leaf(data: etree._Element, name: str) -> etree._Element:
    for element in data.iter():
        if _local(element) == name and not len(element):
            return element
    raise KeyError(f"the form has no field {name!r}")


def _find(parent: etree._Element, name: str) -> etree._Element:
    for element in parent.iter():
        if _local(element) == name:
            return element
    raise KeyError(name)


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""
