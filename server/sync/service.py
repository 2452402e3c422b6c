"""Push: storing a batch of submissions sent by a laptop, one savepoint per item.

Each item goes through the same decision tree as a tablet's submission
(:func:`server.intake.service.submission_arrives`); its refusal becomes that item's result
instead of failing the batch. The batch's answer is stored against its idempotency key in the same
transaction as the items, so a retried batch gets the same answer and stores nothing twice.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from server.blobs.store import FileBlobStore, StoredBlob
from server.db import transaction
from server.entities.codec import HubContext
from server.errors import Problem
from server.intake.service import submission_arrives
from server.projects.models import Project
from server.projects.service import get_project
from server.submissions.parse import parse_instance
from server.submissions.service import IncomingAttachment, Outcome, Submitter
from server.sync import idempotency
from server.sync.uploads import held_blobs


class ItemStatus(enum.StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    EDIT = "edit"
    CONFLICT = "conflict"
    REJECTED = "rejected"


_BY_OUTCOME = {
    Outcome.CREATED: ItemStatus.STORED,
    Outcome.DUPLICATE: ItemStatus.DUPLICATE,
    Outcome.EDIT: ItemStatus.EDIT,
}
# Refusals that mean "the server holds something else under this instanceID"; every other
# refusal (malformed, unknown or closed form...) rejects the item.
CONFLICT_CODES = frozenset({"submission.instance_conflict", "submission.edit_stale"})


@dataclass(frozen=True)
class AttachmentRef:
    name: str
    sha256: str


@dataclass(frozen=True)
class PushItem:
    client_id: str
    xml: str
    attachments: tuple[AttachmentRef, ...] = ()
    via: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ItemResult:
    client_id: str
    instance_id: str | None
    status: ItemStatus
    code: str | None = None
    detail: str | None = None
    missing_attachments: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "instance_id": self.instance_id,
            "status": self.status.value,
            "code": self.code,
            "detail": self.detail,
            "missing_attachments": self.missing_attachments,
        }


@dataclass(frozen=True)
class PushAnswer:
    body: dict[str, Any]
    replayed: bool  # the stored answer to an earlier request with the same key


def request_fingerprint(body: dict[str, Any]) -> str:
    """The hash a retried request must match: of the parsed JSON, so that compressing it again
    or reordering its keys does not make a retry look like another request."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def push(
    factory: sessionmaker[Session],
    blobs: FileBlobStore,
    project_id: int,
    user_id: int,
    key: str,
    fingerprint: str,
    items: list[PushItem],
) -> PushAnswer:
    """Store a batch under an idempotency key and return the answer (stored with the key).

    Raises:
        Problem: 422 ``sync.idempotency_key_reused``; 409 ``sync.request_in_flight``; 404 when
            the project is gone.
    """
    claimed = idempotency.claim(factory, user_id, key, fingerprint)
    if claimed.replay is not None:
        return PushAnswer(claimed.replay, replayed=True)
    try:
        with transaction(factory) as session:
            project = get_project(session, project_id)
            results = [push_item(session, blobs, project, user_id, item) for item in items]
            answer = {"results": [r.to_json() for r in results]}
            idempotency.complete(session, user_id, key, answer)
    except BaseException:
        idempotency.release(factory, user_id, key)
        raise
    return PushAnswer(answer, replayed=False)


def push_item(
    session: Session, blobs: FileBlobStore, project: Project, user_id: int, item: PushItem
) -> ItemResult:
    """Store one item in its own savepoint and say what became of it; never raises a Problem."""
    xml = item.xml.encode("utf-8")
    held = held_blobs(session, blobs, project.id, (a.sha256 for a in item.attachments))
    lacking = [a.name for a in item.attachments if a.sha256 not in held]
    if lacking:
        return ItemResult(
            item.client_id,
            _instance_id(xml),
            ItemStatus.REJECTED,
            "blob.missing",
            "upload these attachments first, then send the item again: " + ", ".join(lacking),
            lacking,
        )
    incoming = [
        IncomingAttachment(
            a.name,
            StoredBlob(a.sha256, held[a.sha256].md5, held[a.sha256].size),
            held[a.sha256].content_type,
        )
        for a in item.attachments
    ]
    try:
        with session.begin_nested():
            result = submission_arrives(
                session,
                project,
                xml,
                incoming,
                Submitter(user_id=user_id, via=item.via),
                hub_context(item.via),
            )
    except Problem as problem:
        status = ItemStatus.CONFLICT if problem.code in CONFLICT_CODES else ItemStatus.REJECTED
        return ItemResult(item.client_id, _instance_id(xml), status, problem.code, problem.detail)
    return ItemResult(
        item.client_id,
        result.version.instance_id,
        _BY_OUTCOME[result.outcome],
        missing_attachments=result.attachments_missing,
    )


def _instance_id(xml: bytes) -> str | None:
    try:
        return parse_instance(xml).instance_id
    except Problem:
        return None


def hub_context(via: Any) -> HubContext | None:
    """What a field hub knew when it received the report (its last hop's ``entity_context``):
    the centre version it had and the hub-received updates the tablet had seen."""
    for hop in reversed(list(via or [])):
        if isinstance(hop, dict) and hop.get("hop") == "hub":
            return HubContext.from_json(hop.get("entity_context"))
    return None
