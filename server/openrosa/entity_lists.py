"""Serving an entity list to devices as the CSV attachment a form selects from.

The entity store (:mod:`server.entities.listing`) builds the CSV from the current merged state
of the list and names its hash (a fingerprint of the list's state, as ODK Central's is, not
necessarily the md5 of the bytes). A list the store does not know yet is served with its
columns only (``name, label, __version`` and the properties the published forms declare),
hashed by the md5 of that CSV.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.entities import listing
from server.forms.models import Form, FormVersion
from server.personal.policy import sharing

BASE_COLUMNS = ("name", "label", "__version")


@dataclass(frozen=True)
class EntityListCsv:
    md5: str
    chunks: Iterable[bytes]


def entity_list_hash(session: Session, project_id: int, list_name: str) -> str:
    """The hash (32 hex digits) the manifest names for the list; it changes exactly when the
    list does."""
    tag = listing.entity_list_hash(session, project_id, list_name)
    if tag is not None:
        return tag
    return _columns_only(session, project_id, list_name).md5


def entity_list_csv(session: Session, project_id: int, list_name: str) -> EntityListCsv:
    """The list's CSV as chunks of bytes, with its hash (also used as the ETag)."""
    found = listing.entity_list_csv(session, project_id, list_name)
    if found is not None:
        tag, chunks = found
        return EntityListCsv(md5=tag, chunks=chunks)
    return _columns_only(session, project_id, list_name)


def _columns_only(session: Session, project_id: int, list_name: str) -> EntityListCsv:
    columns = sharing(session, list_name).device_columns(
        declared_properties(session, project_id, list_name)
    )
    data = _columns_only_csv(columns)
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
