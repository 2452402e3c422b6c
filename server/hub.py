"""The field hub's server side: the public API ``sync_client.hub`` uses to run this server on
the coordinator's laptop, mirror what the centre published, and hand on what tablets sent.

The hub is this server on SQLite with ``Settings.hub`` set: it applies its tablets' entity
updates provisionally and records them in the centre's terms (docs/adr/0006-field-hub.md).
Everything here takes and returns plain values and dataclasses; nothing outside this module
needs to know the server's tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from server.accounts.assignments import assign_form
from server.accounts.models import AppUser, Role
from server.accounts.service import create_app_user, create_user, grant_role, revoke_app_user
from server.blobs import service as blob_service
from server.db import transaction
from server.entities.codec import HubContext, InboxPayload
from server.entities.hub import AdoptReport, adopt_entity_list
from server.entities.models import EntityInbox
from server.errors import Problem, invalid_input
from server.forms.compile import describe_xform
from server.forms.models import Form, FormAttachment, FormState, FormVersion
from server.forms.service import get_form, publish_compiled, set_state
from server.intake.service import submission_arrives
from server.migrate import upgrade
from server.projects.models import Project
from server.projects.service import create_project
from server.runtime import make_runtime
from server.settings import Settings, load_or_create_secret
from server.submissions.models import SubmissionAttachment, SubmissionVersion
from server.submissions.service import IncomingAttachment, Submitter
from server.sync.service import hub_context
from server.ui.hub import (
    LAPTOP_STATE,
    CentreExchange,
    LaptopState,
    LaptopStateSource,
    QueuedReport,
    RefusedItem,
)
from server.urls import collect_qr_payload as collect_qr_payload  # the device's QR code
from server.web import Runtime

__all__ = [
    "AdoptReport",
    "CentreExchange",
    "Device",
    "HubAccount",
    "HubContext",
    "HubSubmission",
    "IssuedDevice",
    "LaptopState",
    "LaptopStateSource",
    "Problem",
    "QueuedReport",
    "RefusedItem",
    "Runtime",
    "add_account",
    "add_device",
    "adopt_entity_list",
    "close_runtime",
    "hub_project",
    "install_laptop_state",
    "installed_laptop_state",
    "instance_ids_since",
    "list_devices",
    "mirror_form",
    "mirror_media",
    "open_runtime",
    "reading",
    "receive_forwarded",
    "received_since",
    "revoke_device",
    "writing",
]

log = logging.getLogger("fieldsync.hub")

DATABASE_FILE = "fieldsync.sqlite3"


# --- the runtime ----------------------------------------------------------------------------


def open_runtime(data_dir: Path) -> Runtime:
    """The hub's server runtime (engine, sessions, blob store) in ``data_dir``, migrated to the
    current schema."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / DATABASE_FILE}",
        secret_key=load_or_create_secret(data_dir),
        environment="development",
        log_level="WARNING",
        hub=True,
    )
    runtime = make_runtime(settings)
    upgrade(runtime.engine)
    return runtime


def close_runtime(runtime: Runtime) -> None:
    runtime.engine.dispose()


@contextmanager
def writing(runtime: Runtime) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any exception."""
    with transaction(runtime.session_factory) as session:
        yield session


def reading(runtime: Runtime) -> AbstractContextManager[Session]:
    """A session for reading."""
    return runtime.session_factory()


def hub_project(session: Session, name: str = "") -> Project:
    """The hub's one project (the centre project the coordinator logged in to), created on
    first use and renamed to ``name`` when given."""
    project = session.scalars(select(Project).order_by(Project.id)).first()
    if project is None:
        project = create_project(session, name or "Field hub")
    elif name and project.name != name:
        project.name = name
    return project


# --- what the laptop knows, for the web UI's Field hub page ---------------------------------


def install_laptop_state(app: Flask, source: LaptopStateSource) -> None:
    """Let the web UI's Field hub page ask the laptop what waits to go to the centre: the hub
    calls this when it builds its app. ``source`` is called on each view of the page (and of
    the home page), from the request's thread; what it raises is logged and the page says the
    outbox could not be read."""
    app.extensions[LAPTOP_STATE] = source


def installed_laptop_state(app: Flask) -> LaptopStateSource | None:
    """The source the hub installed on ``app``; None on a server that is not a hub."""
    source: LaptopStateSource | None = app.extensions.get(LAPTOP_STATE)
    return source


# --- people who log in to the hub's web pages ------------------------------------------------


@dataclass(frozen=True)
class HubAccount:
    user_id: int
    email: str
    project_id: int
    role: str


def add_account(
    session: Session,
    email: str,
    password: str,
    role: str = "coordinator",
    caseworker: bool = False,
    project_name: str = "",
) -> HubAccount:
    """A login for the hub's web pages, with ``role`` in the hub's project (``caseworker``: the
    survivor caseworker flag, server.personal). The hub's own: the centre never sees it.

    Raises:
        Problem: 409 when the email is taken; 400 for a bad email, a password too short or an
            unknown role.
    """
    try:
        chosen = Role(role)
    except ValueError:
        raise invalid_input({"role": [f"no role {role!r}"]}) from None
    project = hub_project(session, project_name)
    user = create_user(session, email, password)
    grant_role(session, user, project, chosen, personal_data=caseworker)
    return HubAccount(user.id, user.email, project.id, chosen.value)


# --- devices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedDevice:
    app_user_id: int
    token: str  # shown once: only its hash is kept
    project_id: int
    project_name: str


@dataclass(frozen=True)
class Device:
    app_user_id: int
    name: str
    revoked: bool


def add_device(
    session: Session, name: str, project_name: str = "", forms: Sequence[str] = ()
) -> IssuedDevice:
    """Issue an app-user token for a tablet, assigned the ``forms`` (form ids) it alone gets
    (the survivor forms go only to the devices assigned to them).

    Raises:
        Problem: 400 when ``name`` is empty; 404 for a form the hub does not serve (yet).
    """
    project = hub_project(session, project_name)
    issued = create_app_user(session, project, name)
    for form_id in forms:
        form = get_form(session, project.id, form_id)
        assign_form(session, issued.app_user, form.id)
    return IssuedDevice(issued.app_user.id, issued.token, project.id, project.name)


def list_devices(session: Session) -> list[Device]:
    return [
        Device(a.id, a.display_name, a.revoked_at is not None)
        for a in session.scalars(select(AppUser).order_by(AppUser.id))
    ]


def revoke_device(session: Session, app_user_id: int) -> bool:
    """Revoke a tablet's token; False when the hub has no such device."""
    row = session.get(AppUser, app_user_id)
    if row is None:
        return False
    revoke_app_user(session, row)
    return True


# --- what tablets sent -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedFile:
    name: str
    sha256: str


@dataclass(frozen=True)
class HubSubmission:
    """A submission version the hub received, as the outbox needs it."""

    position: int  # increasing: read on with ``received_since(session, position)``
    instance_id: str
    deprecated_id: str | None
    device_id: str | None
    app_user: str | None  # the device's name on the hub
    xml: bytes
    form_id: str
    form_version: str
    received_at: datetime
    files: tuple[ReceivedFile, ...]
    # What the tablet had seen, in the centre's terms, for the centre's merge (None when the
    # report carries no entity update based on a known version).
    entity_context: HubContext | None


def received_since(session: Session, after: int) -> list[HubSubmission]:
    """Every submission version received after ``position`` ``after``, oldest first."""
    version_form = aliased(FormVersion)
    rows = session.execute(
        select(SubmissionVersion, Form.xml_form_id, version_form.version, AppUser.display_name)
        .join(Form, Form.id == SubmissionVersion.form_id)
        .join(version_form, version_form.id == SubmissionVersion.form_version_id)
        .outerjoin(AppUser, AppUser.id == SubmissionVersion.submitter_app_user_id)
        .where(SubmissionVersion.id > after)
        .order_by(SubmissionVersion.id)
    ).all()
    ids = [version.id for version, *_ in rows]
    files: dict[int, list[ReceivedFile]] = {}
    contexts: dict[int, HubContext | None] = {}
    if ids:
        for attachment in session.scalars(
            select(SubmissionAttachment)
            .where(
                SubmissionAttachment.submission_version_id.in_(ids),
                SubmissionAttachment.blob_sha256.is_not(None),
            )
            .order_by(SubmissionAttachment.id)
        ):
            assert attachment.blob_sha256 is not None
            files.setdefault(attachment.submission_version_id, []).append(
                ReceivedFile(attachment.name, attachment.blob_sha256)
            )
        for version_id, payload in session.execute(
            select(EntityInbox.submission_version_id, EntityInbox.payload).where(
                EntityInbox.submission_version_id.in_(ids)
            )
        ):
            contexts[version_id] = InboxPayload.from_json(payload).export_context
    return [
        HubSubmission(
            position=version.id,
            instance_id=version.instance_id,
            deprecated_id=version.deprecated_id,
            device_id=version.device_id,
            app_user=app_user,
            xml=version.xml.encode("utf-8"),
            form_id=form_id,
            form_version=form_version,
            received_at=version.received_at,
            files=tuple(files.get(version.id, ())),
            entity_context=contexts.get(version.id),
        )
        for version, form_id, form_version, app_user in rows
    ]


def instance_ids_since(session: Session, after: int) -> set[str]:
    """The instanceIDs of the versions received after ``position`` ``after``."""
    return set(
        session.scalars(select(SubmissionVersion.instance_id).where(SubmissionVersion.id > after))
    )


# --- what the centre published ---------------------------------------------------------------


def mirror_form(
    session: Session, runtime: Runtime, project: Project, xml: bytes, state: str | None
) -> bool:
    """Publish a form version the centre published (and set its state); True when it was new.
    A form the hub cannot publish is logged and skipped."""
    try:
        compiled = describe_xform(xml)
    except Problem as problem:
        log.warning("form not mirrored", extra={"detail": problem.detail})
        return False
    stored = runtime.blobs.put_bytes(xml)
    blob_service.register(session, stored, "text/xml")
    try:
        result = publish_compiled(
            session,
            runtime.blobs,
            project,
            compiled,
            f"{compiled.form_id}.xml",
            stored.sha256,
            None,
        )
    except Problem as problem:
        log.warning("form not mirrored", extra={"detail": problem.detail})
        return False
    if state in ("open", "closing", "closed"):
        set_state(session, get_form(session, project.id, compiled.form_id), FormState(state), None)
    return result.created


def mirror_media(
    session: Session,
    runtime: Runtime,
    project: Project,
    form_id: str,
    version: str,
    name: str,
    sha256: str,
    open_source: Callable[[], AbstractContextManager[BinaryIO]],
) -> bool:
    """Serve the centre's file ``sha256`` as the form version's media file ``name``; True when
    it changed. ``open_source`` is called only when the bytes are needed."""
    attachment = session.scalars(
        select(FormAttachment)
        .join(FormVersion, FormVersion.id == FormAttachment.form_version_id)
        .join(Form, Form.id == FormVersion.form_id)
        .where(
            Form.project_id == project.id,
            Form.xml_form_id == form_id,
            FormVersion.version == version,
            FormAttachment.name == name,
        )
    ).first()
    if attachment is None or attachment.blob_sha256 == sha256:
        return False
    with open_source() as stream:
        stored = runtime.blobs.put_stream(stream)
    blob_service.register(session, stored)
    attachment.blob_sha256 = stored.sha256
    return True


# --- what another laptop carried here (peer sync) ------------------------------------------


def receive_forwarded(
    session: Session,
    runtime: Runtime,
    xml: bytes,
    files: list[tuple[str, Callable[[], AbstractContextManager[BinaryIO]]]],
    via: list[dict[str, object]],
) -> str:
    """Store and merge a report another laptop's hub received, as the centre would when it is
    pushed: its provenance ``via`` and what its tablet had seen (the last hub hop's context).
    Returns ``stored``, ``duplicate``, ``edit`` or the refusal's code; never raises a Problem."""
    project = hub_project(session)
    attachments = []
    for name, opener in files:
        with opener() as stream:
            stored = runtime.blobs.put_stream(stream)
        blob = blob_service.register(session, stored, _content_type(name), project_id=project.id)
        attachments.append(IncomingAttachment(name, stored, blob.content_type))
    try:
        with session.begin_nested():
            result = submission_arrives(
                session,
                project,
                xml,
                attachments,
                Submitter(user_id=None, via=tuple(via)),
                hub_context(via),
            )
    except Problem as problem:
        return problem.code
    return result.outcome.value


def _content_type(name: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or "application/octet-stream"
