"""Which fields of a form are personal, and taking them out of a submission's XML.

Pure functions over XForm and submission XML: a field is personal when its name starts with
``pii_`` or its bind carries ``fieldsync:personal="yes"`` (the XLSForm column
``fieldsync::personal``, or ``bind::fieldsync:personal``). Each form version answers for
itself, so a field marked in version 2 is personal in version 2's submissions.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from functools import lru_cache

from lxml import etree

from server.xmlsafe import local_name, parse

FIELDSYNC_NS = "urn:fieldsync:xforms"
PERSONAL_ATTRIBUTE = f"{{{FIELDSYNC_NS}}}personal"
PII_PREFIX = "pii_"
TRUE_WORDS = frozenset({"yes", "true", "true()", "1"})


def is_personal_name(name: str) -> bool:
    """A field or property named ``pii_...`` is personal whatever its form says."""
    return name.rsplit("/", 1)[-1].startswith(PII_PREFIX)


def marked_personal(value: object) -> bool:
    return str(value or "").strip().lower() in TRUE_WORDS


def personal_paths(xform: str) -> frozenset[str]:
    """The personal fields of a form version, as paths below the instance root
    (``/demographics/pii_phone``), repeats included (no positions)."""
    return _personal_paths(xform)


@lru_cache(maxsize=256)
def _personal_paths(xform: str) -> frozenset[str]:
    root = parse(xform.encode("utf-8"), "the XForm")
    found: set[str] = set()
    for node in root.iter():
        if not isinstance(node.tag, str) or local_name(node) != "bind":
            continue
        nodeset = node.get("nodeset", "")
        if not nodeset:
            continue
        if is_personal_name(nodeset) or marked_personal(node.get(PERSONAL_ATTRIBUTE)):
            found.add(_below_root(nodeset))
    return frozenset(found)


def _below_root(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    return "/" + "/".join(parts[1:])


def _personal_elements(root: etree._Element, paths: Collection[str]) -> Iterator[etree._Element]:
    """Elements of a submission that hold personal answers (outermost ones only)."""

    def walk(element: etree._Element, path: str) -> Iterator[etree._Element]:
        for item in element:
            if not isinstance(item.tag, str):
                continue
            name = local_name(item)
            here = f"{path}/{name}"
            if here in paths or name.startswith(PII_PREFIX):
                yield item
            else:
                yield from walk(item, here)

    yield from walk(root, "")


def redact_xml(xml: str, paths: Collection[str]) -> str:
    """The submission with every personal answer emptied (the elements stay, so the XML still
    fits its form). Returns ``xml`` unchanged when nothing personal is in it."""
    root = parse(xml.encode("utf-8"), "the submission")
    changed = False
    for element in list(_personal_elements(root, paths)):
        if element.text or len(element):
            changed = True
        for item in list(element):
            element.remove(item)
        element.text = None
    if not changed:
        return xml
    return etree.tostring(root, encoding="unicode")


def personal_answers(xml: str, paths: Collection[str]) -> set[str]:
    """The text of every personal answer: the file names of personal attachments (a photo of
    a person, a consent signature) are among them."""
    root = parse(xml.encode("utf-8"), "the submission")
    values: set[str] = set()
    for element in _personal_elements(root, paths):
        for node in element.iter():
            if node.text and node.text.strip():
                values.add(node.text.strip())
    return values
