"""What ``fieldsync import`` checks an instance against before queueing it: the forms the last
pull brought (an instance of a form the server does not have is refused at import, not at
push) and the files its XML names (a photo left on the tablet is a warning, naming the folder).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from sync_client.instances import FoundInstance, local_name
from sync_client.store import Store

# When the form's XML was not pulled: values that look like what Collect names a media file.
_MEDIA_NAME = re.compile(
    r"^[^/\\\s<>]{1,200}\.(jpe?g|png|gif|webp|heic|bmp|mp4|3gpp?|webm|mov|mkv|mp3|m4a|aac|amr|"
    r"ogg|oga|wav|flac|pdf|docx?|xlsx?|csv|txt|zip)$",
    re.IGNORECASE,
)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass
class FormCatalogue:
    """The forms of a project as the last pull left them."""

    pulled: bool
    form_ids: set[str] = field(default_factory=set)
    # form id -> names of its binary (file) fields, when its XML was pulled
    file_fields: dict[str, set[str]] = field(default_factory=dict)

    def refusal(self, found: FoundInstance) -> str | None:
        """Why ``found`` must not be queued, or None."""
        if not self.pulled or found.form_id in self.form_ids:
            return None
        known = ", ".join(sorted(self.form_ids)) or "none"
        return (
            f"form {found.form_id!r} is not on the server (forms pulled: {known}); "
            "not imported: publish the form, `fieldsync pull`, and import again"
        )

    def named_files(self, found: FoundInstance) -> set[str]:
        """The files ``found``'s XML names as its attachments."""
        fields = self.file_fields.get(found.form_id)
        try:
            root = etree.fromstring(found.xml, _PARSER)
        except etree.XMLSyntaxError:
            return set()
        names: set[str] = set()
        for node in root.iter():
            if not isinstance(node.tag, str) or len(node) or not (node.text or "").strip():
                continue
            text = (node.text or "").strip()
            if fields is not None:
                if local_name(node) in fields:
                    names.add(text)
            elif _MEDIA_NAME.match(text):
                names.add(text)
        return names

    def missing_files(self, found: FoundInstance) -> list[str]:
        present = {entry.name for entry in found.attachments}
        return sorted(self.named_files(found) - present)


def binary_fields(form_xml: bytes) -> set[str]:
    """The local names of a form's binary fields (photos, audio, signatures, files)."""
    try:
        root = etree.fromstring(form_xml, _PARSER)
    except etree.XMLSyntaxError:
        return set()
    names: set[str] = set()
    for node in root.iter():
        if not isinstance(node.tag, str) or local_name(node) != "bind":
            continue
        kind = (node.get("type") or "").split(":")[-1]
        nodeset = node.get("nodeset") or ""
        if kind == "binary" and nodeset:
            names.add(nodeset.rstrip("/").rsplit("/", 1)[-1].split(":")[-1])
    return names


def catalogue(store: Store, project_id: int | None) -> FormCatalogue:
    """The forms last pulled for ``project_id`` (``pulled`` is False before any pull)."""
    if project_id is None:
        return FormCatalogue(pulled=False)
    form_ids = {
        str(r[0])
        for r in store.conn.execute("SELECT form_id FROM forms WHERE project_id = ?", (project_id,))
    }
    if not form_ids and store.get_meta(f"last_pull:{project_id}") is None:
        return FormCatalogue(pulled=False)
    result = FormCatalogue(pulled=True, form_ids=form_ids)
    for form_id, xml in store.conn.execute(
        "SELECT v.form_id, v.xml FROM form_versions v JOIN forms f ON f.project_id = "
        "v.project_id AND f.form_id = v.form_id AND f.current_version = v.version "
        "WHERE v.project_id = ? AND v.xml IS NOT NULL",
        (project_id,),
    ):
        result.file_fields[str(form_id)] = binary_fields(bytes(xml))
    return result
