"""Parsing XML from the outside world without letting it reach the network, the file system,
or unbounded memory.

Submissions and XForms never need a DTD, so any DOCTYPE or entity declaration is refused before
anything is expanded ("billion laughs", external entities). lxml is told not to load DTDs, not
to resolve entities and not to touch the network, as a second line of defence.
"""

from __future__ import annotations

import re

from lxml import etree

from server import errors

_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse(data: bytes, what: str = "XML") -> etree._Element:
    """Parse untrusted XML.

    Raises:
        Problem: 400 ``xml.forbidden_construct`` for a DOCTYPE or entity declaration,
            400 ``xml.malformed`` for anything that is not well-formed XML.
    """
    if _FORBIDDEN.search(data[:65536]) or _FORBIDDEN.search(_utf16_probe(data)):
        raise errors.hostile_xml(f"{what} contains a DOCTYPE or ENTITY declaration")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise errors.malformed_xml(f"{what} is not well-formed XML: {exc}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise errors.hostile_xml(f"{what} contains a DOCTYPE")
    if root is None:
        raise errors.malformed_xml(f"{what} is empty")
    return root


def _utf16_probe(data: bytes) -> bytes:
    # A UTF-16 document would hide '<!DOCTYPE' from a byte scan; look at it decoded as well.
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data[:131072].decode("utf-16", errors="ignore").encode("utf-8")
        except (UnicodeError, LookupError):
            return b""
    return b""


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def child(element: etree._Element, name: str) -> etree._Element | None:
    """The first child whose local name is ``name`` (namespaces ignored)."""
    for node in element:
        if isinstance(node.tag, str) and etree.QName(node).localname == name:
            return node
    return None


def child_text(element: etree._Element, *path: str) -> str | None:
    node: etree._Element | None = element
    for name in path:
        if node is None:
            return None
        node = child(node, name)
    if node is None:
        return None
    return (node.text or "").strip()
