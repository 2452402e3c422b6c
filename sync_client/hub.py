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

import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync_client.errors import UsageError
from sync_client.store import Store, parse_moment, utcnow

if TYPE_CHECKING:
    from server import hub as server_api
    from server.hub import Runtime

# The server part is loaded only by the functions that need it, through its public hub API
# (:mod:`server.hub`): the client's other commands start without loading the server.

HUB_DIR = "hub"
HUB_CONFIG = "hub.json"


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


def open_hub(home: Path) -> Runtime:
    """The hub's server runtime (engine, sessions, blob store), migrated to the current schema.

    Raises:
        UsageError: the server part of fieldsync cannot be loaded on this laptop.
    """
    try:
        from server import hub as server_hub
    except ImportError as exc:  # pragma: no cover - the package ships both parts
        raise UsageError(f"the hub needs fieldsync's server part: {exc}") from exc
    return server_hub.open_runtime(hub_dir(home))


# --- logins for the hub's web pages ------------------------------------------------------------


def add_account(
    home: Path, email: str, password: str, role: str, caseworker: bool, project_name: str = ""
) -> int:
    """Create a login for the hub's web pages; returns the hub project's id.

    Raises:
        UsageError: the email is taken, or the email, password or role is refused.
    """
    from server import hub as server_hub

    runtime = open_hub(home)
    try:
        with server_hub.writing(runtime) as session:
            account = server_hub.add_account(
                session, email, password, role, caseworker, project_name
            )
        return account.project_id
    except server_hub.Problem as problem:
        raise UsageError(f"{email}: {problem.detail or problem.title}") from None
    finally:
        server_hub.close_runtime(runtime)


# --- devices ---------------------------------------------------------------------------------


@dataclass
class DeviceSetup:
    app_user_id: int
    name: str
    url: str
    qr_payload: str


def add_device(
    home: Path, name: str, base_url: str, project_name: str = "", forms: Sequence[str] = ()
) -> DeviceSetup:
    """Issue an app-user token on the hub (assigned ``forms``, which only assigned devices
    get) and the settings ODK Collect needs to use it.

    Raises: UsageError for an empty name or a form the hub does not serve (yet)."""
    from server import hub as server_hub

    runtime = open_hub(home)
    try:
        with server_hub.writing(runtime) as session:
            issued = server_hub.add_device(session, name, project_name, forms)
        url = f"{base_url.rstrip('/')}/v1/key/{issued.token}/projects/{issued.project_id}"
        return DeviceSetup(
            issued.app_user_id, name, url, collect_qr_payload(url, issued.project_name, name)
        )
    except server_hub.Problem as problem:
        raise UsageError(problem.detail or problem.title) from None
    finally:
        server_hub.close_runtime(runtime)


def collect_qr_payload(url: str, project_name: str, device_name: str) -> str:
    """What Collect's "Configure with QR code" reads (the server's UI shows the same code)."""
    from server import hub as server_hub

    return server_hub.collect_qr_payload(url, project_name, device_name)


def list_devices(home: Path) -> list[tuple[int, str, bool]]:
    from server import hub as server_hub

    runtime = open_hub(home)
    try:
        with server_hub.reading(runtime) as session:
            return [(d.app_user_id, d.name, d.revoked) for d in server_hub.list_devices(session)]
    finally:
        server_hub.close_runtime(runtime)


def revoke_device(home: Path, app_user_id: int) -> None:
    """Raises: UsageError when the hub has no such device."""
    from server import hub as server_hub

    runtime = open_hub(home)
    try:
        with server_hub.writing(runtime) as session:
            if not server_hub.revoke_device(session, app_user_id):
                raise UsageError(f"there is no device {app_user_id} on this hub")
    finally:
        server_hub.close_runtime(runtime)


def collected_upto(store: Store) -> int:
    """How far the hub's submissions were read into the outbox (a hub position)."""
    return int(store.get_meta("hub_collected_upto") or 0)


# --- hub -> outbox ---------------------------------------------------------------------------


@dataclass
class CollectReport:
    queued: int = 0
    already: int = 0
    differs: list[str] = field(default_factory=list)


def collect(store: Store, runtime: Runtime, project_id: int | None, hub_id: str) -> CollectReport:
    """Queue every submission the hub received that is not in the outbox yet.

    Crash-safe: the outbox's unique instanceID decides duplicates, and the position read up to
    is stored in the same transaction as the rows it covers.
    """
    from server import hub as server_hub
    from sync_client.instances import FoundInstance
    from sync_client.outbox import AddOutcome, add_submission

    report = CollectReport()
    after = collected_upto(store)
    with server_hub.reading(runtime) as session:
        received = server_hub.received_since(session, after)
    for item in received:
        stamp = item.received_at.isoformat().replace("+00:00", "Z")
        device_hop: dict[str, Any] = {
            "hop": "device",
            "id": item.device_id or item.app_user or "unknown",
            "app_user": item.app_user,
            "received_at": stamp,
        }
        hub_hop: dict[str, Any] = {"hop": "hub", "id": hub_id, "received_at": stamp}
        if item.entity_context is not None:
            hub_hop["entity_context"] = item.entity_context.to_json()
        attachments = []
        for file in item.files:
            with runtime.blobs.open(file.sha256) as stream:
                attachments.append((file.name, store.put_blob_stream(stream)))
        found = FoundInstance(
            display=f"hub submission {item.instance_id}",
            xml=item.xml,
            form_id=item.form_id,
            version=item.form_version,
            instance_id=item.instance_id,
            deprecated_id=item.deprecated_id,
            device_id=item.device_id or "",
            modified=item.received_at,
        )
        with store.transaction() as conn:
            outcome = add_submission(
                store, conn, found, attachments, project_id, [device_hop, hub_hop], "hub"
            )
            store.set_meta(conn, "hub_collected_upto", str(item.position))
        if outcome is AddOutcome.IMPORTED:
            report.queued += 1
        elif outcome is AddOutcome.ALREADY:
            report.already += 1
        else:
            report.differs.append(item.instance_id)
    return report


# --- centre -> hub ---------------------------------------------------------------------------


@dataclass
class MirrorReport:
    forms: int = 0
    media: int = 0
    entities_adopted: int = 0
    entities_kept: int = 0


def mirror(
    store: Store, runtime: Runtime, centre_project_id: int, project_name: str = ""
) -> MirrorReport:
    """Make the hub serve what was last pulled from the centre."""
    from server import hub as server_hub

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
    upto = collected_upto(store)
    with server_hub.writing(runtime) as session:
        project = server_hub.hub_project(session, project_name)
        for form_id, _version, xml in forms:
            if server_hub.mirror_form(session, runtime, project, bytes(xml), states.get(form_id)):
                report.forms += 1
        latest_lists: dict[str, str] = {}
        for form_id, version, name, sha256, is_entity_list, _updated in media:
            if is_entity_list:
                latest_lists[name.rsplit(".", 1)[0]] = sha256
            elif server_hub.mirror_media(
                session,
                runtime,
                project,
                form_id,
                version,
                name,
                sha256,
                partial(store.open_blob, sha256),
            ):
                report.media += 1
        uncollected = server_hub.instance_ids_since(session, upto)
        for list_name, sha256 in sorted(latest_lists.items()):
            with store.open_blob(sha256) as stream:
                text = stream.read().decode("utf-8")
            adopted = server_hub.adopt_entity_list(
                session, project.id, list_name, text, pending | uncollected
            )
            report.entities_adopted += adopted.adopted
            report.entities_kept += adopted.kept
    return report


# --- what `fieldsync push/pull/sync` do when this laptop is a hub ----------------------------


def before_push(store: Store, home: Path, project_id: int | None, hub_id: str) -> CollectReport:
    """Queue the hub's new submissions (no-op when this laptop is not a hub)."""
    from server import hub as server_hub

    if not hub_exists(home):
        return CollectReport()
    with store.transaction() as conn:
        store.set_meta(conn, EXCHANGE_STARTED, utcnow())
    runtime = open_hub(home)
    try:
        return collect(store, runtime, project_id, hub_id)
    finally:
        server_hub.close_runtime(runtime)


def after_pull(
    store: Store, home: Path, project_id: int | None, project_name: str = "", pulled: bool = True
) -> MirrorReport:
    """Serve what was just pulled (no-op when this laptop is not a hub); ``pulled``: a pull
    from the centre just finished (not the hub starting), as the hub's page reports."""
    from server import hub as server_hub

    if not hub_exists(home) or project_id is None:
        return MirrorReport()
    runtime = open_hub(home)
    try:
        report = mirror(store, runtime, project_id, project_name)
    finally:
        server_hub.close_runtime(runtime)
    if pulled:
        with store.transaction() as conn:
            store.set_meta(conn, EXCHANGE_DONE, utcnow())
    return report


# --- what the hub's web page shows of the laptop ------------------------------------------------

# Store meta keys: a push or sync started, a pull finished and the hub serves it, the
# background sync failed (with its reason).
EXCHANGE_STARTED = "hub_exchange_started"
EXCHANGE_DONE = "hub_exchange_done"
EXCHANGE_FAILED = "hub_exchange_failed"


def record_failure(store: Store, reason: str) -> None:
    """Keep the background sync's failure for the hub's page (one line, no form's answers)."""
    line = " ".join(reason.split())[:300]
    with store.transaction() as conn:
        store.set_meta(conn, EXCHANGE_FAILED, json.dumps({"at": utcnow(), "reason": line}))


def laptop_state(home: Path) -> server_api.LaptopState:
    """What the laptop's outbox says about the hub's reports: those the centre has not
    acknowledged (by form id and instanceID, never their answers), those it refused with its
    reason, and the last exchanges with the centre.

    Raises:
        StoreError: the laptop's store cannot be opened or read.
    """
    from server import hub as server_hub
    from sync_client.home import load_config
    from sync_client.store import open_store

    config = load_config(home)
    pid = config.project_id
    store = open_store(home)
    try:
        conn = store.conn
        queued = []
        for instance_id, form_id, via, created_at, attempts, last_error in conn.execute(
            "SELECT instance_id, form_id, via, created_at, attempts, last_error FROM outbox "
            "WHERE kind = 'submission' AND state = 'pending' ORDER BY id"
        ):
            hops = json.loads(via or "[]")
            device: dict[str, Any] = next((h for h in hops if h.get("hop") == "device"), {})
            queued.append(
                server_hub.QueuedReport(
                    instance_id=str(instance_id),
                    form_id=str(form_id),
                    received_at=parse_moment(device.get("received_at")),
                    queued_at=parse_moment(created_at),
                    attempts=int(attempts),
                    last_error=last_error,
                )
            )
        refused = [
            server_hub.RefusedItem(int(i), str(k), str(key), str(f), str(st), str(c), str(d))
            for i, k, key, f, st, c, d in conn.execute(
                "SELECT id, kind, COALESCE(instance_id, conflict_id), form_id, state, "
                "COALESCE(result_code, ''), COALESCE(result_detail, '') FROM outbox "
                "WHERE state IN ('conflict', 'rejected') ORDER BY id"
            )
        ]
        resolutions = conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'resolution' AND state = 'pending'"
        ).fetchone()[0]
        failed = json.loads(store.get_meta(EXCHANGE_FAILED) or "{}")
        exchange = server_hub.CentreExchange(
            last_sync=parse_moment(store.get_meta(f"last_sync:{pid}")),
            last_push=parse_moment(store.get_meta(f"last_push:{pid}")),
            last_pull=parse_moment(store.get_meta(f"last_pull:{pid}")),
            last_attempt=parse_moment(store.get_meta(EXCHANGE_STARTED)),
            last_done=parse_moment(store.get_meta(EXCHANGE_DONE)),
            failed_at=parse_moment(failed.get("at")),
            failure=str(failed.get("reason", "")),
        )
        return server_hub.LaptopState(
            centre_url=config.server_url if config.logged_in else "",
            collected_upto=collected_upto(store),
            queued=tuple(queued),
            refused=tuple(refused),
            resolutions_waiting=int(resolutions),
            exchange=exchange,
        )
    finally:
        store.close()
