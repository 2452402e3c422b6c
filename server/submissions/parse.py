"""Reading what the server needs out of a submitted instance: which form and version it
answers, its instanceID and deprecatedID, its name, and which files it references."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from lxml import etree

from server import errors
from server.forms.encrypt import carries_public_key
from server.xmlsafe import child, child_text, local_name, parse


@dataclass
class ParsedInstance:
    root: etree._Element
    form_id: str
    version: str
    instance_id: str
    deprecated_id: str | None
    instance_name: str
    device_id: str


def parse_instance(data: bytes) -> ParsedInstance:
    """Parse a submission's XML.

    Raises:
        Problem: 400 for hostile or malformed XML, or an instance without ``id`` or
            ``meta/instanceID``.
    """
    root = parse(data, "the submission")
    form_id = root.get("id") or ""
    if not form_id:
        raise errors.bad_submission(
            f"the instance's root element <{local_name(root)}> carries no id attribute naming "
            "its form"
        )
    meta = child(root, "meta")
    instance_id = child_text(meta, "instanceID") if meta is not None else None
    if not instance_id:
        raise errors.bad_submission("the instance has no meta/instanceID")
    if len(instance_id) > 200:
        raise errors.bad_submission("meta/instanceID is longer than 200 characters")
    deprecated = (child_text(meta, "deprecatedID") if meta is not None else None) or None
    return ParsedInstance(
        root=root,
        form_id=form_id,
        version=root.get("version") or "",
        instance_id=instance_id,
        deprecated_id=deprecated,
        instance_name=((child_text(meta, "instanceName") if meta is not None else "") or "")[:500],
        device_id=(_find_text(root, "deviceid") or "")[:200],
    )


def _find_text(root: etree._Element, name: str) -> str | None:
    for node in root:
        if isinstance(node.tag, str) and local_name(node) == name:
            return (node.text or "").strip()
    return None


@lru_cache(maxsize=256)
def binary_paths(form_xml_sha256: str, form_xml: str) -> tuple[tuple[str, ...], ...]:
    """The instance paths of a form's binary (file) fields, as tuples of local names below the
    root. Cached by the form version's hash: forms are immutable."""
    root = parse(form_xml.encode("utf-8"), "the XForm")
    paths = []
    for node in root.iter():
        if (
            isinstance(node.tag, str)
            and local_name(node) == "bind"
            and node.get("type") == "binary"
        ):
            nodeset = node.get("nodeset", "")
            parts = [p for p in nodeset.split("/") if p]
            if len(parts) >= 2:
                paths.append(tuple(parts[1:]))
    return tuple(paths)


def referenced_files(root: etree._Element, paths: tuple[tuple[str, ...], ...]) -> set[str]:
    """File names the instance references in its binary fields (repeats included)."""
    names: set[str] = set()
    for path in paths:
        nodes = [root]
        for part in path:
            nodes = [
                c for n in nodes for c in n if isinstance(c.tag, str) and local_name(c) == part
            ]
        for node in nodes:
            text = (node.text or "").strip()
            if text:
                names.add(text)
    return names


@lru_cache(maxsize=256)
def version_encrypted(form_xml_sha256: str, form_xml: str) -> bool:
    """Whether a form version asks devices to encrypt (its ``<submission>`` carries
    ``base64RsaPublicKey``). Cached by the version's hash: forms are immutable."""
    return carries_public_key(form_xml)
