"""Build submissions of the library's forms the way ODK Collect fills them, entity block
included, from the form's own compiled entity declarations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from lxml import etree

from server.forms.models import FormVersion


@dataclass
class Filled:
    """A filled form: where values go is read from the published form version."""

    form_id: str
    form: FormVersion
    instance_id: str = field(default_factory=lambda: f"uuid:{uuid.uuid4()}")
    entity_id: str = ""
    create: bool = False
    update: bool = False
    label: str | None = None
    base_version: int | None = None
    trunk_version: int | None = None
    branch_id: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    date_of_information: str = "2026-11-20"
    deprecated_id: str | None = None
    device_id: str = "collect:test-device"

    def xml(self) -> bytes:
        spec = self.form.entity_spec
        root_name = "data"
        root = etree.Element(root_name, id=self.form_id, version=self.form.version)
        paths = {p["name"]: p["path"] for p in spec.get("properties", [])}
        etree.SubElement(root, "deviceid").text = self.device_id
        for name, value in {"date_of_information": self.date_of_information, **self.values}.items():
            path = paths.get(name, f"/{root_name}/{name}")
            node = root
            for part in [p for p in path.split("/") if p][1:]:
                found = node.find(part)
                node = found if found is not None else etree.SubElement(node, part)
            node.text = value
        meta = etree.SubElement(root, "meta")
        entity = etree.SubElement(
            meta,
            "entity",
            dataset=spec["dataset"],
            id=self.entity_id,
            create="true" if self.create else "false",
            update="true" if self.update else "false",
            baseVersion=_s(self.base_version),
            trunkVersion=_s(self.trunk_version),
            branchId=self.branch_id or "",
        )
        if self.label is not None:
            etree.SubElement(entity, "label").text = self.label
        etree.SubElement(meta, "instanceID").text = self.instance_id
        if self.deprecated_id:
            etree.SubElement(meta, "deprecatedID").text = self.deprecated_id
        return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _s(value: int | None) -> str:
    return "" if value is None else str(value)
