"""The entity step of receiving a submission, and the backlog of updates that must wait.

Every entity block a submission carries is put in the inbox, then applied when it can be: at
once, when its offline predecessor arrives, when its submission is approved (lists that require
approval), or when the backlog is force-processed. Nothing a device sent is dropped: an update
that cannot be applied stays in the inbox with its reason (held, awaiting approval or
rejected). Everything happens in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import errors
from server.db import utcnow
from server.entities import hub, merge
from server.entities.apply import (
    DeviceBase,
    apply_update,
    create_entity,
    create_if_new,
    device_base,
    to_update,
)
from server.entities.blocks import read_entity_block
from server.entities.codec import HubContext, InboxPayload
from server.entities.models import EntityInbox, EntityList, InboxStatus
from server.entities.store import (
    ensure_list,
    find_entity,
    known_list,
    lock_entity,
    versions_of,
)


@dataclass(frozen=True)
class ReceivedSubmission:
    """A newly stored submission version, as the entity step needs to know it."""

    project_id: int
    form_id: str  # the form's xmlFormId, for messages
    entity_spec: dict[str, Any]  # what the form version saves to an entity list
    submission_id: int
    submission_version_id: int
    instance_id: str
    # The instanceID this version replaces (an edit of a sent form), if any.
    replaces_instance_id: str | None
    approved: bool  # the submission's review state is "approved"
    source: str  # who sent it, for the version history
    root: etree._Element  # the instance XML


def receive(
    session: Session, received: ReceivedSubmission, hub_context: HubContext | None = None
) -> None:
    """Record the entity block of a newly stored submission version and apply it if it can be.

    Raises:
        Problem: 400 ``entity.undeclared_list`` when the block names a list the form version
            does not declare (or the form declares none).

    ``hub_context`` comes from a field hub: the tablet's base expressed in the centre's terms
    (the centre version it started from and the hub-received updates it had seen).
    """
    spec = received.entity_spec or {}
    block = read_entity_block(received.root, spec)
    if block is None:
        return
    # The list and the properties a submission may touch come from its form version's
    # declaration only: the block's own ``dataset`` is checked against it before any list is
    # looked up, so a block naming another list creates, widens and changes nothing. Collect
    # only ever writes the declared list, so such a block is forged: the whole submission is
    # refused (the caller's transaction rolls back), not kept with its block rejected.
    declared = str(spec.get("dataset") or "")
    if not declared or block.list_name != declared:
        raise errors.undeclared_entity_list(received.form_id, block.list_name, declared or None)
    properties = [str(p["name"]) for p in spec.get("properties", [])]
    payload = InboxPayload(
        create=block.create,
        update=block.update,
        label=block.label,
        values=block.values,
        base_version=block.base_version,
        trunk_version=block.trunk_version,
        branch_id=block.branch_id,
        date_of_information=block.date_of_information,
        reason=block.reason,
        source=received.source,
        replaces_update=received.replaces_instance_id,
        problems=block.problems,
        hub=hub_context,
    )
    # A creation with nothing to decide takes the short path, on the list as kept between
    # requests when it already has every property the form declares.
    new_id = block.uuid if block.create and not block.problems and not hub.is_hub(session) else ""
    kept = known_list(session, received.project_id, declared, properties) if new_id else None
    entity_list = kept or ensure_list(session, received.project_id, declared, properties)
    if (
        new_id
        and not (entity_list.approval_required and not received.approved)
        and _created_at_once(session, entity_list, received, new_id, payload)
    ):
        return
    if kept is not None:
        entity_list = ensure_list(session, received.project_id, declared, properties)
    inbox = EntityInbox(
        project_id=received.project_id,
        list_name=entity_list.name,
        entity_uuid=block.uuid,
        submission_id=received.submission_id,
        submission_version_id=received.submission_version_id,
        update_id=received.instance_id,
        payload=payload.to_json(),
        status=InboxStatus.HELD.value,
    )
    session.add(inbox)
    session.flush()
    if not block.uuid:
        reject(inbox, "the entity block names no entity id")
        return
    if block.problems:
        reject(inbox, "; ".join(block.problems))
        return
    if hub.is_hub(session):
        # A report another laptop carried here (peer sync) already says, in the centre's
        # terms, what its tablet had seen; its baseVersion counts the other hub's versions.
        exported = hub_context or hub.export_context(session, entity_list, inbox, block)
        inbox.payload = replace(payload, on_hub=True, export_context=exported).to_json()
    if entity_list.approval_required and not received.approved:
        inbox.status = InboxStatus.AWAITING_APPROVAL.value
        inbox.reason = "this list applies updates once their submission is approved"
        return
    process(session, inbox, entity_list=entity_list)


def _created_at_once(
    session: Session,
    entity_list: EntityList,
    received: ReceivedSubmission,
    uuid: str,
    payload: InboxPayload,
) -> bool:
    """A report creating an entity that does not exist yet, in the fewest round trips: under
    the entity's lock, the entity and its first version are inserted directly
    (:func:`server.entities.apply.create_if_new`) and the inbox entry is written already applied,
    which is where :func:`process` would have taken it. False, with nothing written but the
    lock taken, when the entity exists or its creation opens conflicts: the full path decides.
    """
    lock_entity(session, received.project_id, entity_list.name, uuid)
    update = to_update(received.instance_id, payload, merge.UpdateKind.CREATE, frozenset())
    entry = {
        "submission_id": received.submission_id,
        "submission_version_id": received.submission_version_id,
        "update_id": received.instance_id,
        "payload": payload.to_json(),
    }
    created = create_if_new(session, entity_list, uuid, update, entry)
    if created is None:
        return False
    if created.held:
        # Updates of this id that arrived before their creation can be applied now.
        release_waiting(session, entity_list, uuid)
    return True


def review_decided(session: Session, submission_id: int, state: str) -> None:
    """Approval releases updates waiting for it; rejection refuses them (kept, with reason)."""
    waiting = list(
        session.scalars(
            select(EntityInbox)
            .where(
                EntityInbox.submission_id == submission_id,
                EntityInbox.status == InboxStatus.AWAITING_APPROVAL.value,
            )
            .order_by(EntityInbox.id)
        )
    )
    for inbox in waiting:
        if state == "approved":
            inbox.status = InboxStatus.HELD.value
            inbox.reason = ""
            process(session, inbox)
        elif state == "rejected":
            reject(inbox, "the submission was rejected by a data verifier")


def reject(inbox: EntityInbox, reason: str) -> None:
    inbox.status = InboxStatus.REJECTED.value
    inbox.reason = reason
    inbox.processed_at = utcnow()


def process(
    session: Session,
    inbox: EntityInbox,
    *,
    force: bool = False,
    entity_list: EntityList | None = None,
) -> None:
    """Apply one inbox entry if it can be applied now; then release whatever it unblocks."""
    if entity_list is None:
        entity_list = ensure_list(session, inbox.project_id, inbox.list_name)
    lock_entity(session, inbox.project_id, inbox.list_name, inbox.entity_uuid)
    _process_locked(session, entity_list, inbox, force=force)
    release_waiting(session, entity_list, inbox.entity_uuid)


def release_waiting(session: Session, entity_list: EntityList, uuid: str) -> None:
    """Apply the held updates of this entity that can be applied now: they may have their
    predecessor, or their entity (created by a report, or through the API). The caller holds
    the entity's lock."""
    for _round in range(1000):
        held = list(
            session.scalars(
                select(EntityInbox)
                .where(
                    EntityInbox.project_id == entity_list.project_id,
                    EntityInbox.list_name == entity_list.name,
                    EntityInbox.entity_uuid == uuid,
                    EntityInbox.status == InboxStatus.HELD.value,
                )
                .order_by(EntityInbox.id)
            )
        )
        progressed = False
        for row in held:
            _process_locked(session, entity_list, row, force=False)
            progressed = progressed or row.status != InboxStatus.HELD.value
        if not progressed:
            return


def _process_locked(
    session: Session, entity_list: EntityList, inbox: EntityInbox, *, force: bool
) -> None:
    if inbox.status not in (InboxStatus.HELD.value,):
        return
    payload = InboxPayload.from_json(inbox.payload)
    entity = find_entity(session, entity_list, inbox.entity_uuid)
    versions = versions_of(session, entity) if entity is not None else []
    if any(v.update_id == inbox.update_id for v in versions):
        # Already applied (the same submission processed twice): one version, not two.
        inbox.status = InboxStatus.APPLIED.value
        inbox.processed_at = utcnow()
        return

    if entity is not None and entity.deleted_at is not None:
        # Deleted through Central's API: the update is kept here, with the reason, for a
        # person to read; it does not bring the record back.
        reject(inbox, f"the entity was deleted on {entity.deleted_at:%Y-%m-%d %H:%M} UTC")
        return
    if entity is None:
        if payload.create or force:
            create_entity(session, entity_list, inbox, payload, forced=force and not payload.create)
            return
        inbox.reason = "waiting for the entity to be created (its report has not arrived)"
        return

    if payload.create and not payload.update:
        # A second "create" of an existing id: its author saw nothing of this entity, so
        # every value it differs on is a conflict, not an overwrite.
        base = DeviceBase()
    else:
        base = device_base(session, entity, versions, inbox, payload, force=force)
    if base.waiting_for:
        inbox.reason = base.waiting_for
        return
    update = to_update(inbox, payload, merge.UpdateKind.UPDATE, base.seen)
    apply_update(
        session,
        entity_list,
        entity,
        versions,
        update,
        inbox=inbox,
        base_version=payload.base_version,
        forced=base.forced,
    )


@dataclass
class BacklogReport:
    applied: int = 0
    forced: int = 0
    still_held: int = 0


def process_backlog(
    session: Session, *, force: bool = False, older_than: timedelta | None = None
) -> BacklogReport:
    """Retry held updates; force-apply (flagged) those held longer than ``older_than`` or all
    of them with ``force``."""
    report = BacklogReport()
    cutoff = utcnow() - older_than if older_than is not None else None
    held = list(
        session.scalars(
            select(EntityInbox)
            .where(EntityInbox.status == InboxStatus.HELD.value)
            .order_by(EntityInbox.id)
        )
    )
    for inbox in held:
        if inbox.status != InboxStatus.HELD.value:
            continue
        process(session, inbox)
        if inbox.status == InboxStatus.APPLIED.value:
            report.applied += 1
            continue
        due = force or (cutoff is not None and inbox.received_at <= cutoff)
        if due:
            process(session, inbox, force=True)
            if inbox.status == InboxStatus.APPLIED.value:
                report.forced += 1
                continue
        report.still_held += 1
    return report
