"""Turning an uploaded form file into a checked XForm, and reading what the XForm declares.

This is the pyxform adapter: XLSForm files (.xlsx, .xls) are compiled, XForm files (.xml) are
parsed; either way the result is described by :class:`CompiledForm`, read from the XForm itself
so that every source format yields the same facts.
"""

from __future__ import annotations

import copy
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from lxml import etree

from server import errors
from server.errors import Problem
from server.files import is_plain_file_name
from server.personal.fields import (
    FIELDSYNC_NS,
    PERSONAL_ATTRIBUTE,
    is_personal_name,
    marked_personal,
)
from server.xmlsafe import child, local_name, parse

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# An .xlsx is a zip; its unpacked size is bounded so a zip bomb dressed as a form is refused
# before openpyxl inflates it.
MAX_UNPACKED_XLSX = 64 * 1024 * 1024
MAX_XLSX_RATIO = 200
MAX_XLSX_ENTRIES = 2000

ENTITIES_NS = "http://www.opendatakit.org/xforms/entities"
MEDIA_RE = re.compile(r"jr://(images|audio|video|file|file-csv)/([^\s\"'<>]+)")
MEDIA_KIND = {
    "images": "image",
    "audio": "audio",
    "video": "video",
    "file": "file",
    "file-csv": "file",
}


@dataclass
class CompiledForm:
    xml: str
    form_id: str
    version: str
    title: str
    entity_spec: dict[str, Any]
    media: dict[str, str]  # name -> kind
    warnings: list[str] = field(default_factory=list)
    itemsets_csv: str | None = None


def compile_upload(filename: str, data: bytes) -> CompiledForm:
    """Compile an uploaded XLSForm or check an uploaded XForm.

    Raises:
        Problem: 400 ``form.unsupported_file`` (not an XLSForm/XForm), ``form.unsafe_file``
            (zip bomb), ``form.invalid`` (pyxform's explanation, with sheet and row),
            or an XML problem for a bad XForm.
    """
    suffix = PurePath(filename or "").suffix.lower()
    if suffix == ".xml" or (not suffix and data.lstrip()[:1] == b"<"):
        return describe_xform(data)
    if suffix == ".xlsx" or data[:4] == XLSX_MAGIC:
        if data[:4] != XLSX_MAGIC:
            raise _unsupported(filename, "it is named .xlsx but is not an Excel workbook")
        _check_zip(data)
        return _compile_xlsform(data, "xlsx")
    if suffix == ".xls" or data[:8] == XLS_MAGIC:
        if data[:8] != XLS_MAGIC:
            raise _unsupported(filename, "it is named .xls but is not an Excel workbook")
        return _compile_xlsform(data, "xls")
    raise _unsupported(filename, "upload an XLSForm (.xlsx or .xls) or an XForm (.xml)")


def _unsupported(filename: str, why: str) -> Problem:
    return errors.unsupported_form_file(filename, why)


def _check_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        raise errors.damaged_workbook() from None
    unpacked = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if (
        len(infos) > MAX_XLSX_ENTRIES
        or unpacked > MAX_UNPACKED_XLSX
        or (unpacked > 1024 * 1024 and unpacked / packed > MAX_XLSX_RATIO)
    ):
        raise errors.unsafe_workbook(unpacked, packed)


def _compile_xlsform(data: bytes, file_type: str) -> CompiledForm:
    # Compiling is pure and slow (hundreds of ms); the same workbook compiles the same way.
    key = (hashlib.sha256(data).hexdigest(), file_type)
    cached = _COMPILED.get(key)
    if cached is None:
        cached = _compile_xlsform_uncached(data, file_type)
        if len(_COMPILED) >= 64:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[key] = cached
    return copy.deepcopy(cached)


_COMPILED: dict[tuple[str, str], CompiledForm] = {}


def _compile_xlsform_uncached(data: bytes, file_type: str) -> CompiledForm:
    from pyxform.errors import PyXFormError
    from pyxform.xls2xform import convert

    warnings: list[str] = []
    try:
        result = convert(xlsform=data, warnings=warnings, file_type=f".{file_type}")
    except PyXFormError as exc:
        raise errors.invalid_form(
            "The XLSForm has errors", _with_location(str(exc).strip(), data, file_type)
        ) from None
    except (ValueError, KeyError, TypeError, zipfile.BadZipFile, OSError) as exc:
        # pyxform and its readers raise these for workbooks they cannot make sense of.
        raise errors.invalid_form(
            "The XLSForm could not be read", f"{type(exc).__name__}: {exc}"
        ) from None
    xform = _mark_personal(result.xform, data, file_type)
    _check_expressions(xform, data, file_type)
    compiled = describe_xform(xform.encode("utf-8"))
    compiled.warnings = list(warnings)
    compiled.itemsets_csv = result.itemsets
    return compiled


PERSONAL_COLUMN = "fieldsync::personal"


def _mark_personal(xform: str, data: bytes, file_type: str) -> str:
    """pyxform drops a ``fieldsync::personal`` column (only ``bind::fieldsync:personal`` with
    the ``namespaces`` setting reaches the XForm); carry it into the binds as
    ``fieldsync:personal="yes"``, so every version's XForm says which fields are personal."""
    rows = _survey_rows(data, file_type)
    marked = {
        str(r.get("name", "")).strip()
        for r in rows
        if marked_personal(r.get(PERSONAL_COLUMN)) and str(r.get("name", "")).strip()
    }
    if not marked:
        return xform
    root = parse(xform.encode("utf-8"), "the XForm")
    for bind in root.iter():
        if not isinstance(bind.tag, str) or local_name(bind) != "bind":
            continue
        if bind.get("nodeset", "").rsplit("/", 1)[-1] in marked:
            bind.set(PERSONAL_ATTRIBUTE, "yes")
    etree.cleanup_namespaces(root, top_nsmap={"fieldsync": FIELDSYNC_NS})
    return etree.tostring(root, encoding="unicode", xml_declaration=False)


XPATH_NAMESPACES = {
    "jr": "http://openrosa.org/javarosa",
    "orx": "http://openrosa.org/xforms",
    "odk": "http://www.opendatakit.org/xforms",
    "entities": ENTITIES_NS,
}
# XForm bind attribute -> the XLSForm column it comes from.
EXPRESSION_COLUMNS = {
    "relevant": "relevant",
    "constraint": "constraint",
    "calculate": "calculation",
    "required": "required",
    "readonly": "read_only",
}


def _survey_rows(data: bytes, file_type: str) -> list[dict[str, Any]]:
    from pyxform.xls2json_backends import get_xlsform

    try:
        return list(get_xlsform(xlsform=data, file_type=f".{file_type}").survey)
    except Exception:
        return []


def _row_of(rows: list[dict[str, Any]], **match: str) -> int | None:
    for index, row in enumerate(rows):
        if all(str(row.get(k, "")).strip() == v for k, v in match.items()):
            return index + 2  # one header row, rows counted from 1 as a spreadsheet does
    return None


def _with_location(message: str, data: bytes, file_type: str) -> str:
    """pyxform names the sheet and row for most errors but not all (an unknown question type,
    for one); where it does not, find the quoted value in the survey sheet."""
    if "row" in message.lower():
        return message
    rows = _survey_rows(data, file_type)
    for token in re.findall(r"'([^']+)'", message):
        for column in ("type", "name"):
            row = _row_of(rows, **{column: token})
            if row is not None:
                return f"[row : {row}] On the 'survey' sheet, column '{column}': {message}"
    return message


def _check_expressions(xform: str, data: bytes, file_type: str) -> None:
    """Refuse expressions that are not valid XPath: pyxform passes them through unchecked,
    and Collect would only fail when a field worker opens the form."""
    root = parse(xform.encode("utf-8"), "the XForm")
    for bind in root.iter():
        if not isinstance(bind.tag, str) or local_name(bind) != "bind":
            continue
        for attribute, column in EXPRESSION_COLUMNS.items():
            expression = bind.get(attribute)
            if not expression or expression in ("true()", "false()"):
                continue
            try:
                etree.XPath(expression, namespaces=XPATH_NAMESPACES)
            except etree.XPathSyntaxError:
                name = bind.get("nodeset", "").rsplit("/", 1)[-1]
                rows = _survey_rows(data, file_type)
                row = _row_of(rows, name=name)
                original = next(
                    (
                        str(r.get(column, ""))
                        for r in rows
                        if str(r.get("name", "")).strip() == name
                    ),
                    expression,
                )
                where = f"[row : {row}] " if row else ""
                raise errors.invalid_form(
                    "The XLSForm has errors",
                    f"{where}On the 'survey' sheet, the '{column}' of '{name}' is not a valid "
                    f"expression: {original}",
                ) from None


def describe_xform(data: bytes) -> CompiledForm:
    """Read form id, version, title, entity declarations and media from an XForm.

    Raises:
        Problem: 400 when it is not an XForm with a primary instance carrying an ``id``;
            400 ``form.media_name`` for a media file name that is not a plain file name.
    """
    root = parse(data, "the XForm")
    if local_name(root) != "html":
        raise errors.invalid_form("Not an XForm", "the XML's root element is not <h:html>")
    head = child(root, "head")
    model = child(head, "model") if head is not None else None
    instance = child(model, "instance") if model is not None else None
    primary = (
        next((n for n in instance if isinstance(n.tag, str)), None)
        if instance is not None
        else None
    )
    if primary is None or not primary.get("id"):
        raise errors.invalid_form(
            "Not an XForm", "the XForm has no primary instance with an id attribute"
        )
    title_node = child(head, "title") if head is not None else None
    form_id = primary.get("id", "")
    version = primary.get("version") or ""
    assert model is not None
    return CompiledForm(
        xml=data.decode("utf-8"),
        form_id=form_id,
        version=version,
        title=(title_node.text or "").strip() if title_node is not None else form_id,
        entity_spec=_entity_spec(model, primary),
        media=_media(root, model),
    )


def _entity_spec(model: etree._Element, primary: etree._Element) -> dict[str, Any]:
    entity = None
    for node in primary.iter():
        if isinstance(node.tag, str) and local_name(node) == "entity":
            entity = node
            break
    if entity is None:
        return {}
    properties = []
    for bind in model:
        if not isinstance(bind.tag, str) or local_name(bind) != "bind":
            continue
        saveto = bind.get(f"{{{ENTITIES_NS}}}saveto")
        if saveto:
            nodeset = bind.get("nodeset", "")
            prop: dict[str, Any] = {"name": saveto, "path": nodeset}
            if is_personal_name(nodeset) or marked_personal(bind.get(PERSONAL_ATTRIBUTE)):
                prop["personal"] = True
            properties.append(prop)
    return {
        "dataset": entity.get("dataset", ""),
        "create": entity.get("create") is not None,
        "update": entity.get("update") is not None,
        "entities_version": model.get(f"{{{ENTITIES_NS}}}entities-version", ""),
        "properties": properties,
    }


def _media(root: etree._Element, model: etree._Element) -> dict[str, str]:
    media: dict[str, str] = {}
    text = etree.tostring(root, encoding="unicode")
    for scheme, name in MEDIA_RE.findall(text):
        media.setdefault(name, MEDIA_KIND[scheme])
    for instance in model:
        if isinstance(instance.tag, str) and local_name(instance) == "instance":
            src = instance.get("src", "")
            match = MEDIA_RE.match(src)
            if match:
                media[match.group(2)] = MEDIA_KIND[match.group(1)]
    # A media name becomes a download URL on every tablet and a name in the manifest: only
    # plain file names are accepted, so none can point outside the form's own files.
    for name in media:
        if not is_plain_file_name(name):
            raise errors.media_name(name)
    return media
