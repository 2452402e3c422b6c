"""Laptop to laptop: ``fieldsync peer sync URL`` between two field hubs on the same network.

Each side sends the other a bundle of every form it holds (its tablets' and those other laptops
carried to it), signed by its key and encrypted for the other's: the same bundles as on a USB
stick, over HTTP. The hub serves ``/fieldsync-peer/v1/`` (:func:`peer_blueprint`): ``hello``
names its key and project; ``exchange`` takes the caller's bundle, applies it, and answers with
its own, encrypted for the caller. A key that neither the centre listed nor the coordinator
trusted is refused on both sides. The merge is a function of the set of reports, so both hubs
end with the same records and conflicts, and the centre computes the same when either pushes.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from sync_client import bundles, keys
from sync_client.errors import OfflineError, ServerError, UsageError
from sync_client.home import load_config
from sync_client.store import open_store

PREFIX = "/fieldsync-peer/v1"
BUNDLE_TYPE = "application/vnd.fieldsync.bundle"
MAX_BUNDLE = 2 * 1024 * 1024 * 1024
# One exchange at a time on a hub: two laptops arriving together take turns.
_exchange_lock = threading.Lock()


def _spool(stream: Any, directory: Path) -> Path:
    handle = tempfile.NamedTemporaryFile(dir=directory, suffix=".fsb", delete=False)  # noqa: SIM115
    size = 0
    with handle:
        while chunk := stream.read(1024 * 1024):
            size += len(chunk)
            if size > MAX_BUNDLE:
                raise UsageError("the bundle is too large")
            handle.write(chunk)
    return Path(handle.name)


def peer_blueprint(home: Path) -> Any:
    """The peer routes the hub serves (added to the hub's app by ``fieldsync hub``)."""
    from flask import Blueprint, Response, jsonify, request

    blueprint = Blueprint("fieldsync_peer", __name__, url_prefix=PREFIX)

    def refused(status: int, message: str) -> Any:
        response = jsonify({"code": "bundle.refused", "status": status, "detail": message})
        response.status_code = status
        response.mimetype = "application/problem+json"
        return response

    @blueprint.get("/hello")
    def hello() -> Any:
        config = load_config(home)
        public, _made = keys.init_keys(home)
        return jsonify(
            {
                "key": public.to_json(),
                "hub_id": config.hub_id,
                "project_id": config.project_id,
                "centre": config.server_url,
            }
        )

    @blueprint.post("/exchange")
    def exchange() -> Any:
        config = load_config(home)
        work = Path(tempfile.mkdtemp(prefix=".peer-", dir=home))
        try:
            path = _spool(request.stream, work)
            with _exchange_lock:
                store = open_store(home)
                try:
                    report = bundles.import_bundle(store, home, config, path)
                    sender = bundles.envelope_sender(path)
                    answer = bundles.export_bundle(
                        store,
                        home,
                        config,
                        work / "answer.fsb",
                        to_peer=keys.peer_key(home, sender),
                        exclude=frozenset(report.instance_ids),
                    )
                finally:
                    store.close()
            data = answer.path.read_bytes()
        except (keys.BundleError, UsageError) as exc:
            return refused(422, str(exc))
        finally:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
        response = Response(data, mimetype=BUNDLE_TYPE)
        response.headers["X-Peer-Received"] = str(report.queued)
        return response

    return blueprint


@dataclass
class PeerReport:
    peer_key: str
    peer_hub: str
    sent: bundles.ExportReport
    received: bundles.ImportReport
    they_queued: int


def peer_sync(home: Path, url: str, timeout: float = 300) -> PeerReport:
    """Exchange bundles with the hub at ``url``.

    Raises:
        OfflineError: the other laptop cannot be reached.
        BundleError: its key is not trusted, or a bundle was refused on either side.
        UsageError: it works for another project.
    """
    config = load_config(home)
    if config.project_id is None:
        raise UsageError("no project chosen: run `fieldsync login URL --project ID` once")
    base = url.rstrip("/")
    session = requests.Session()
    try:
        hello = session.get(f"{base}{PREFIX}/hello", timeout=30)
    except requests.RequestException as exc:
        raise OfflineError(f"the other laptop at {base} cannot be reached ({exc})") from None
    if hello.status_code != 200:
        raise ServerError(f"{base} is not a fieldsync hub that syncs with laptops")
    info = hello.json()
    if info.get("project_id") != config.project_id:
        raise UsageError(
            f"the other laptop works for project {info.get('project_id')}, this one for "
            f"project {config.project_id}"
        )
    theirs = str((info.get("key") or {}).get("key_id") or "")
    public = keys.peer_key(home, theirs)
    work = Path(tempfile.mkdtemp(prefix=".peer-", dir=home))
    store = open_store(home)
    try:
        sent = bundles.export_bundle(store, home, config, work / "out.fsb", to_peer=public)
        try:
            with sent.path.open("rb") as body:
                answer = session.post(
                    f"{base}{PREFIX}/exchange",
                    data=body,
                    headers={"Content-Type": BUNDLE_TYPE},
                    timeout=timeout,
                )
        except requests.RequestException as exc:
            raise OfflineError(f"the exchange with {base} was cut ({exc}); run it again") from None
        if answer.status_code != 200:
            try:
                detail = str(answer.json().get("detail"))
            except ValueError:
                detail = answer.text[:200]
            raise keys.BundleError(f"the other laptop refused this laptop's bundle: {detail}")
        received_path = work / "in.fsb"
        received_path.write_bytes(answer.content)
        received = bundles.import_bundle(store, home, config, received_path)
    finally:
        store.close()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return PeerReport(
        theirs,
        str(info.get("hub_id") or ""),
        sent,
        received,
        int(answer.headers.get("X-Peer-Received") or 0),
    )
