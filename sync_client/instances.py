"""Finding ODK Collect instances in what a coordinator copied from tablets.

Accepts an ``instances/`` folder (each finished form in its own folder:
``<form>_<date>/<form>_<date>.xml`` plus its media), one instance folder, or a zip of either.
Anything that is not an instance (stray text files, ``.DS_Store``, broken XML, XML without
``meta/instanceID``) is reported with a reason and skipped; nothing here raises on bad content.
"""

from __future__ import annotations

import os
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

from lxml import etree

from sync_client.errors import UsageError

MAX_XML_BYTES = 20 * 1024 * 1024
# Files an operating system or a file manager leaves behind; never part of a form.
OS_JUNK = frozenset({".ds_store", "thumbs.db", "desktop.ini", "__macosx", ".nomedia"})

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
)


@dataclass(frozen=True)
class Entry:
    """One file found under the imported path, wherever it lives (folder or zip)."""

    folder: str  # the folder it sits in, as a display path
    name: str
    display: str
    size: int
    modified: datetime | None
    opener: Callable[[], BinaryIO]

    def read(self, limit: int) -> bytes:
        with self.opener() as fh:
            return fh.read(limit + 1)


@dataclass
class FoundInstance:
    display: str
    xml: bytes
    form_id: str
    version: str
    instance_id: str
    deprecated_id: str | None
    device_id: str
    modified: datetime | None
    attachments: list[Entry] = field(default_factory=list)
    folder: str = ""  # the instance folder, as the coordinator sees it
    missing_files: list[str] = field(default_factory=list)  # named by the XML, not found


@dataclass(frozen=True)
class Skipped:
    display: str
    reason: str
    # Expected leftovers (operating-system files, files no form names): listed, not a failure.
    ignored: bool = False


@dataclass
class ParsedXml:
    form_id: str
    version: str
    instance_id: str
    deprecated_id: str | None
    device_id: str
    texts: set[str]


class NotAnInstance(Exception):
    """The XML is not an ODK instance; the message says why."""


def local_name(node: etree._Element) -> str:
    return etree.QName(node).localname


def _child(node: etree._Element | None, name: str) -> etree._Element | None:
    if node is None:
        return None
    for c in node:
        if isinstance(c.tag, str) and local_name(c) == name:
            return c
    return None


def _child_text(node: etree._Element | None, name: str) -> str:
    found = _child(node, name)
    return (found.text or "").strip() if found is not None else ""


def parse_instance_xml(data: bytes) -> ParsedXml:
    """Read the fields the client needs from an instance's XML.

    Raises:
        NotAnInstance: broken XML, a DOCTYPE, a root without ``id``, or no ``meta/instanceID``.
    """
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise NotAnInstance(f"broken XML ({exc.msg})") from exc
    if root is None:
        raise NotAnInstance("empty XML document")
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise NotAnInstance("the XML declares a DOCTYPE, which ODK instances never do")
    form_id = (root.get("id") or "").strip()
    if not form_id:
        raise NotAnInstance(
            f"XML whose root <{local_name(root)}> has no id attribute: not an ODK instance"
        )
    meta = _child(root, "meta")
    instance_id = _child_text(meta, "instanceID")
    if not instance_id:
        raise NotAnInstance("XML without meta/instanceID: not a finished ODK form")
    if len(instance_id) > 200:
        raise NotAnInstance("meta/instanceID is longer than 200 characters")
    device_id = _child_text(meta, "deviceID") or _child_text(root, "deviceid")
    texts = {
        (node.text or "").strip()
        for node in root.iter()
        if isinstance(node.tag, str) and len(node) == 0 and node.text and node.text.strip()
    }
    return ParsedXml(
        form_id=form_id,
        version=(root.get("version") or "").strip(),
        instance_id=instance_id,
        deprecated_id=_child_text(meta, "deprecatedID") or None,
        device_id=device_id[:200],
        texts=texts,
    )


def _is_junk(name: str) -> bool:
    lowered = name.lower()
    return lowered in OS_JUNK or lowered.startswith(("._", "~$")) or lowered.startswith(".")


def _folder_entries(root: Path) -> Iterator[Entry]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(filenames):
            path = base / name
            try:
                stat = path.stat()
            except OSError:
                continue
            if not path.is_file():
                continue
            yield Entry(
                folder=str(base),
                name=name,
                display=str(path),
                size=stat.st_size,
                modified=datetime.fromtimestamp(stat.st_mtime, UTC),
                opener=_path_opener(path),
            )


def _zip_opener(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], BinaryIO]:
    return lambda: cast(BinaryIO, zf.open(info))


def _path_opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: path.open("rb")


def _zip_entries(archive: Path, zf: zipfile.ZipFile) -> Iterator[Entry]:
    for info in sorted(zf.infolist(), key=lambda i: i.filename):
        if info.is_dir():
            continue
        inner = PurePosixPath(info.filename.replace("\\", "/"))
        try:
            modified: datetime | None = datetime(*info.date_time, tzinfo=UTC)
        except ValueError:
            modified = None
        yield Entry(
            folder=f"{archive}!{inner.parent.as_posix()}",
            name=inner.name,
            display=f"{archive}!{inner.as_posix()}",
            size=info.file_size,
            modified=modified,
            opener=_zip_opener(zf, info),
        )


def scan(path: Path) -> tuple[list[FoundInstance], list[Skipped], zipfile.ZipFile | None]:
    """The instances under ``path`` and what was skipped. The caller closes the returned zip
    (if any) once it has read the attachments.

    Raises:
        UsageError: ``path`` does not exist or is neither a folder nor a zip.
    """
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    archive: zipfile.ZipFile | None = None
    if path.is_dir():
        entries = list(_folder_entries(path))
    elif _looks_like_zip(path) and not zipfile.is_zipfile(path):
        raise UsageError(
            f"{path} is a damaged or truncated zip (cut short while copying?): copy it again "
            "from the tablet, or unzip what you can and import the folder"
        )
    elif zipfile.is_zipfile(path):
        try:
            archive = zipfile.ZipFile(path)
            entries = list(_zip_entries(path, archive))
        except (zipfile.BadZipFile, OSError) as exc:
            raise UsageError(f"{path} is not a readable zip ({exc})") from exc
    else:
        raise UsageError(
            f"{path} is neither a folder nor a zip: give an instances folder, one instance "
            "folder, or a zip of them"
        )
    found, skipped = _group(entries)
    return found, skipped, archive


def _looks_like_zip(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
    except OSError:
        return False


def _group(entries: list[Entry]) -> tuple[list[FoundInstance], list[Skipped]]:
    by_folder: dict[str, list[Entry]] = defaultdict(list)
    for entry in entries:
        by_folder[entry.folder].append(entry)
    found: list[FoundInstance] = []
    skipped: list[Skipped] = []
    for folder in sorted(by_folder):
        instances, others = _read_folder(by_folder[folder], skipped)
        claimed: set[str] = set()
        for instance, parsed in instances:
            for other in others:
                # Collect names a media file in the field's value, so a file belongs to the
                # instances that name it; anything else in the folder is not part of the form.
                if other.name in parsed.texts:
                    instance.attachments.append(other)
                    claimed.add(other.name)
            found.append(instance)
        for other in others:
            if other.name in claimed:
                continue
            if instances:
                reason = "not referenced by the instance in its folder"
            else:
                reason = "not part of an ODK instance"
            skipped.append(Skipped(other.display, reason, ignored=True))
    return found, skipped


def _read_folder(
    entries: list[Entry], skipped: list[Skipped]
) -> tuple[list[tuple[FoundInstance, ParsedXml]], list[Entry]]:
    instances: list[tuple[FoundInstance, ParsedXml]] = []
    others: list[Entry] = []
    for entry in entries:
        if _is_junk(entry.name) or "__macosx" in entry.display.lower():
            skipped.append(
                Skipped(entry.display, "operating-system file, not part of a form", ignored=True)
            )
            continue
        if not entry.name.lower().endswith(".xml"):
            others.append(entry)
            continue
        if entry.size > MAX_XML_BYTES:
            skipped.append(Skipped(entry.display, "XML too large to be a form instance"))
            continue
        try:
            data = entry.read(MAX_XML_BYTES)
        except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
            skipped.append(Skipped(entry.display, f"cannot be read ({exc})"))
            continue
        try:
            parsed = parse_instance_xml(data)
        except NotAnInstance as exc:
            skipped.append(Skipped(entry.display, str(exc)))
            continue
        instance = FoundInstance(
            display=entry.display,
            xml=data,
            form_id=parsed.form_id,
            version=parsed.version,
            instance_id=parsed.instance_id,
            deprecated_id=parsed.deprecated_id,
            device_id=parsed.device_id,
            modified=entry.modified,
            folder=entry.folder,
        )
        instances.append((instance, parsed))
    return instances, others
