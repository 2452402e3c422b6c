"""Importing a project's gazetteer and publishing it as the forms' place list.

A gazetteer import replaces the project's areas in one transaction and attaches the new
``gazetteer.csv`` to the current version of every form that selects places from it, so ODK
Collect sees a changed media hash and downloads it with its next form update. A refused file
changes nothing: the file is checked completely before any row or blob is written.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from server import errors
from server.audit import service as audit
from server.blobs import service as blob_service
from server.blobs.store import FileBlobStore
from server.forms.feed import form_version_changed
from server.forms.models import Form, FormAttachment, FormVersion
from server.gazetteer import boundaries, core
from server.gazetteer.boundaries import BoundaryError
from server.gazetteer.core import AdminArea, GazetteerError
from server.gazetteer.models import GazetteerArea, GazetteerBoundary
from server.projects.models import Project


@dataclass
class PublishedGazetteer:
    """What an import or publish did: the areas by level and the forms given the new file."""

    areas_by_level: dict[int, int]
    forms: list[str] = field(default_factory=list)
    bundled: bool = False
    boundaries: ImportedBoundaries | None = None  # the bundled provinces' outlines

    def summary(self) -> str:
        levels = ", ".join(
            f"{n} at level {level}" for level, n in sorted(self.areas_by_level.items())
        )
        source = " (the bundled Lao PDR gazetteer)" if self.bundled else ""
        forms = ", ".join(self.forms) if self.forms else "none yet"
        text = f"gazetteer{source}: {levels}; place list sent with forms: {forms}"
        if self.boundaries is not None:
            text += f"\n{self.boundaries.summary()}"
        return text


@dataclass
class ImportedBoundaries:
    """What a boundary import stored: outlines by level, the map's weight, the areas left
    without one at those levels."""

    by_level: dict[int, int]
    size: int  # bytes of GeoJSON the map downloads for them
    missing: list[str] = field(default_factory=list)

    def summary(self) -> str:
        levels = ", ".join(f"{n} at level {level}" for level, n in sorted(self.by_level.items()))
        text = f"boundaries: {levels} ({self.size / 1024:.0f} KB of GeoJSON for the map)"
        if self.missing:
            shown = ", ".join(self.missing[:10]) + (" ..." if len(self.missing) > 10 else "")
            text += f"; no boundary for {len(self.missing)} area(s): {shown}"
        return text


def import_gazetteer(
    session: Session,
    blobs: FileBlobStore,
    project: Project,
    filename: str,
    data: bytes,
    *,
    actor_user_id: int | None = None,
) -> PublishedGazetteer:
    """Replace the project's gazetteer with a COD-AB style CSV or XLSX and republish the media.

    Raises:
        Problem: 400 ``gazetteer.invalid`` naming the row (duplicate P-code, missing parent,
            cycle, wrong level, unreadable file); nothing is changed.
    """
    try:
        areas = core.parse_areas(core.read_table(filename, data))
    except GazetteerError as exc:
        raise errors.gazetteer_invalid(filename, str(exc)) from None
    _replace_areas(session, project.id, areas)
    result = _attach(session, blobs, project, areas)
    audit.record(
        session,
        "gazetteer.import",
        project_id=project.id,
        user_id=actor_user_id,
        target_type="gazetteer",
        target_id=project.id,
        filename=filename,
        areas=len(areas),
        forms=result.forms,
    )
    return result


def publish(
    session: Session, blobs: FileBlobStore, project: Project, *, actor_user_id: int | None = None
) -> PublishedGazetteer:
    """Attach the project's gazetteer to its forms; a project without one gets the bundled
    Lao PDR gazetteer (``forms/gazetteer/lao_pdr.csv``), stored as if it had been imported."""
    areas = project_areas(session, project.id)
    bundled = not areas
    if bundled:
        areas = core.load_file(core.BUNDLED_GAZETTEER)
        _replace_areas(session, project.id, areas)
    result = _attach(session, blobs, project, areas)
    result.bundled = bundled
    if bundled and not _has_boundaries(session, project.id):
        # The bundled provinces' outlines (Natural Earth, public domain: forms/gazetteer/).
        path = boundaries.BUNDLED_BOUNDARIES
        result.boundaries = import_boundaries(
            session, project, path.name, path.read_bytes(), actor_user_id=actor_user_id
        )
    audit.record(
        session,
        "gazetteer.publish",
        project_id=project.id,
        user_id=actor_user_id,
        target_type="gazetteer",
        target_id=project.id,
        bundled=bundled,
        forms=result.forms,
    )
    return result


def project_areas(session: Session, project_id: int) -> list[AdminArea]:
    """The project's areas, by level then P-code (empty when none was imported)."""
    rows = session.scalars(
        select(GazetteerArea)
        .where(GazetteerArea.project_id == project_id)
        .order_by(GazetteerArea.level, GazetteerArea.pcode)
    )
    return [
        AdminArea(
            level=r.level,
            pcode=r.pcode,
            parent_pcode=r.parent_pcode,
            name_en=r.name_en,
            name_local=r.name_local,
        )
        for r in rows
    ]


def names(session: Session, project_id: int, pcodes: Iterable[str]) -> dict[str, str]:
    """English names for P-codes, for exports and reports that show places to people."""
    wanted = set(pcodes)
    if not wanted:
        return {}
    rows = session.execute(
        select(GazetteerArea.pcode, GazetteerArea.name_en).where(
            GazetteerArea.project_id == project_id, GazetteerArea.pcode.in_(wanted)
        )
    )
    return {pcode: name for pcode, name in rows}


def _replace_areas(session: Session, project_id: int, areas: list[AdminArea]) -> None:
    session.execute(delete(GazetteerArea).where(GazetteerArea.project_id == project_id))
    session.add_all(
        GazetteerArea(
            project_id=project_id,
            level=a.level,
            pcode=a.pcode,
            parent_pcode=a.parent_pcode,
            name_en=a.name_en,
            name_local=a.name_local,
        )
        for a in areas
    )
    session.flush()


def _attach(
    session: Session, blobs: FileBlobStore, project: Project, areas: list[AdminArea]
) -> PublishedGazetteer:
    stored = blobs.put_bytes(core.device_csv(areas).encode("utf-8"))
    blob_service.register(session, stored, "text/csv")
    rows = session.execute(
        select(Form, FormVersion, FormAttachment)
        .join(
            FormVersion,
            (FormVersion.form_id == Form.id) & (FormVersion.version == Form.current_version),
        )
        .join(FormAttachment, FormAttachment.form_version_id == FormVersion.id)
        .where(Form.project_id == project.id, FormAttachment.name == core.MEDIA_NAME)
        .order_by(Form.xml_form_id)
    ).all()
    forms = []
    for form, version, attachment in rows:
        forms.append(form.xml_form_id)
        if attachment.blob_sha256 != stored.sha256:
            attachment.blob_sha256 = stored.sha256
            # The hub follows the change feed: a new media hash means "download the form again".
            form_version_changed(session, form, version)
    levels = Counter(a.level for a in areas)
    return PublishedGazetteer(areas_by_level=dict(levels), forms=forms)


def import_boundaries(
    session: Session,
    project: Project,
    filename: str,
    data: bytes,
    *,
    pcode_property: str | None = None,
    actor_user_id: int | None = None,
) -> ImportedBoundaries:
    """Store the outlines of a GeoJSON FeatureCollection (COD-AB style) for the areas of the
    project's gazetteer they name by P-code, simplified for the web. They replace the outlines
    of the levels the file covers (a district file leaves the provinces' as they were).

    Raises:
        Problem: 400 ``gazetteer.bad_boundaries`` naming the feature (not GeoJSON, no P-code,
            a P-code the gazetteer does not have, a bad geometry); nothing is changed.
    """
    try:
        shapes = boundaries.parse_boundaries(data, pcode_property=pcode_property)
    except BoundaryError as exc:
        raise errors.gazetteer_bad_boundaries(filename, str(exc)) from None
    areas = {a.pcode: a for a in project_areas(session, project.id)}
    if not areas:
        raise errors.gazetteer_bad_boundaries(
            filename, "the project has no gazetteer yet: import its areas first"
        )
    unknown = [b.pcode for b in shapes if b.pcode not in areas]
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise errors.gazetteer_bad_boundaries(
            filename, f"P-code {unknown[0]} is not an area of the project's gazetteer{more}"
        )
    levels = {areas[b.pcode].level for b in shapes}
    session.execute(
        delete(GazetteerBoundary).where(
            GazetteerBoundary.project_id == project.id, GazetteerBoundary.level.in_(levels)
        )
    )
    rows = [
        GazetteerBoundary(
            project_id=project.id,
            pcode=b.pcode,
            level=areas[b.pcode].level,
            geometry=json.dumps(b.geometry, separators=(",", ":")),
            source=filename[:200],
        )
        for b in shapes
    ]
    session.add_all(rows)
    session.flush()
    drawn = {b.pcode for b in shapes}
    result = ImportedBoundaries(
        by_level=dict(Counter(r.level for r in rows)),
        size=sum(len(r.geometry) for r in rows),
        missing=sorted(p for p, a in areas.items() if a.level in levels and p not in drawn),
    )
    audit.record(
        session,
        "gazetteer.boundaries",
        project_id=project.id,
        user_id=actor_user_id,
        target_type="gazetteer",
        target_id=project.id,
        filename=filename,
        boundaries=len(rows),
        levels=sorted(levels),
    )
    return result


def _has_boundaries(session: Session, project_id: int) -> bool:
    found = session.scalar(
        select(GazetteerBoundary.id).where(GazetteerBoundary.project_id == project_id).limit(1)
    )
    return found is not None


def boundaries_version(session: Session, project_id: int) -> str:
    """Changes whenever the project's outlines or its areas' names may have: the map names the
    boundary file's URL with it, so a browser keeps the file until then."""
    count, latest = session.execute(
        select(func.count(GazetteerBoundary.id), func.max(GazetteerBoundary.imported_at)).where(
            GazetteerBoundary.project_id == project_id
        )
    ).one()
    if not count:
        return ""
    named = session.scalar(
        select(func.max(GazetteerArea.imported_at)).where(GazetteerArea.project_id == project_id)
    )
    text = f"{count}|{latest}|{named}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def boundaries_geojson(session: Session, project_id: int) -> bytes:
    """The project's outlines with their areas' names, as one GeoJSON FeatureCollection (level
    by level, provinces first), for the web UI's maps."""
    rows = session.execute(
        select(
            GazetteerBoundary.pcode,
            GazetteerBoundary.level,
            GazetteerArea.name_en,
            GazetteerBoundary.geometry,
        )
        .join(
            GazetteerArea,
            (GazetteerArea.project_id == GazetteerBoundary.project_id)
            & (GazetteerArea.pcode == GazetteerBoundary.pcode),
        )
        .where(GazetteerBoundary.project_id == project_id)
        .order_by(GazetteerBoundary.level, GazetteerBoundary.pcode)
    ).all()
    document = boundaries.feature_collection((p, lv, n, g) for p, lv, n, g in rows)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
