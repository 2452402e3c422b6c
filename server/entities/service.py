"""Applying entity updates to shared records, inside the caller's transaction.

Every entity block a submission carries is put in the inbox, then applied when it can be: at
once, when its offline predecessor arrives, when its submission is approved (lists that require
approval), or when the backlog is force-processed. Applying an update means: take the lock of
that entity, derive the new state from the whole set of its updates with the pure merge core
(:mod:`server.entities.merge`), and store the result as a new immutable version with the
conflicts it opened or closed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.db import utcnow
from server.entities import merge
from server.entities.blocks import EntityBlock, read_entity_block
from server.entities.models import (
    ConflictStatus,
    Entity,
    EntityConflict,
    EntityInbox,
    EntityList,
    EntityVersion,
    InboxStatus,
)
from server.entities.policies import EntityPolicies, ListPolicy, load_policies
from server.settings import BUNDLED_FORMS_DIR, Settings

if TYPE_CHECKING:
    from server.forms.models import Form, FormVersion
    from server.projects.models import Project
    from server.submissions.models import ReviewState, Submission, SubmissionVersion
    from server.submissions.parse import ParsedInstance

LABEL = "label"


# --- policies ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _policies_at(path: str, mtime: float) -> EntityPolicies:
    return load_policies(path)


def policies(session: Session) -> EntityPolicies:
    """The declared merge policies (reloaded when the file changes)."""
    settings: Settings | None = session.info.get("settings")
    path = Path(
        settings.entity_policies_path if settings else BUNDLED_FORMS_DIR / "entity_policies.toml"
    )
    return _policies_at(str(path), path.stat().st_mtime)


def list_policy(session: Session, entity_list: EntityList) -> ListPolicy:
    return policies(session).for_list(entity_list.name, entity_list.properties)


# --- entity lists -----------------------------------------------------------------------------


def ensure_list(
    session: Session, project_id: int, name: str, properties: list[str] | None = None
) -> EntityList:
    """Get or create a project's entity list, adding properties a form declares."""
    stmt = select(EntityList).where(EntityList.project_id == project_id, EntityList.name == name)
    entity_list = session.scalars(stmt).first()
    if entity_list is None:
        try:
            with session.begin_nested():
                entity_list = EntityList(project_id=project_id, name=name, properties=[])
                session.add(entity_list)
                session.flush()
        except IntegrityError:
            entity_list = session.scalars(stmt).one()
    new = [p for p in properties or [] if p not in entity_list.properties]
    if new:
        entity_list.properties = [*entity_list.properties, *new]
    return entity_list


def register_form_version(session: Session, project_id: int, spec: dict[str, Any]) -> None:
    """Called when a form is published: its entity list exists from then on."""
    if spec and spec.get("dataset"):
        names = [str(p["name"]) for p in spec.get("properties", [])]
        ensure_list(session, project_id, str(spec["dataset"]), names)


# --- receiving submissions --------------------------------------------------------------------


def apply_submission(
    session: Session,
    project: Project,
    form: Form,
    form_version: FormVersion,
    submission: Submission,
    version: SubmissionVersion,
    parsed: ParsedInstance,
    context: dict[str, Any] | None = None,
) -> None:
    """Record the entity block of a newly stored submission version and apply it if it can be.

    ``context`` comes from a field hub: the tablet's base expressed in the centre's terms
    (the centre version it started from and the hub-received updates it had seen).

    Nothing a device sent is dropped: an update that cannot be applied stays in the inbox with
    its reason (held, awaiting approval or rejected).
    """
    block = read_entity_block(parsed.root, form_version.entity_spec or {})
    if block is None:
        return
    entity_list = ensure_list(
        session,
        project.id,
        block.list_name,
        [str(p["name"]) for p in form_version.entity_spec.get("properties", [])],
    )
    payload = {
        "create": block.create,
        "update": block.update,
        "label": block.label,
        "values": block.values,
        "base_version": block.base_version,
        "trunk_version": block.trunk_version,
        "branch_id": block.branch_id,
        "date_of_information": block.date_of_information,
        "reason": block.reason,
        "source": _source_of(version),
        # An edit of a sent form supersedes the update of the version it replaces.
        "replaces_update": version.deprecated_id,
        "problems": list(block.problems),
    }
    if context:
        trunk = context.get("trunk_version")
        seen = context.get("seen_updates") or []
        if (trunk is None or isinstance(trunk, int)) and isinstance(seen, list):
            payload["hub_trunk_version"] = trunk
            payload["hub_seen_updates"] = [str(s) for s in seen]
            payload["hub_context"] = True
    inbox = EntityInbox(
        project_id=project.id,
        list_name=entity_list.name,
        entity_uuid=block.uuid,
        submission_id=submission.id,
        submission_version_id=version.id,
        update_id=version.instance_id,
        payload=payload,
        status=InboxStatus.HELD.value,
    )
    session.add(inbox)
    session.flush()
    if not block.uuid:
        _reject(inbox, "the entity block names no entity id")
        return
    declared = (form_version.entity_spec or {}).get("dataset")
    if declared and block.list_name != declared:
        _reject(
            inbox,
            f"the entity block names the list {block.list_name!r}, but the form "
            f"{form.xml_form_id!r} declares {declared!r}",
        )
        return
    if block.problems:
        _reject(inbox, "; ".join(block.problems))
        return
    if is_hub(session):
        payload["export_context"] = hub_export_context(session, entity_list, inbox, block)
        inbox.payload = dict(payload)
    if entity_list.approval_required and submission.review_state != "approved":
        inbox.status = InboxStatus.AWAITING_APPROVAL.value
        inbox.reason = "this list applies updates once their submission is approved"
        return
    process(session, inbox, entity_list=entity_list)


def on_review_state_change(
    session: Session, submission: Submission, previous: str, state: ReviewState
) -> None:
    """Approval releases updates waiting for it; rejection refuses them (kept, with reason)."""
    waiting = list(
        session.scalars(
            select(EntityInbox)
            .where(
                EntityInbox.submission_id == submission.id,
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
            _reject(inbox, "the submission was rejected by a data verifier")


def _source_of(version: SubmissionVersion) -> str:
    who = (
        f"app user {version.submitter_app_user_id}"
        if version.submitter_app_user_id
        else f"user {version.submitter_user_id}"
        if version.submitter_user_id
        else "unknown"
    )
    device = f", device {version.device_id}" if version.device_id else ""
    return f"submission {version.instance_id} ({who}{device})"


def _reject(inbox: EntityInbox, reason: str) -> None:
    inbox.status = InboxStatus.REJECTED.value
    inbox.reason = reason
    inbox.processed_at = utcnow()


# --- applying ---------------------------------------------------------------------------------


@dataclass
class Applied:
    entity: Entity
    version: EntityVersion | None
    result: merge.MergeResult | None


def lock_entity(session: Session, project_id: int, list_name: str, uuid: str) -> None:
    """Serialise work on one entity across server processes (PostgreSQL); SQLite already
    serialises every writer. The lock is taken before the "already applied?" check."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"{project_id}:{list_name}:{uuid}".encode()) - 2**31
        session.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": 7010, "key": key})


def _find_entity(session: Session, entity_list: EntityList, uuid: str) -> Entity | None:
    return session.scalars(
        select(Entity).where(Entity.list_id == entity_list.id, Entity.uuid == uuid)
    ).first()


def _versions(session: Session, entity: Entity) -> list[EntityVersion]:
    return list(
        session.scalars(
            select(EntityVersion)
            .where(EntityVersion.entity_id == entity.id)
            .order_by(EntityVersion.version)
        )
    )


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
    _release_waiting(session, entity_list, inbox.entity_uuid)


def _release_waiting(session: Session, entity_list: EntityList, uuid: str) -> None:
    # Held updates of this entity may now have their predecessor (or their entity).
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
    payload = inbox.payload
    entity = _find_entity(session, entity_list, inbox.entity_uuid)
    wants_create = bool(payload.get("create"))
    wants_update = bool(payload.get("update"))
    versions = _versions(session, entity) if entity is not None else []
    if any(v.update_id == inbox.update_id for v in versions):
        # Already applied (the same submission processed twice): one version, not two.
        inbox.status = InboxStatus.APPLIED.value
        inbox.processed_at = utcnow()
        return

    if entity is None:
        if wants_create or force:
            _create(session, entity_list, inbox, forced=force and not wants_create)
            return
        inbox.reason = "waiting for the entity to be created (its report has not arrived)"
        return

    if wants_create and not wants_update:
        # A second "create" of an existing id: its author saw nothing of this entity, so
        # every value it differs on is a conflict, not an overwrite.
        base_ids: frozenset[str] = frozenset()
        blocked, forced = "", False
    else:
        base_ids, blocked, forced = _base_ids(session, entity, versions, inbox, force=force)
    if blocked:
        inbox.reason = blocked
        return
    update = _to_update(inbox, merge.UpdateKind.UPDATE, base_ids)
    _apply(
        session,
        entity_list,
        entity,
        versions,
        update,
        inbox=inbox,
        base_version=payload.get("base_version"),
        forced=forced,
    )


def _base_ids(
    session: Session,
    entity: Entity,
    versions: list[EntityVersion],
    inbox: EntityInbox,
    *,
    force: bool,
) -> tuple[frozenset[str], str, bool]:
    """The updates the device had seen, from its baseVersion (and, for an offline chain, the
    earlier updates of the same branch). Returns (ids, reason it must wait or "", whether it
    was forced past a missing predecessor)."""
    payload = inbox.payload
    base = payload.get("base_version")
    trunk = payload.get("trunk_version")
    branch = payload.get("branch_id")
    seen: set[str] = set()
    replaced = payload.get("replaces_update")
    if replaced:
        # An edit of a sent form supersedes what the original sent.
        seen.add(str(replaced))
    if payload.get("hub_context"):
        # Forwarded by a field hub: the centre version the hub had, plus the updates the hub
        # received (and applied provisionally) that the tablet had seen.
        hub_trunk = payload.get("hub_trunk_version")
        hub_seen = set(payload.get("hub_seen_updates") or [])
        known = {v.update_id for v in versions}
        missing = sorted(hub_seen - known)
        if missing and not force:
            return (
                frozenset(),
                (
                    f"waiting for {len(missing)} report(s) the tablet had seen on the field hub "
                    f"(first: {missing[0]})"
                ),
                False,
            )
        trunk_ids = {
            v.update_id for v in versions if hub_trunk is not None and v.version <= int(hub_trunk)
        }
        return frozenset(seen | trunk_ids | (hub_seen & known)), "", bool(missing)
    if base is None:
        # Forms without offline-entity support send no base: they saw the current state.
        return frozenset(seen | {v.update_id for v in versions}), "", False
    base = int(base)
    if trunk is not None and branch and base > int(trunk):
        trunk = int(trunk)
        predecessor = session.scalars(
            select(EntityInbox).where(
                EntityInbox.project_id == inbox.project_id,
                EntityInbox.list_name == inbox.list_name,
                EntityInbox.entity_uuid == inbox.entity_uuid,
                EntityInbox.id != inbox.id,
                EntityInbox.status == InboxStatus.APPLIED.value,
            )
        ).all()
        previous = [
            p
            for p in predecessor
            if p.payload.get("branch_id") == branch and p.payload.get("base_version") == base - 1
        ]
        if not previous:
            if not force:
                return (
                    frozenset(),
                    (
                        f"waiting for the previous offline update from the same device "
                        f"(branch {branch}, version {base - 1})"
                    ),
                    False,
                )
            trunk_ids = {v.update_id for v in versions if v.version <= trunk}
            return frozenset(seen | trunk_ids), "", True
        seen.add(previous[0].update_id)
        return frozenset(seen | {v.update_id for v in versions if v.version <= trunk}), "", False
    if base > entity.current_version:
        if not force:
            return (
                frozenset(),
                (
                    f"baseVersion {base} is newer than the entity's current version "
                    f"{entity.current_version}"
                ),
                False,
            )
        return frozenset(seen | {v.update_id for v in versions}), "", True
    return frozenset(seen | {v.update_id for v in versions if v.version <= base}), "", False


def _to_update(
    inbox: EntityInbox, kind: merge.UpdateKind, base_ids: frozenset[str]
) -> merge.EntityUpdate:
    payload = inbox.payload
    values = dict(payload.get("values") or {})
    if payload.get("label"):
        values[LABEL] = str(payload["label"])
    return merge.EntityUpdate(
        update_id=inbox.update_id,
        kind=kind,
        base_ids=base_ids - {inbox.update_id},
        values=values,
        date_of_information=_date(payload.get("date_of_information")),
        source=str(payload.get("source") or ""),
        reason=payload.get("reason"),
    )


def _date(raw: Any) -> dt.date | dt.datetime | None:
    if not raw:
        return None
    text_value = str(raw)
    try:
        if len(text_value) == 10:
            return dt.date.fromisoformat(text_value)
        return dt.datetime.fromisoformat(text_value)
    except ValueError:
        return None


def _create(session: Session, entity_list: EntityList, inbox: EntityInbox, *, forced: bool) -> None:
    entity = Entity(
        list_id=entity_list.id, uuid=inbox.entity_uuid, current_version=0, values={}, label=""
    )
    session.add(entity)
    session.flush()
    update = _to_update(inbox, merge.UpdateKind.CREATE, frozenset())
    _apply(session, entity_list, entity, [], update, inbox=inbox, base_version=None, forced=forced)


def _apply(
    session: Session,
    entity_list: EntityList,
    entity: Entity,
    versions: list[EntityVersion],
    update: merge.EntityUpdate,
    *,
    inbox: EntityInbox | None = None,
    base_version: int | None,
    forced: bool,
    user_id: int | None = None,
) -> Applied:
    policy = list_policy(session, entity_list)
    known = [update_from_json(v.update) for v in versions]
    before = merge.derive(policy, known) if known else None
    result = merge.apply(policy, known, update, previous=before)
    if result.duplicate:
        if inbox is not None:
            inbox.status = InboxStatus.APPLIED.value
            inbox.processed_at = utcnow()
        return Applied(entity, None, result)
    now = utcnow()
    number = entity.current_version + 1
    values = dict(result.state.values)
    label = values.pop(LABEL, entity.label or "")
    update_json = update_to_json(update)
    if is_hub(session):
        update_json["hub_context"] = _hub_context_after(versions, update.update_id)
    version = EntityVersion(
        entity_id=entity.id,
        version=number,
        base_version=base_version,
        update_id=update.update_id,
        kind=update.kind.value,
        update=update_json,
        result={"label": label, "values": values},
        conflicts_opened=[c.conflict_id for c in result.conflicts_opened],
        conflicts_closed=[c.conflict_id for c in result.conflicts_closed],
        source_submission_version_id=inbox.submission_version_id if inbox else None,
        source_user_id=user_id,
        forced=forced,
        created_at=now,
    )
    session.add(version)
    entity.values = values
    entity.label = label
    entity.current_version = number
    entity.updated_at = now
    entity.conflict = (
        "hard" if result.state.review_needed else "soft" if result.state.conflicts else None
    )
    _sync_conflicts(session, entity, result, update, number, user_id)
    if inbox is not None:
        inbox.status = InboxStatus.APPLIED.value
        inbox.reason = "force-applied: what it was waiting for never arrived" if forced else ""
        inbox.processed_at = now
        inbox.entity_version = number
    session.flush()
    _record_feed(session, entity_list, entity, version, result)
    return Applied(entity, version, result)


def _sync_conflicts(
    session: Session,
    entity: Entity,
    result: merge.MergeResult,
    update: merge.EntityUpdate,
    number: int,
    user_id: int | None,
) -> None:
    rows = {
        c.conflict_key: c
        for c in session.scalars(
            select(EntityConflict).where(EntityConflict.entity_id == entity.id)
        )
    }
    current = {c.conflict_id: c for c in result.state.conflicts}
    now = utcnow()
    for key, conflict in current.items():
        row = rows.get(key)
        details = conflict_details(conflict)
        if row is None:
            session.add(
                EntityConflict(
                    entity_id=entity.id,
                    conflict_key=key,
                    kind=conflict.kind.value,
                    property_name=conflict.property_name,
                    requires_review=conflict.requires_review,
                    status=ConflictStatus.OPEN.value,
                    details=details,
                    opened_at=now,
                    opened_in_version=number,
                )
            )
        else:
            row.details = details
            if row.status != ConflictStatus.OPEN.value:
                row.status = ConflictStatus.OPEN.value
                row.closed_at = None
                row.closed_in_version = None
    decided = update.kind in (merge.UpdateKind.RESOLUTION, merge.UpdateKind.REOPEN)
    for key, row in rows.items():
        if key in current or row.status != ConflictStatus.OPEN.value:
            continue
        row.closed_at = now
        row.closed_in_version = number
        if decided:
            row.status = ConflictStatus.RESOLVED.value
            row.resolution = {
                "by_user_id": user_id,
                "reason": update.reason,
                "values": dict(update.values),
                "update_id": update.update_id,
            }
        else:
            row.status = ConflictStatus.SUPERSEDED.value


def _record_feed(
    session: Session,
    entity_list: EntityList,
    entity: Entity,
    version: EntityVersion,
    result: merge.MergeResult,
) -> None:
    from server.sync.changes import record_change

    record_change(
        session,
        entity_list.project_id,
        "entity_version",
        f"{entity_list.name}/{entity.uuid}",
        {
            "list": entity_list.name,
            "uuid": entity.uuid,
            "version": version.version,
            "label": entity.label,
            "values": entity.values,
            "conflict": entity.conflict,
        },
    )
    # The numeric id is what the resolution endpoint takes; the key is stable across orders.
    ids = dict(
        session.execute(
            select(EntityConflict.conflict_key, EntityConflict.id).where(
                EntityConflict.entity_id == entity.id
            )
        ).all()
    )
    for state, conflicts in (
        ("open", result.conflicts_opened),
        ("closed", result.conflicts_closed),
    ):
        for conflict in conflicts:
            record_change(
                session,
                entity_list.project_id,
                "conflict",
                conflict.conflict_id,
                {
                    "id": ids.get(conflict.conflict_id),
                    "key": conflict.conflict_id,
                    "state": state,
                    "list": entity_list.name,
                    "uuid": entity.uuid,
                    "kind": conflict.kind.value,
                    "property": conflict.property_name,
                    "requires_review": conflict.requires_review,
                    "version": version.version,
                },
            )


# --- field hub ----------------------------------------------------------------------------------


def is_hub(session: Session) -> bool:
    settings: Settings | None = session.info.get("settings")
    return bool(settings and settings.extra.get("hub"))


def _hub_context_after(versions: list[EntityVersion], update_id: str) -> dict[str, Any]:
    """A hub version in the centre's terms: the centre version the hub had adopted, and every
    report the hub applied on top of it (provisionally)."""
    adopted = [v.version for v in versions if v.update.get("adopted")]
    seen = [v.update_id for v in versions if not v.update.get("adopted")]
    return {"trunk_version": max(adopted) if adopted else None, "seen_updates": [*seen, update_id]}


def _hub_context_at(versions: list[EntityVersion], number: int) -> dict[str, Any] | None:
    for v in versions:
        if v.version == number:
            if v.update.get("adopted"):
                return {"trunk_version": number, "seen_updates": []}
            context = v.update.get("hub_context")
            return dict(context) if context else None
        replaced = (v.update.get("hub_versions") or {}).get(str(number))
        if replaced:
            return dict(replaced)
    return None


def hub_export_context(
    session: Session, entity_list: EntityList, inbox: EntityInbox, block: EntityBlock
) -> dict[str, Any] | None:
    """On a field hub: what the tablet had seen, in the centre's terms, for the centre to
    merge the report against the right base when the hub forwards it."""
    if block.base_version is None:
        return None
    entity = _find_entity(session, entity_list, block.uuid)
    if entity is None:
        return None
    versions = _versions(session, entity)
    base = block.base_version
    chained: list[str] = []
    if block.branch_id and block.trunk_version is not None and base > block.trunk_version:
        # The tablet's own offline chain: its trunk is a hub version; its earlier reports on
        # the branch come through the hub too.
        chained = [
            row.update_id
            for row in session.scalars(
                select(EntityInbox).where(
                    EntityInbox.project_id == inbox.project_id,
                    EntityInbox.list_name == inbox.list_name,
                    EntityInbox.entity_uuid == inbox.entity_uuid,
                    EntityInbox.id != inbox.id,
                )
            )
            if row.payload.get("branch_id") == block.branch_id
        ]
        base = block.trunk_version
    context = _hub_context_at(versions, base)
    if context is None:
        return None
    context["seen_updates"] = [*context.get("seen_updates", []), *chained]
    return context


# --- (de)serialising updates ------------------------------------------------------------------


def update_to_json(update: merge.EntityUpdate) -> dict[str, Any]:
    date = update.date_of_information
    return {
        "update_id": update.update_id,
        "kind": update.kind.value,
        "base_ids": sorted(update.base_ids),
        "values": dict(update.values),
        "date_of_information": date.isoformat() if date else None,
        "source": update.source,
        "reason": update.reason,
        "resolves": sorted(update.resolves),
    }


def update_from_json(data: dict[str, Any]) -> merge.EntityUpdate:
    return merge.EntityUpdate(
        update_id=data["update_id"],
        kind=merge.UpdateKind(data["kind"]),
        base_ids=frozenset(data.get("base_ids") or []),
        values=data.get("values") or {},
        date_of_information=_date(data.get("date_of_information")),
        source=data.get("source") or "",
        reason=data.get("reason"),
        resolves=frozenset(data.get("resolves") or []),
    )


def conflict_details(conflict: merge.Conflict) -> dict[str, Any]:
    return {
        "kind": conflict.kind.value,
        "property": conflict.property_name,
        "base_value": conflict.base_value,
        "provisional_value": conflict.provisional_value,
        "reason": conflict.reason,
        "values": [
            {
                "update_id": a.update_id,
                "property": a.property_name,
                "value": a.value,
                "base_value": a.base_value,
                "source": a.source,
                "date_of_information": (
                    a.date_of_information.isoformat() if a.date_of_information else None
                ),
            }
            for a in conflict.assertions
        ],
    }


# --- backlog ------------------------------------------------------------------------------------


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


def entity_list_fingerprint(session: Session, entity_list: EntityList) -> str:
    """Changes whenever any entity of the list changes: every change adds a version."""
    from sqlalchemy import func

    count, total, last = session.execute(
        select(
            func.count(Entity.id),
            func.coalesce(func.sum(Entity.current_version), 0),
            func.coalesce(func.max(Entity.id), 0),
        ).where(Entity.list_id == entity_list.id)
    ).one()
    raw = f"{entity_list.id}:{count}:{total}:{last}:{','.join(entity_list.properties)}"
    return hashlib.md5(raw.encode(), usedforsecurity=False).hexdigest()


# --- what the OpenRosa layer serves -------------------------------------------------------------


def entity_list_hash(session: Session, project_id: int, list_name: str) -> str | None:
    """The md5-style hash the manifest shows for an entity list (None if there is no list)."""
    entity_list = session.scalars(
        select(EntityList).where(EntityList.project_id == project_id, EntityList.name == list_name)
    ).first()
    return entity_list_fingerprint(session, entity_list) if entity_list else None


def entity_list_csv(
    session: Session, project_id: int, list_name: str
) -> tuple[str, Iterator[bytes]] | None:
    """(ETag, CSV chunks) of an entity list's merged current state, or None if unknown."""
    from sqlalchemy.orm import sessionmaker

    from server.entities.csvfeed import iter_csv

    entity_list = session.scalars(
        select(EntityList).where(EntityList.project_id == project_id, EntityList.name == list_name)
    ).first()
    if entity_list is None:
        return None
    etag = entity_list_fingerprint(session, entity_list)
    factory = sessionmaker(bind=session.get_bind(), info=dict(session.info))
    return etag, iter_csv(factory, entity_list.id)
