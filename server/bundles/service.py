"""Importing a laptop's bundle at the centre: every check first, then the items applied exactly
as a push applies them (:func:`server.sync.service.push_item`), in one transaction, and a
receipt bundle made for the sender.

The same bundle imported again gets the stored results (nothing is applied twice); an
overlapping bundle's items are recognised by instanceID (submissions) or by conflict and body
(resolutions), as a retried push is.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from server import errors
from server.accounts.models import Role
from server.blobs import service as blob_service
from server.blobs.store import FileBlobStore
from server.bundles import format as fmt
from server.bundles import keys
from server.bundles.models import BundleResolution, ImportedBundle
from server.db import transaction, utcnow
from server.entities import review
from server.entities.schemas import ResolutionRequest
from server.errors import Problem
from server.projects.service import get_project
from server.sync.service import AttachmentRef, PushItem, push_item

MAX_ITEMS = 100_000


@dataclass(frozen=True)
class Imported:
    bundle_id: str
    project_id: int
    sender_email: str
    replayed: bool  # imported before: nothing was applied this time
    results: list[dict[str, Any]]
    receipt: fmt.Written

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for result in self.results:
            found[str(result.get("status"))] = found.get(str(result.get("status")), 0) + 1
        return found


def import_bundle(
    factory: sessionmaker[Session],
    blobs: FileBlobStore,
    secret: str,
    path: Path,
    receipt_out: Path,
    *,
    project_id: int | None = None,
    workdir: Path | None = None,
) -> Imported:
    """Check ``path`` whole, apply it, and write the receipt to ``receipt_out``.

    Raises:
        Problem: a ``bundle.*`` code (nothing applied), or 404 for an unknown project.
    """
    envelope = fmt.read_envelope(path)
    expected = envelope.project_id if project_id is None else project_id
    with transaction(factory) as session:
        sender = keys.sender(session, envelope.sender)
        centre = keys.project_keys(session, expected, secret)
        if envelope.project_id == expected:
            keys.check_right(session, sender.user, expected, Role.DATA_COLLECTOR)
        session.expunge(sender.user)
    opened = fmt.open_bundle(
        path,
        sender_key=lambda _key_id: sender.public,
        recipient=centre,
        project_id=expected,
        workdir=workdir,
    )
    try:
        if opened.envelope.kind != fmt.OUTBOX:
            raise errors.bundle_damaged(f"a {opened.envelope.kind} bundle cannot be imported here")
        file_sha = fmt.file_sha256(path)
        replayed, results = _apply(factory, blobs, opened, sender, file_sha)
    finally:
        opened.close()
    receipt = fmt.write_bundle(
        receipt_out,
        fmt.Contents(
            kind=fmt.RECEIPT,
            project_id=expected,
            body={"in_reply_to": envelope.bundle_id, "results": results},
        ),
        centre,
        sender.public,
        sender_info={"centre": True},
    )
    return Imported(envelope.bundle_id, expected, sender.user.email, replayed, results, receipt)


def _previous(session: Session, project_id: int, bundle_id: str) -> list[dict[str, Any]] | None:
    row = session.scalars(
        select(ImportedBundle).where(
            ImportedBundle.project_id == project_id, ImportedBundle.bundle_id == bundle_id
        )
    ).first()
    return None if row is None else list(row.results)


def _apply(
    factory: sessionmaker[Session],
    blobs: FileBlobStore,
    opened: fmt.Opened,
    sender: keys.Sender,
    file_sha: str,
) -> tuple[bool, list[dict[str, Any]]]:
    envelope = opened.envelope
    manifest = opened.manifest
    submissions = list(manifest.get("submissions") or [])
    resolutions = list(manifest.get("resolutions") or [])
    if len(submissions) + len(resolutions) > MAX_ITEMS:
        raise errors.bundle_damaged(f"it holds more than {MAX_ITEMS} items")
    with transaction(factory) as session:
        before = _previous(session, envelope.project_id, envelope.bundle_id)
        if before is not None:
            return True, before
    # Files first (content-addressed: a file nothing refers to is swept later), rows after.
    stored = {}
    for name in opened.manifest["files"]:
        if name.startswith("blobs/"):
            with opened.open(name) as stream:
                blob = blobs.put_stream(stream)
            if blob.sha256 != name[len("blobs/") :]:
                raise errors.bundle_hash_mismatch(name)
            stored[blob.sha256] = blob
    hop = {
        "hop": "bundle",
        "id": envelope.bundle_id,
        "key_id": envelope.sender,
        "laptop": sender.label,
        "received_at": utcnow().isoformat().replace("+00:00", "Z"),
    }
    try:
        with transaction(factory) as session:
            project = get_project(session, envelope.project_id)
            for blob in stored.values():
                blob_service.register(session, blob, project_id=project.id)
            results = [
                _submission(session, blobs, project, sender, opened, item, hop)
                for item in submissions
            ]
            results += [
                _resolution(session, project.id, sender, opened, item) for item in resolutions
            ]
            session.add(
                ImportedBundle(
                    project_id=project.id,
                    bundle_id=envelope.bundle_id,
                    sender_key_id=envelope.sender,
                    user_id=sender.user.id,
                    file_sha256=file_sha,
                    results=results,
                    imported_at=utcnow(),
                )
            )
            session.flush()
    except IntegrityError:
        # The same bundle imported at the same moment elsewhere: its answer stands.
        with transaction(factory) as session:
            again = _previous(session, envelope.project_id, envelope.bundle_id)
        if again is None:
            raise
        return True, again
    return False, results


def _submission(
    session: Session,
    blobs: FileBlobStore,
    project: Any,
    sender: keys.Sender,
    opened: fmt.Opened,
    item: dict[str, Any],
    hop: dict[str, Any],
) -> dict[str, Any]:
    try:
        xml = opened.read(str(item["xml"])).decode("utf-8")
        push = PushItem(
            client_id=str(item["client_id"]),
            xml=xml,
            attachments=tuple(
                AttachmentRef(str(a["name"]), str(a["sha256"])) for a in item["attachments"]
            ),
            via=(*[h for h in item.get("via") or [] if isinstance(h, dict)][:19], hop),
        )
    except (KeyError, TypeError, UnicodeDecodeError) as exc:
        raise errors.bundle_damaged(f"an item of the manifest is malformed ({exc})") from None
    result = push_item(session, blobs, project, sender.user.id, push).to_json()
    return {"kind": "submission", **result}


def _resolution(
    session: Session, project_id: int, sender: keys.Sender, opened: fmt.Opened, item: Any
) -> dict[str, Any]:
    try:
        client_id = str(item["client_id"])
        conflict_id = str(item["conflict_id"])
        raw = opened.read(str(item["body"]))
    except (KeyError, TypeError) as exc:
        raise errors.bundle_damaged(f"a resolution in the manifest is malformed ({exc})") from None
    body_sha = hashlib.sha256(raw).hexdigest()
    base = {"kind": "resolution", "client_id": client_id, "conflict_id": conflict_id}
    earlier = session.scalars(
        select(BundleResolution).where(
            BundleResolution.project_id == project_id,
            BundleResolution.conflict_id == conflict_id,
            BundleResolution.body_sha256 == body_sha,
        )
    ).first()
    if earlier is not None:
        return {**base, **earlier.result, "status": "duplicate"}
    outcome: dict[str, Any]
    try:
        keys.check_right(session, sender.user, project_id, Role.COORDINATOR)
        data = ResolutionRequest().load(json.loads(raw))
        with session.begin_nested():
            review.resolve(
                session,
                project_id,
                int(conflict_id),
                values=data["values"],
                reason=data["reason"],
                user_id=sender.user.id,
                reopen=data["reopen"],
            )
        outcome = {"status": "resolved", "code": None, "detail": None}
    except Problem as problem:
        outcome = {"status": "rejected", "code": problem.code, "detail": problem.detail}
    except (ValidationError, ValueError) as exc:
        outcome = {"status": "rejected", "code": errors.INVALID_INPUT, "detail": str(exc)}
    if outcome["status"] == "resolved":
        session.add(
            BundleResolution(
                project_id=project_id,
                conflict_id=conflict_id,
                body_sha256=body_sha,
                result=outcome,
                created_at=utcnow(),
            )
        )
    return {**base, **outcome}


def spool(stream: Any, directory: Path, limit: int) -> Path:
    """Copy an uploaded bundle to a temporary file (bounded by ``limit`` bytes).

    Raises:
        Problem: 413 when it is larger.
    """
    directory.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=directory, suffix=".fsb", delete=False)  # noqa: SIM115
    size = 0
    with handle:
        while chunk := stream.read(1024 * 1024):
            size += len(chunk)
            if size > limit:
                Path(handle.name).unlink(missing_ok=True)
                raise errors.too_large(limit)
            handle.write(chunk)
    return Path(handle.name)


def scratch_dir(base: Path) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="bundle-", dir=base))


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
