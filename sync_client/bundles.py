"""``fieldsync bundle export`` and ``import``: the outbox (and, for a laptop in the field, the
centre's forms, media and entity lists) as one signed, encrypted file, and what to do with one
that arrives: a receipt from the centre marks outbox items delivered; another laptop's bundle
is queued in the outbox (to reach the centre later, once) and merged into the hub.

The file format, signing and encryption are :mod:`server.bundles.format` (docs/adr/0020).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sync_client import keys
from sync_client.centre_state import adopt_centre_rows, centre_rows
from sync_client.errors import UsageError
from sync_client.home import Config
from sync_client.store import Store, utcnow

if TYPE_CHECKING:
    from server.bundles.crypto import PublicKeys
    from server.bundles.format import Opened

DONE = frozenset({"stored", "duplicate", "edit", "resolved"})


@dataclass
class ExportReport:
    bundle_id: str
    path: Path
    size: int
    submissions: int
    resolutions: int
    blobs: int
    centre_state: bool
    upto: int


def _problem_to_error(problem: Exception) -> keys.BundleError:
    return keys.BundleError(str(getattr(problem, "detail", problem)))


def export_bundle(
    store: Store,
    home: Path,
    config: Config,
    out: Path,
    *,
    since: int = 0,
    to_peer: PublicKeys | None = None,
    centre_state: bool = False,
    on_bytes: Any = None,
    exclude: frozenset[str] = frozenset(),
) -> ExportReport:
    """Write a bundle for the centre (its pinned key) or for another laptop (``to_peer``).

    For the centre: the outbox items still waiting (above ``since``). For a laptop: every
    submission this laptop holds that is not refused (above ``since``), so it reaches the centre
    through whichever laptop gets there first.

    Raises:
        UsageError: no key, no centre key pinned, no project.
        StoreError: the file cannot be written (nothing is left that looks like a bundle).
    """
    from server.bundles import format as fmt

    if config.project_id is None:
        raise UsageError("no project chosen: run `fieldsync login URL --project ID` once")
    project_id = config.project_id
    sender = keys.load_keys(home)
    recipient = to_peer or keys.centre_key(home, project_id)
    if recipient is None:
        raise UsageError(
            "the centre's key is not known yet: log in or sync once with a link "
            "(`fieldsync login URL`), which fetches and pins it"
        )
    # What this laptop's hub received from tablets goes in too (as `fieldsync push` does).
    from sync_client import hub

    hub.before_push(store, home, project_id, config.hub_id)
    states = ("pending",) if to_peer is None else ("pending", "sent")
    marks = ",".join("?" * len(states))
    rows = store.conn.execute(
        "SELECT id, kind, instance_id, conflict_id, form_id, form_version, body, via "  # noqa: S608
        f"FROM outbox WHERE state IN ({marks}) AND id > ? "
        "AND (project_id = ? OR project_id IS NULL) ORDER BY id",
        (*states, since, project_id),
    ).fetchall()
    # What the recipient just sent us, it holds already.
    rows = [r for r in rows if r[2] not in exclude]
    files: dict[str, Any] = {}
    submissions: list[dict[str, Any]] = []
    resolutions: list[dict[str, Any]] = []
    for item_id, kind, instance_id, conflict_id, form_id, version, body, via in rows:
        body = bytes(body)
        if kind == "resolution":
            if to_peer is not None:
                continue  # decided against the centre's conflicts: only the centre applies it
            name = f"resolutions/{item_id}.json"
            files[name] = partial(io.BytesIO, body)
            resolutions.append(
                {"client_id": str(item_id), "conflict_id": conflict_id, "body": name}
            )
            continue
        attachments = [
            {"name": n, "sha256": s}
            for n, s in store.conn.execute(
                "SELECT name, sha256 FROM outbox_attachments WHERE outbox_id = ? ORDER BY name",
                (item_id,),
            )
        ]
        for attachment in attachments:
            store.verify_blob(attachment["sha256"])
            files[f"blobs/{attachment['sha256']}"] = partial(store.open_blob, attachment["sha256"])
        name = f"items/{item_id}.xml"
        files[name] = partial(io.BytesIO, body)
        submissions.append(
            {
                "client_id": str(item_id),
                "instance_id": instance_id,
                "form_id": form_id,
                "form_version": version,
                "xml": name,
                "attachments": attachments,
                "via": json.loads(via or "[]"),
            }
        )
    state = centre_rows(store, project_id, files) if centre_state else None
    upto = max([since, *(int(r[0]) for r in rows)])
    body = {
        "since": since,
        "upto": upto,
        "submissions": submissions,
        "resolutions": resolutions,
        "centre_state": state,
    }
    contents = fmt.Contents(kind=fmt.OUTBOX, project_id=project_id, body=body, files=files)
    info = {"hub_id": config.hub_id, "email": config.email}
    try:
        written = fmt.write_bundle(
            out, contents, sender, recipient, sender_info=info, on_bytes=on_bytes
        )
    except OSError as exc:
        from sync_client.store import store_os_error

        raise store_os_error(exc, out.parent) from exc
    carried = [int(r[0]) for r in rows if to_peer is None or r[1] == "submission"]
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO bundles_out (bundle_id, recipient, to_centre, project_id, path, items, "
            "size, exported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                written.bundle_id,
                recipient.key_id,
                int(to_peer is None),
                project_id,
                str(out),
                len(carried),
                written.size,
                utcnow(),
            ),
        )
        conn.executemany(
            "INSERT INTO bundle_items (bundle_id, outbox_id) VALUES (?, ?)",
            [(written.bundle_id, i) for i in carried],
        )
    return ExportReport(
        written.bundle_id,
        out,
        written.size,
        len(submissions),
        len(resolutions),
        sum(1 for n in files if n.startswith("blobs/")),
        state is not None,
        upto,
    )


# --- import ------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    bundle_id: str
    kind: str
    sender: str
    again: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    queued: int = 0
    already: int = 0
    hub: Counter[str] = field(default_factory=Counter)
    centre_rows: int = 0
    acknowledged: str | None = None
    instance_ids: set[str] = field(default_factory=set)


def _sender_key(home: Path, project_id: int, key_id: str) -> PublicKeys:
    centre = keys.centre_key(home, project_id)
    if centre is not None and centre.key_id == key_id:
        return centre
    return keys.peer_key(home, key_id)


def open_for_laptop(store: Store, home: Path, project_id: int, path: Path) -> Opened:
    """Check a bundle whole (every check of the format, with this laptop's trust).

    Raises: BundleError."""
    from server.bundles import format as fmt
    from server.errors import Problem

    try:
        return fmt.open_bundle(
            path,
            sender_key=partial(_sender_key, home, project_id),
            recipient=keys.load_keys(home),
            project_id=project_id,
            workdir=store.home,
        )
    except Problem as problem:
        raise _problem_to_error(problem) from None


def import_bundle(store: Store, home: Path, config: Config, path: Path) -> ImportReport:
    """Apply a receipt or another laptop's bundle; nothing is applied unless every check passed.

    Raises: BundleError, UsageError."""
    from server.bundles import format as fmt

    if config.project_id is None:
        raise UsageError("no project chosen: run `fieldsync login URL --project ID` once")
    opened = open_for_laptop(store, home, config.project_id, path)
    try:
        envelope = opened.envelope
        manifest = opened.manifest
        who = (manifest.get("sender") or {}).get("hub_id") or envelope.sender
        report = ImportReport(
            envelope.bundle_id,
            envelope.kind,
            "the centre" if envelope.kind == fmt.RECEIPT else str(who),
        )
        seen = store.conn.execute(
            "SELECT 1 FROM bundles_in WHERE bundle_id = ?", (envelope.bundle_id,)
        ).fetchone()
        report.again = seen is not None
        try:
            if envelope.kind == fmt.RECEIPT:
                _apply_receipt(store, manifest, report)
            else:
                _apply_peer(store, home, config, opened, report)
        except (KeyError, TypeError, ValueError) as exc:
            # Signed, but not what this fieldsync makes: what was queued so far stays (each item
            # is whole and idempotent), the rest is refused.
            raise keys.BundleError(f"bundle refused: its manifest is malformed ({exc})") from None
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO bundles_in (bundle_id, sender, kind, items, imported_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (bundle_id) DO NOTHING",
                (
                    envelope.bundle_id,
                    envelope.sender,
                    envelope.kind,
                    sum(report.counts.values()),
                    utcnow(),
                ),
            )
    finally:
        opened.close()
    return report


def _apply_receipt(store: Store, manifest: dict[str, Any], report: ImportReport) -> None:
    now = utcnow()
    with store.transaction() as conn:
        for result in manifest.get("results") or []:
            try:
                item_id = int(result.get("client_id"))
            except (TypeError, ValueError):
                continue
            status = str(result.get("status") or "")
            report.counts[status] += 1
            code, detail = result.get("code"), result.get("detail")
            if status in DONE:
                state, error = "sent", None
            elif status == "conflict":
                state, error = "conflict", f"{code}: {detail}"
            elif code == "blob.missing" or not status:
                continue  # stays pending: the next bundle or push carries it again
            else:
                state, error = "rejected", f"{code}: {detail}"
            conn.execute(
                "UPDATE outbox SET state = ?, result_status = ?, result_code = ?, "
                "result_detail = ?, last_error = ?, sent_at = CASE WHEN ? = 'sent' THEN ? "
                "ELSE sent_at END WHERE id = ? AND state = 'pending' AND batch_key IS NULL",
                (state, status, code, detail, error, state, now, item_id),
            )
        replied = str(manifest.get("in_reply_to") or "")
        conn.execute(
            "UPDATE bundles_out SET acknowledged_at = COALESCE(acknowledged_at, ?) "
            "WHERE bundle_id = ?",
            (now, replied),
        )
    report.acknowledged = replied


def _apply_peer(
    store: Store, home: Path, config: Config, opened: Opened, report: ImportReport
) -> None:
    from sync_client import hub
    from sync_client.instances import FoundInstance
    from sync_client.outbox import AddOutcome, add_submission

    manifest = opened.manifest
    carrier = manifest.get("sender") or {}
    project_id = config.project_id
    assert project_id is not None
    received_at = utcnow()
    runtime = hub.open_hub(home) if hub.hub_exists(home) else None
    try:
        for item in manifest.get("submissions") or []:
            xml = opened.read(str(item["xml"]))
            via = [h for h in item.get("via") or [] if isinstance(h, dict)][:18]
            via.append(
                {
                    "hop": "peer",
                    "id": config.hub_id,
                    "from": str(carrier.get("hub_id") or ""),
                    "key_id": opened.envelope.sender,
                    "bundle": opened.envelope.bundle_id,
                    "received_at": received_at,
                }
            )
            attachments = []
            for attachment in item.get("attachments") or []:
                with opened.open(f"blobs/{attachment['sha256']}") as stream:
                    ref = store.put_blob_stream(stream)
                if ref.sha256 != attachment["sha256"]:
                    raise keys.BundleError(
                        f"bundle refused: blobs/{attachment['sha256']} does not have that SHA-256"
                    )
                attachments.append((str(attachment["name"]), ref))
            found = FoundInstance(
                display=f"bundle {opened.envelope.bundle_id} item {item.get('client_id')}",
                xml=xml,
                form_id=str(item.get("form_id") or ""),
                version=str(item.get("form_version") or ""),
                instance_id=str(item["instance_id"]),
                deprecated_id=None,
                device_id="",
                modified=None,
            )
            with store.transaction() as conn:
                outcome = add_submission(
                    store,
                    conn,
                    found,
                    attachments,
                    project_id,
                    via,
                    f"peer {carrier.get('hub_id', '')}",
                )
            report.counts["submission"] += 1
            report.instance_ids.add(found.instance_id)
            if outcome is AddOutcome.IMPORTED:
                report.queued += 1
            else:
                report.already += 1
            if runtime is not None:
                report.hub[_into_hub(runtime, xml, item, opened, via)] += 1
    finally:
        if runtime is not None:
            from server import hub as server_hub

            server_hub.close_runtime(runtime)
    state = manifest.get("centre_state")
    if isinstance(state, dict):
        report.centre_rows = adopt_centre_rows(store, opened, project_id, state)
        hub.after_pull(store, home, project_id, config.project_name)


def _into_hub(
    runtime: Any, xml: bytes, item: dict[str, Any], opened: Opened, via: list[Any]
) -> str:
    from server import hub as server_hub

    files: list[tuple[str, Callable[[], AbstractContextManager[BinaryIO]]]] = [
        (str(a["name"]), partial(opened.open, f"blobs/{a['sha256']}"))
        for a in item.get("attachments") or []
    ]
    with server_hub.writing(runtime) as session:
        return server_hub.receive_forwarded(session, runtime, xml, files, via)


def unacknowledged(store: Store) -> list[tuple[str, str, int, str]]:
    """Bundles exported for the centre whose receipt has not come back: id, file, items, when."""
    rows = store.conn.execute(
        "SELECT bundle_id, path, items, exported_at FROM bundles_out "
        "WHERE to_centre = 1 AND acknowledged_at IS NULL ORDER BY exported_at"
    ).fetchall()
    return [(str(r[0]), str(r[1]), int(r[2]), str(r[3])) for r in rows]


def envelope_sender(path: Path) -> str:
    """The key id a bundle says signed it (checked by :func:`open_for_laptop`)."""
    from server.bundles import format as fmt

    return fmt.read_envelope(path).sender
