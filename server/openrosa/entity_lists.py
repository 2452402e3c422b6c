"""Serving an entity list to devices as the CSV attachment a form selects from.

The entity store (:mod:`server.entities.service`) builds the CSV from the current merged state
of the list and names its hash (a fingerprint of the list's state, as ODK Central's is, not
necessarily the md5 of the bytes). A list the store does not know yet, or a store without
``entity_list_csv`` and ``entity_list_hash``, is served with its columns only (``name, label,
__version`` and the properties the published forms declare), hashed by the md5 of that CSV.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.http import unquote_etag

from server.forms.models import Form, FormVersion

BASE_COLUMNS = ("name", "label", "__version")


@dataclass(frozen=True)
class EntityListCsv:
    md5: str
    chunks: Iterable[bytes]


def entity_list_hash(session: Session, project_id: int, list_name: str) -> str:
    """The hash (32 hex digits) the manifest names for the list; it changes exactly when the
    list does."""
    provided = _provided("entity_list_hash")
    if provided is not None:
        tag = provided(session, project_id, list_name)
        if tag is not None:
            return _strip_tag(str(tag))
    return _columns_only(session, project_id, list_name).md5


def entity_list_csv(session: Session, project_id: int, list_name: str) -> EntityListCsv:
    """The list's CSV as chunks of bytes, with its hash (also used as the ETag)."""
    provided = _provided("entity_list_csv")
    if provided is not None:
        listing = provided(session, project_id, list_name)
        if listing is not None:
            tag, chunks = listing
            return EntityListCsv(md5=_strip_tag(str(tag)), chunks=_as_bytes(chunks))
    return _columns_only(session, project_id, list_name)


def _columns_only(session: Session, project_id: int, list_name: str) -> EntityListCsv:
    data = _columns_only_csv(declared_properties(session, project_id, list_name))
    return EntityListCsv(md5=hashlib.md5(data, usedforsecurity=False).hexdigest(), chunks=(data,))


def declared_properties(session: Session, project_id: int, list_name: str) -> list[str]:
    """Properties the project's published forms save to the list, in order of first use."""
    specs = session.scalars(
        select(FormVersion.entity_spec)
        .join(Form, Form.id == FormVersion.form_id)
        .where(Form.project_id == project_id)
        .order_by(FormVersion.id)
    )
    names: list[str] = []
    for spec in specs:
        if not spec or spec.get("dataset") != list_name:
            continue
        for prop in spec.get("properties", []):
            name = prop.get("name") if isinstance(prop, dict) else str(prop)
            if name and name not in names and name not in BASE_COLUMNS:
                names.append(name)
    return names


def _columns_only_csv(properties: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([*BASE_COLUMNS, *properties])
    return out.getvalue().encode("utf-8")


def _provided(name: str) -> Callable[..., Any] | None:
    try:
        from server.entities import service
    except ImportError:
        return None
    function = getattr(service, name, None)
    return function if callable(function) else None


def _strip_tag(tag: str) -> str:
    value, _weak = unquote_etag(tag.strip())
    return value[4:] if value.startswith("md5:") else value


def _as_bytes(chunks: Iterable[bytes | str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode("utf-8") if isinstance(chunk, str) else chunk
