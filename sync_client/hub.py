"""The field hub: the coordinator's laptop as an OpenRosa server for the camp's tablets.

The hub is the fieldsync server itself, on SQLite in ``<FIELDSYNC_HOME>/hub``. It serves the
forms, media and entity lists last pulled from the centre (:func:`mirror`), takes the tablets'
submissions and applies their entity updates provisionally (so a second tablet sees the first
team's changes), and hands what it received to the laptop's outbox (:func:`collect`), from
where ``fieldsync sync`` (or the hub's own background loop) pushes it to the centre. After a
pull the hub adopts the centre's merged state for every record whose reports have all reached
the centre: the centre's merge is authoritative. See docs/adr/0006-field-hub.md.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sync_client.errors import UsageError
from sync_client.store import Store

log = logging.getLogger("fieldsync.hub")

HUB_DIR = "hub"
HUB_CONFIG = "hub.json"
ADOPTED = "adopted"


def hub_dir(home: Path) -> Path:
    return home / HUB_DIR


def hub_exists(home: Path) -> bool:
    return (hub_dir(home) / "fieldsync.sqlite3").exists()


@dataclass
class HubConfig:
    host: str = "0.0.0.0"  # noqa: S104 - a hub serves the camp's local network on purpose
    port: int = 8765
    url: str = ""  # the address tablets use, when the coordinator set one

    def device_base(self) -> str:
        if self.url:
            return self.url.rstrip("/")
        host = self.host if self.host not in ("0.0.0.0", "", "::") else local_address()  # noqa: S104
        return f"http://{host}:{self.port}"


def load_hub_config(home: Path) -> HubConfig:
    path = hub_dir(home) / HUB_CONFIG
    if not path.exists():
        return HubConfig()
    data = json.loads(path.read_text(encoding="utf-8"))
    return HubConfig(
        host=str(data.get("host", "0.0.0.0")),  # noqa: S104
        port=int(data.get("port", 8765)),
        url=str(data.get("url", "")),
    )


def save_hub_config(home: Path, config: HubConfig) -> None:
    path = hub_dir(home) / HUB_CONFIG
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"host": config.host, "port": config.port, "url": config.url}), encoding="utf-8"
    )


def local_address() -> str:
    """This laptop's address on the local network, for the URL tablets are given. Looked up
    from the host name (no packet is sent); 127.0.0.1 when nothing better is known."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return "127.0.0.1"
    for info in infos:
        address = str(info[4][0])
        if not address.startswith("127."):
            return address
    return "127.0.0.1"


def open_hub(home: Path) -> Any:
    """The hub's server runtime (engine, sessions, blob store), migrated to the current schema.

    Raises:
        UsageError: the server part of fieldsync cannot be loaded on this laptop.
    """
    try:
        from server.migrate import upgrade
        from server.runtime import make_runtime
        from server.settings import Settings, load_or_create_secret
    except ImportError as exc:  # pragma: no cover - the package ships both parts
        raise UsageError(f"the hub needs fieldsync's server part: {exc}") from exc
    data_dir = hub_dir(home)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'fieldsync.sqlite3'}",
        secret_key=load_or_create_secret(data_dir),
        environment="development",
        log_level="WARNING",
        hub=True,
    )
    runtime = make_runtime(settings)
    upgrade(runtime.engine)
    return runtime


def hub_project(session: Session, name: str = "") -> Any:
    """The hub's one project (the centre project the coordinator logged in to)."""
    from server.projects.models import Project
    from server.projects.service import create_project

    project = session.scalars(select(Project).order_by(Project.id)).first()
    if project is None:
        project = create_project(session, name or "Field hub")
    elif name and project.name != name:
        project.name = name
    return project


# --- devices ---------------------------------------------------------------------------------


@dataclass
class DeviceSetup:
    app_user_id: int
    name: str
    url: str
    qr_payload: str


def add_device(home: Path, name: str, base_url: str, project_name: str = "") -> DeviceSetup:
    """Issue an app-user token on the hub and the settings ODK Collect needs to use it."""
    from server.accounts.service import create_app_user
    from server.db import transaction

    runtime = open_hub(home)
    try:
        with transaction(runtime.session_factory) as session:
            project = hub_project(session, project_name)
            issued = create_app_user(session, project, name)
            project_id, label = project.id, project.name
        url = f"{base_url.rstrip('/')}/v1/key/{issued.token}/projects/{project_id}"
        return DeviceSetup(issued.app_user.id, name, url, collect_qr_payload(url, label, name))
    finally:
        runtime.engine.dispose()


def collect_qr_payload(url: str, project_name: str, device_name: str) -> str:
    """What Collect's "Configure with QR code" reads: zlib-compressed JSON settings, base64."""
    settings = {
        "general": {
            "server_url": url,
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": f"{project_name} ({device_name})", "icon": "F"},
    }
    raw = json.dumps(settings, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(zlib.compress(raw)).decode("ascii")


def list_devices(home: Path) -> list[tuple[int, str, bool]]:
    from server.accounts.models import AppUser

    runtime = open_hub(home)
    try:
        with runtime.session_factory() as session:
            return [
                (a.id, a.display_name, a.revoked_at is not None)
                for a in session.scalars(select(AppUser).order_by(AppUser.id))
            ]
    finally:
        runtime.engine.dispose()


def revoke_device(home: Path, app_user_id: int) -> None:
    from server.accounts.models import AppUser
    from server.accounts.service import revoke_app_user
    from server.db import transaction

    runtime = open_hub(home)
    try:
        with transaction(runtime.session_factory) as session:
            row = session.get(AppUser, app_user_id)
            if row is None:
                raise UsageError(f"there is no device {app_user_id} on this hub")
            revoke_app_user(session, row)
    finally:
        runtime.engine.dispose()


# --- hub -> outbox ---------------------------------------------------------------------------


@dataclass
class CollectReport:
    queued: int = 0
    already: int = 0
    differs: list[str] = field(default_factory=list)


def collect(store: Store, runtime: Any, project_id: int | None, hub_id: str) -> CollectReport:
    """Queue every submission the hub received that is not in the outbox yet.

    Crash-safe: the outbox's unique instanceID decides duplicates, and the position read up to
    is stored in the same transaction as the rows it covers.
    """
    from server.accounts.models import AppUser
    from server.entities.models import EntityInbox
    from server.submissions.models import SubmissionAttachment, SubmissionVersion
    from sync_client.instances import FoundInstance
    from sync_client.outbox import AddOutcome, add_submission

    report = CollectReport()
    after = int(store.get_meta("hub_collected_upto") or 0)
    with runtime.session_factory() as session:
        versions = list(
            session.scalars(
                select(SubmissionVersion)
                .where(SubmissionVersion.id > after)
                .order_by(SubmissionVersion.id)
            )
        )
        for version in versions:
            files = list(
                session.scalars(
                    select(SubmissionAttachment).where(
                        SubmissionAttachment.submission_version_id == version.id,
                        SubmissionAttachment.blob_sha256.is_not(None),
                    )
                )
            )
            inbox = session.scalars(
                select(EntityInbox).where(EntityInbox.submission_version_id == version.id)
            ).first()
            device = (
                session.get(AppUser, version.submitter_app_user_id)
                if version.submitter_app_user_id
                else None
            )
            received = version.received_at.isoformat().replace("+00:00", "Z")
            device_hop: dict[str, Any] = {
                "hop": "device",
                "id": version.device_id or (device.display_name if device else "unknown"),
                "app_user": device.display_name if device else None,
                "received_at": received,
            }
            hub_hop: dict[str, Any] = {"hop": "hub", "id": hub_id, "received_at": received}
            if inbox is not None and inbox.payload.get("export_context") is not None:
                hub_hop["entity_context"] = inbox.payload["export_context"]
            attachments = []
            for row in files:
                assert row.blob_sha256 is not None
                with runtime.blobs.open(row.blob_sha256) as stream:
                    attachments.append((row.name, store.put_blob_stream(stream)))
            found = FoundInstance(
                display=f"hub submission {version.instance_id}",
                xml=version.xml.encode("utf-8"),
                form_id=_form_id(session, version.form_id),
                version=_form_version(session, version.form_version_id),
                instance_id=version.instance_id,
                deprecated_id=version.deprecated_id,
                device_id=version.device_id,
                modified=version.received_at,
            )
            with store.transaction() as conn:
                outcome = add_submission(
                    store, conn, found, attachments, project_id, [device_hop, hub_hop], "hub"
                )
                store.set_meta(conn, "hub_collected_upto", str(version.id))
            if outcome is AddOutcome.IMPORTED:
                report.queued += 1
            elif outcome is AddOutcome.ALREADY:
                report.already += 1
            else:
                report.differs.append(version.instance_id)
    return report


def _form_id(session: Session, form_pk: int) -> str:
    from server.forms.models import Form

    form = session.get(Form, form_pk)
    return form.xml_form_id if form else ""


def _form_version(session: Session, version_pk: int) -> str:
    from server.forms.models import FormVersion

    row = session.get(FormVersion, version_pk)
    return row.version if row else ""


# --- centre -> hub ---------------------------------------------------------------------------


@dataclass
class MirrorReport:
    forms: int = 0
    media: int = 0
    entities_adopted: int = 0
    entities_kept: int = 0


def mirror(
    store: Store, runtime: Any, centre_project_id: int, project_name: str = ""
) -> MirrorReport:
    """Make the hub serve what was last pulled from the centre."""
    from server.db import transaction

    report = MirrorReport()
    conn = store.conn
    forms = conn.execute(
        "SELECT form_id, version, xml FROM form_versions WHERE project_id = ? AND xml IS NOT NULL "
        "ORDER BY updated_at",
        (centre_project_id,),
    ).fetchall()
    states = dict(
        conn.execute(
            "SELECT form_id, state FROM forms WHERE project_id = ?", (centre_project_id,)
        ).fetchall()
    )
    media = conn.execute(
        "SELECT form_id, version, name, sha256, is_entity_list, updated_at FROM media "
        "WHERE project_id = ? ORDER BY updated_at",
        (centre_project_id,),
    ).fetchall()
    pending = {
        row[0]
        for row in conn.execute(
            "SELECT instance_id FROM outbox WHERE state = 'pending' AND instance_id IS NOT NULL"
        )
    }
    with transaction(runtime.session_factory) as session:
        project = hub_project(session, project_name)
        for form_id, _version, xml in forms:
            report.forms += _mirror_form(session, runtime, project, bytes(xml), states.get(form_id))
        latest_lists: dict[str, str] = {}
        for form_id, version, name, sha256, is_entity_list, _updated in media:
            if is_entity_list:
                latest_lists[name.rsplit(".", 1)[0]] = sha256
            else:
                report.media += _mirror_media(
                    session, runtime, store, project, form_id, version, name, sha256
                )
        uncollected = _uncollected(session, store)
        for list_name, sha256 in sorted(latest_lists.items()):
            with store.open_blob(sha256) as stream:
                text = stream.read().decode("utf-8")
            adopted, kept = adopt_entity_list(
                session, project.id, list_name, text, pending | uncollected
            )
            report.entities_adopted += adopted
            report.entities_kept += kept
    return report


def _uncollected(session: Session, store: Store) -> set[str]:
    from server.submissions.models import SubmissionVersion

    after = int(store.get_meta("hub_collected_upto") or 0)
    return set(
        session.scalars(select(SubmissionVersion.instance_id).where(SubmissionVersion.id > after))
    )


def _mirror_form(
    session: Session, runtime: Any, project: Any, xml: bytes, state: str | None
) -> int:
    from server.blobs import service as blob_service
    from server.errors import Problem
    from server.forms.compile import describe_xform
    from server.forms.models import FormState
    from server.forms.service import _publish_compiled, get_form, set_state

    try:
        compiled = describe_xform(xml)
    except Problem as problem:
        log.warning("form not mirrored", extra={"detail": problem.detail})
        return 0
    stored = runtime.blobs.put_bytes(xml)
    blob_service.register(session, stored, "text/xml")
    try:
        result = _publish_compiled(
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
        return 0
    if state in ("open", "closing", "closed"):
        set_state(session, get_form(session, project.id, compiled.form_id), FormState(state), None)
    return 1 if result.created else 0


def _mirror_media(
    session: Session,
    runtime: Any,
    store: Store,
    project: Any,
    form_id: str,
    version: str,
    name: str,
    sha256: str,
) -> int:
    from server.blobs import service as blob_service
    from server.forms.models import Form, FormAttachment, FormVersion

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
        return 0
    with store.open_blob(sha256) as stream:
        stored = runtime.blobs.put_stream(stream)
    blob_service.register(session, stored)
    attachment.blob_sha256 = stored.sha256
    return 1


def adopt_entity_list(
    session: Session, project_id: int, list_name: str, csv_text: str, not_yet_at_centre: set[str]
) -> tuple[int, int]:
    """Take the centre's merged state of a list; returns (adopted, kept)."""
    from server.entities.hub import adopt_entity_list as adopt

    report = adopt(session, project_id, list_name, csv_text, not_yet_at_centre)
    return report.adopted, report.kept


# --- what `fieldsync push/pull/sync` do when this laptop is a hub ----------------------------


def before_push(store: Store, home: Path, project_id: int | None, hub_id: str) -> CollectReport:
    """Queue the hub's new submissions (no-op when this laptop is not a hub)."""
    if not hub_exists(home):
        return CollectReport()
    runtime = open_hub(home)
    try:
        return collect(store, runtime, project_id, hub_id)
    finally:
        runtime.engine.dispose()


def after_pull(
    store: Store, home: Path, project_id: int | None, project_name: str = ""
) -> MirrorReport:
    """Serve what was just pulled (no-op when this laptop is not a hub)."""
    if not hub_exists(home) or project_id is None:
        return MirrorReport()
    runtime = open_hub(home)
    try:
        return mirror(store, runtime, project_id, project_name)
    finally:
        runtime.engine.dispose()
