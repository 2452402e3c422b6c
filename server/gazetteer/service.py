"""Importing a project's gazetteer and publishing it as the forms' place list.

A gazetteer import replaces the project's areas in one transaction and attaches the new
``gazetteer.csv`` to the current version of every form that selects places from it, so ODK
Collect sees a changed media hash and downloads it with its next form update. A refused file
changes nothing: the file is checked completely before any row or blob is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server import errors
from server.audit import service as audit
from server.blobs import service as blob_service
from server.blobs.store import FileBlobStore
from server.forms.feed import form_version_changed
from server.forms.models import Form, FormAttachment, FormVersion
from server.gazetteer import core
from server.gazetteer.core import AdminArea, GazetteerError
from server.gazetteer.models import GazetteerArea
from server.projects.models import Project


@dataclass
class PublishedGazetteer:
    """What an import or publish did: the areas by level and the forms given the new file."""

    areas_by_level: dict[int, int]
    forms: list[str] = field(default_factory=list)
    bundled: bool = False

    def summary(self) -> str:
        levels = ", ".join(
            f"{n} at level {level}" for level, n in sorted(self.areas_by_level.items())
        )
        source = " (the bundled Lao PDR gazetteer)" if self.bundled else ""
        forms = ", ".join(self.forms) if self.forms else "none yet"
        return f"gazetteer{source}: {levels}; place list sent with forms: {forms}"


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
