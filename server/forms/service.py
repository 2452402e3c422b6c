"""Publishing forms and changing their state.

A form's versions are immutable: republishing the same version with the same XForm is a no-op,
with a different XForm it is refused, and a new version is added beside the old ones so that
submissions made with an old version keep pointing at it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import errors
from server.audit import service as audit
from server.blobs import service as blob_service
from server.blobs.models import Blob
from server.blobs.store import FileBlobStore
from server.db import utcnow
from server.errors import Problem
from server.files import is_plain_file_name
from server.forms import feed as sync_changes
from server.forms.compile import CompiledForm, compile_upload
from server.forms.encrypt import encrypted_if_due
from server.forms.models import Form, FormAttachment, FormState, FormVersion
from server.projects.keys import project_key
from server.projects.models import Project


@dataclass
class PublishResult:
    form: Form
    version: FormVersion
    created: bool
    warnings: list[str] = field(default_factory=list)


def publish(
    session: Session,
    blobs: FileBlobStore,
    project: Project,
    filename: str,
    data: bytes,
    *,
    max_bytes: int,
    actor_user_id: int | None = None,
) -> PublishResult:
    """Compile and publish one form file into ``project``.

    Raises:
        Problem: 413 over ``max_bytes``; 400 for a file that is not a valid form (see
            :func:`compile_upload`); 409 ``form.version_conflict`` when the version exists with
            other content.
    """
    if len(data) > max_bytes:
        raise errors.too_large(max_bytes)
    compiled = compile_upload(filename, data)
    stored = blobs.put_bytes(data)
    blob_service.register(session, stored, _content_type(filename))
    return publish_compiled(
        session, blobs, project, compiled, filename, stored.sha256, actor_user_id
    )


def publish_compiled(
    session: Session,
    blobs: FileBlobStore,
    project: Project,
    compiled: CompiledForm,
    filename: str,
    source_sha256: str | None,
    actor_user_id: int | None,
) -> PublishResult:
    """Publish a form already compiled (the field hub mirrors the centre's XForms this way).

    Raises:
        Problem: 400 when the form has no version; 409 for a version published with other XML.
    """
    if not compiled.version:
        raise errors.form_without_version(filename)
    compiled, key_id, clear_warning = encrypted_if_due(project_key(session, project.id), compiled)
    warnings = [*compiled.warnings, *([clear_warning] if clear_warning else [])]
    form = _get_or_create_form(session, project, compiled)
    xml_bytes = compiled.xml.encode("utf-8")
    sha256 = hashlib.sha256(xml_bytes).hexdigest()
    existing = session.scalars(
        select(FormVersion).where(
            FormVersion.form_id == form.id, FormVersion.version == compiled.version
        )
    ).first()
    if existing is not None:
        if existing.xml_sha256 != sha256:
            raise errors.form_version_exists(compiled.form_id, compiled.version)
        return PublishResult(form, existing, created=False, warnings=warnings)

    version = FormVersion(
        form_id=form.id,
        version=compiled.version,
        title=compiled.title,
        xml=compiled.xml,
        xml_md5=hashlib.md5(xml_bytes, usedforsecurity=False).hexdigest(),
        xml_sha256=sha256,
        source_filename=Path(filename).name,
        source_blob_sha256=source_sha256,
        entity_spec=compiled.entity_spec,
        key_id=key_id,
        published_by_user_id=actor_user_id,
    )
    try:
        with session.begin_nested():
            session.add(version)
            session.flush()
    except IntegrityError:
        # Someone published the same version at the same moment; theirs stands.
        raise errors.form_version_exists(compiled.form_id, compiled.version) from None
    form.current_version = compiled.version
    form.name = compiled.title
    form.updated_at = utcnow()
    if compiled.entity_spec:
        from server.entities.store import register_form_version

        # Before the media: a form may select from the list it declares.
        register_form_version(session, project.id, compiled.entity_spec)
    _register_media(session, blobs, project, version, compiled)
    sync_changes.form_version_changed(session, form, version)
    audit.record(
        session,
        "form.publish",
        project_id=project.id,
        user_id=actor_user_id,
        target_type="form",
        target_id=compiled.form_id,
        version=compiled.version,
        warnings=warnings,
        key_id=key_id,
    )
    return PublishResult(form, version, created=True, warnings=warnings)


def _get_or_create_form(session: Session, project: Project, compiled: CompiledForm) -> Form:
    stmt = select(Form).where(Form.project_id == project.id, Form.xml_form_id == compiled.form_id)
    form = session.scalars(stmt).first()
    if form is not None:
        return form
    form = Form(
        project_id=project.id,
        xml_form_id=compiled.form_id,
        name=compiled.title,
        current_version=compiled.version,
    )
    try:
        with session.begin_nested():
            session.add(form)
            session.flush()
    except IntegrityError:
        form = session.scalars(stmt).one()
    return form


def entity_list_names(session: Session, project_id: int) -> set[str]:
    """The project's entity lists (a list exists once a published form declares it)."""
    from server.entities.models import EntityList

    return set(session.scalars(select(EntityList.name).where(EntityList.project_id == project_id)))


# Media every form of a project shares (the gazetteer the place questions select from): a new
# form or version gets the file the project's forms already carry, so publishing a form never
# leaves devices without it (``fieldsync-server gazetteer import|publish`` replaces it).
PROJECT_MEDIA = frozenset({"gazetteer.csv"})


def _project_media(session: Session, project_id: int, name: str) -> str | None:
    return session.scalars(
        select(FormAttachment.blob_sha256)
        .join(FormVersion, FormVersion.id == FormAttachment.form_version_id)
        .join(Form, Form.id == FormVersion.form_id)
        .where(
            Form.project_id == project_id,
            FormAttachment.name == name,
            FormAttachment.blob_sha256.is_not(None),
        )
        .order_by(FormAttachment.id.desc())
        .limit(1)
    ).first()


def _register_media(
    session: Session,
    blobs: FileBlobStore,
    project: Project,
    version: FormVersion,
    compiled: CompiledForm,
) -> None:
    lists = entity_list_names(session, project.id)
    for name, kind in sorted(compiled.media.items()):
        stem, _, ext = name.rpartition(".")
        attachment = FormAttachment(form_version_id=version.id, name=name, kind=kind)
        if ext.lower() == "csv" and stem in lists:
            attachment.kind = "entity_list"
            attachment.entity_list = stem
        if name == "itemsets.csv" and compiled.itemsets_csv is not None:
            stored = blobs.put_bytes(compiled.itemsets_csv.encode("utf-8"))
            blob_service.register(session, stored, "text/csv")
            attachment.blob_sha256 = stored.sha256
        elif name in PROJECT_MEDIA:
            attachment.blob_sha256 = _project_media(session, project.id, name)
        session.add(attachment)
    # A list declared by this form may be one that earlier forms already select from.
    dataset = compiled.entity_spec.get("dataset")
    if dataset:
        pending = session.scalars(
            select(FormAttachment)
            .join(FormVersion, FormVersion.id == FormAttachment.form_version_id)
            .join(Form, Form.id == FormVersion.form_id)
            .where(
                Form.project_id == project.id,
                FormAttachment.name == f"{dataset}.csv",
                FormAttachment.blob_sha256.is_(None),
                FormAttachment.kind != "entity_list",
            )
        )
        for attachment in pending:
            attachment.kind = "entity_list"
            attachment.entity_list = dataset


def get_form(session: Session, project_id: int, xml_form_id: str) -> Form:
    form = session.scalars(
        select(Form).where(Form.project_id == project_id, Form.xml_form_id == xml_form_id)
    ).first()
    if form is None:
        raise errors.form_not_found(xml_form_id)
    return form


def get_version(session: Session, form: Form, version: str | None = None) -> FormVersion:
    wanted = form.current_version if version is None else version
    row = session.scalars(
        select(FormVersion).where(FormVersion.form_id == form.id, FormVersion.version == wanted)
    ).first()
    if row is None:
        raise errors.form_version_not_found(form.xml_form_id, wanted)
    return row


def list_forms(session: Session, project_id: int) -> list[Form]:
    return list(
        session.scalars(
            select(Form).where(Form.project_id == project_id).order_by(Form.xml_form_id)
        )
    )


def open_forms(
    session: Session, project_id: int, xml_form_id: str | None = None
) -> list[tuple[Form, FormVersion]]:
    """The project's open forms with their current version (the form list devices get),
    by form id; only ``xml_form_id`` when given."""
    query = (
        select(Form, FormVersion)
        .join(
            FormVersion,
            (FormVersion.form_id == Form.id) & (FormVersion.version == Form.current_version),
        )
        .where(Form.project_id == project_id, Form.state == FormState.OPEN.value)
        .order_by(Form.xml_form_id)
    )
    if xml_form_id:
        query = query.where(Form.xml_form_id == xml_form_id)
    return [(form, version) for form, version in session.execute(query)]


def versions_with_media(session: Session, version_ids: list[int]) -> set[int]:
    """Which of these form versions use media files (and so have a manifest)."""
    if not version_ids:
        return set()
    return set(
        session.scalars(
            select(FormAttachment.form_version_id)
            .distinct()
            .where(FormAttachment.form_version_id.in_(version_ids))
        )
    )


def current_form(session: Session, project_id: int, xml_form_id: str) -> tuple[Form, FormVersion]:
    """A form and its current version, whatever its state.

    Raises:
        Problem: 404 ``form.not_found``.
    """
    row = session.execute(
        select(Form, FormVersion)
        .join(
            FormVersion,
            (FormVersion.form_id == Form.id) & (FormVersion.version == Form.current_version),
        )
        .where(Form.project_id == project_id, Form.xml_form_id == xml_form_id)
    ).first()
    if row is None:
        raise errors.form_not_found(xml_form_id)
    return row[0], row[1]


def list_attachments(session: Session, version_id: int) -> list[FormAttachment]:
    return list(
        session.scalars(
            select(FormAttachment)
            .where(FormAttachment.form_version_id == version_id)
            .order_by(FormAttachment.name)
        )
    )


def attachments_with_blobs(
    session: Session, version_id: int, name: str | None = None
) -> list[tuple[FormAttachment, Blob | None]]:
    """The version's media files (only ``name`` when given) with their blob, None for a file
    not uploaded yet (or an entity list), by name."""
    query = (
        select(FormAttachment, Blob)
        .outerjoin(Blob, Blob.sha256 == FormAttachment.blob_sha256)
        .where(FormAttachment.form_version_id == version_id)
        .order_by(FormAttachment.name)
    )
    if name is not None:
        query = query.where(FormAttachment.name == name)
    return [(attachment, blob) for attachment, blob in session.execute(query)]


def list_versions(session: Session, form: Form) -> list[FormVersion]:
    return list(
        session.scalars(
            select(FormVersion).where(FormVersion.form_id == form.id).order_by(FormVersion.id)
        )
    )


def set_state(session: Session, form: Form, state: FormState, actor_user_id: int | None) -> None:
    if form.state != state.value:
        audit.record(
            session,
            "form.state",
            project_id=form.project_id,
            user_id=actor_user_id,
            target_type="form",
            target_id=form.xml_form_id,
            previous=form.state,
            state=state.value,
        )
        form.state = state.value
        form.updated_at = utcnow()
        sync_changes.form_state_changed(session, form)


def attach_media(
    session: Session,
    blobs: FileBlobStore,
    form: Form,
    name: str,
    data: bytes,
    actor_user_id: int | None,
) -> FormAttachment:
    """Upload the content of a media file the current version expects.

    Raises:
        Problem: 400 ``form.media_name`` for a name that is not a plain file name; 404 when
            the current version expects no such file; 409 for an entity list (its content is
            generated from the list).
    """
    if not is_plain_file_name(name):
        raise errors.media_name(name)
    version = get_version(session, form)
    attachment = session.scalars(
        select(FormAttachment).where(
            FormAttachment.form_version_id == version.id, FormAttachment.name == name
        )
    ).first()
    if attachment is None:
        raise errors.not_found(
            "Form attachment", f"form {form.xml_form_id!r} does not use a file named {name!r}"
        )
    if attachment.kind == "entity_list":
        raise errors.attachment_is_entity_list(name)
    stored = blobs.put_bytes(data)
    blob_service.register(session, stored, _content_type(name))
    attachment.blob_sha256 = stored.sha256
    audit.record(
        session,
        "form.attachment",
        project_id=form.project_id,
        user_id=actor_user_id,
        target_type="form",
        target_id=form.xml_form_id,
        name=name,
        sha256=stored.sha256,
    )
    return attachment


def _content_type(filename: str) -> str:
    import mimetypes

    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def bundled_form_files(directory: Path) -> list[Path]:
    """The library's form files (``forms/*.xlsx``), in name order."""
    return sorted(p for p in directory.glob("*.xlsx") if not p.name.startswith("~$"))


def publish_many(
    session: Session,
    blobs: FileBlobStore,
    project: Project,
    files: list[Path],
    *,
    max_bytes: int,
    actor_user_id: int | None = None,
) -> list[PublishResult]:
    """Publish several files; all are compiled before any is published, so a broken one
    publishes none. A form selecting from a list another file declares gets it as an entity
    list whatever the order (see :func:`_register_media`)."""
    compiled: list[tuple[Path, bytes, CompiledForm]] = []
    for path in files:
        data = path.read_bytes()
        if len(data) > max_bytes:
            raise errors.too_large(max_bytes)
        try:
            compiled.append((path, data, compile_upload(path.name, data)))
        except Problem as exc:
            raise exc.prefixed(f"{path.name}: ") from None
    results = []
    for path, data, form in compiled:
        stored = blobs.put_bytes(data)
        blob_service.register(session, stored, _content_type(path.name))
        results.append(
            publish_compiled(session, blobs, project, form, path.name, stored.sha256, actor_user_id)
        )
    return results
