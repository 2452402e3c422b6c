"""OpenRosa response bodies and headers, in one place: messages, the form list, manifests.

Bodies are built as strings with escaped values rather than through an XML library: they are
small, flat and on the hot path of every device request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import formatdate
from xml.sax.saxutils import escape, quoteattr

from flask import Response

OPENROSA_VERSION = "1.0"
OPENROSA_NS = "http://openrosa.org/http/response"
XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"


def openrosa_headers() -> dict[str, str]:
    return {
        "X-OpenRosa-Version": OPENROSA_VERSION,
        "Date": formatdate(usegmt=True),
    }


def message_body(text: str, nature: str = "") -> str:
    nature_attr = f" nature={quoteattr(nature)}" if nature else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<OpenRosaResponse xmlns="{OPENROSA_NS}" items="0">'
        f"<message{nature_attr}>{escape(text)}</message>"
        "</OpenRosaResponse>"
    )


def message_response(status: int, text: str, nature: str = "") -> Response:
    """An ``<OpenRosaResponse>`` carrying one message; Collect shows its text to the user."""
    response = Response(message_body(text, nature), status=status)
    response.headers.update(openrosa_headers())
    response.headers["Content-Type"] = XML_CONTENT_TYPE
    return response


@dataclass(frozen=True)
class FormListEntry:
    form_id: str
    name: str
    version: str
    md5: str
    download_url: str
    manifest_url: str | None


def form_list_body(entries: Iterable[FormListEntry]) -> str:
    """The ``<xforms>`` document of the OpenRosa form list API."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<xforms xmlns="{XFORMS_LIST_NS}">']
    for entry in entries:
        parts.append(
            "<xform>"
            f"<formID>{escape(entry.form_id)}</formID>"
            f"<name>{escape(entry.name)}</name>"
            f"<version>{escape(entry.version)}</version>"
            f"<hash>md5:{entry.md5}</hash>"
            f"<downloadUrl>{escape(entry.download_url)}</downloadUrl>"
        )
        if entry.manifest_url:
            parts.append(f"<manifestUrl>{escape(entry.manifest_url)}</manifestUrl>")
        parts.append("</xform>")
    parts.append("</xforms>")
    return "".join(parts)


@dataclass(frozen=True)
class MediaFileEntry:
    filename: str
    md5: str
    download_url: str
    entity_list: bool = False


def manifest_body(entries: Iterable[MediaFileEntry]) -> str:
    """The ``<manifest>`` document listing a form's media files."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<manifest xmlns="{MANIFEST_NS}">']
    for entry in entries:
        type_attr = ' type="entityList"' if entry.entity_list else ""
        parts.append(
            f"<mediaFile{type_attr}>"
            f"<filename>{escape(entry.filename)}</filename>"
            f"<hash>md5:{entry.md5}</hash>"
            f"<downloadUrl>{escape(entry.download_url)}</downloadUrl>"
            "</mediaFile>"
        )
    parts.append("</manifest>")
    return "".join(parts)


def submission_received_text(duplicate: bool, missing: list[str]) -> str:
    """What Collect shows after a 201: received, and which files are still awaited."""
    text = (
        "Thank you: this submission had already been received."
        if duplicate
        else "Thank you: submission received."
    )
    if missing:
        text += f" Still waiting for {len(missing)} attachment(s): {', '.join(missing)}."
    return text
