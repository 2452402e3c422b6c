"""Consent, enforced: tombstones of withdrawn consent, and whether a record or a submission may
be shown to a caller.

Two kinds of tombstone (``ConsentWithdrawal.source``): ``followup`` and ``api`` withdraw
everything (the record leaves devices, exports and partners' views, and its personal data is
shown to nobody); ``sharing`` only withdraws consent to share with referral partners and donors
(a later "yes" lifts it). Every tombstone is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.audit import service as audit
from server.feed.service import ChangeKind, record_change
from server.personal.access import Access
from server.personal.fields import redact_xml
from server.personal.models import ConsentWithdrawal
from server.personal.policy import ListSharing
from server.xmlsafe import local_name, parse

SHARING_ONLY = "sharing"
WITHDRAWN = ("followup", "api")


@dataclass(frozen=True)
class Tombstones:
    """The tombstones of one list: uuids withdrawn entirely, and those not to be shared."""

    withdrawn: frozenset[str] = frozenset()
    not_shared: frozenset[str] = frozenset()


def tombstones(session: Session, project_id: int, list_name: str) -> Tombstones:
    rows = session.execute(
        select(ConsentWithdrawal.entity_uuid, ConsentWithdrawal.source).where(
            ConsentWithdrawal.project_id == project_id, ConsentWithdrawal.list_name == list_name
        )
    ).all()
    return Tombstones(
        withdrawn=frozenset(u for u, s in rows if s in WITHDRAWN),
        not_shared=frozenset(u for u, s in rows if s == SHARING_ONLY),
    )


def tombstone_count(session: Session, project_id: int, list_name: str) -> int:
    """Part of an entity list's fingerprint: a withdrawal changes what devices download."""
    return int(
        session.scalar(
            select(func.count(ConsentWithdrawal.id)).where(
                ConsentWithdrawal.project_id == project_id,
                ConsentWithdrawal.list_name == list_name,
            )
        )
        or 0
    )


def withdraw(
    session: Session,
    project_id: int,
    list_name: str,
    uuid: str,
    *,
    source: str,
    instance_id: str | None = None,
    user_id: int | None = None,
    version: int = 0,
) -> bool:
    """Record that the person withdrew consent (``source`` "followup" or "api") or consent to
    share (``source`` "sharing"); True when this is new. A full withdrawal replaces a sharing
    tombstone. Audited; nothing personal is kept. A full withdrawal is also a change in the
    change feed (the record at ``version``, without label or values), so laptops and field
    hubs download the entity list again and drop the record."""
    existing = session.scalars(
        select(ConsentWithdrawal).where(
            ConsentWithdrawal.project_id == project_id,
            ConsentWithdrawal.list_name == list_name,
            ConsentWithdrawal.entity_uuid == uuid,
        )
    ).first()
    if existing is not None:
        if existing.source in WITHDRAWN or source == SHARING_ONLY:
            return False
        existing.source = source
        existing.instance_id = instance_id
        existing.actor_user_id = user_id
    else:
        try:
            with session.begin_nested():
                session.add(
                    ConsentWithdrawal(
                        project_id=project_id,
                        list_name=list_name,
                        entity_uuid=uuid,
                        source=source,
                        instance_id=instance_id,
                        actor_user_id=user_id,
                    )
                )
                session.flush()
        except IntegrityError:
            return False  # the same withdrawal arrived twice at once
    if source in WITHDRAWN:
        record_change(
            session,
            project_id,
            ChangeKind.ENTITY_VERSION,
            f"{list_name}/{uuid}",
            {
                "list": list_name,
                "uuid": uuid,
                "version": version,
                "label": "",
                "values": {},
                "conflict": None,
                "withdrawn": True,
            },
        )
    audit.record(
        session,
        "personal_data.consent_withdrawn" if source != SHARING_ONLY else "personal_data.not_shared",
        project_id=project_id,
        user_id=user_id,
        target_type="entity",
        target_id=f"{list_name}/{uuid}",
        source=source,
        instance_id=instance_id,
    )
    return True


def sharing_consent_given(session: Session, project_id: int, list_name: str, uuid: str) -> None:
    """Consent to share was given again: lift a sharing tombstone (never a withdrawal)."""
    removed = session.execute(
        delete(ConsentWithdrawal).where(
            ConsentWithdrawal.project_id == project_id,
            ConsentWithdrawal.list_name == list_name,
            ConsentWithdrawal.entity_uuid == uuid,
            ConsentWithdrawal.source == SHARING_ONLY,
        )
    )
    if getattr(removed, "rowcount", 0):
        audit.record(
            session,
            "personal_data.shared_again",
            project_id=project_id,
            target_type="entity",
            target_id=f"{list_name}/{uuid}",
        )


# --- what a caller is shown ----------------------------------------------------------------


def record_shown(
    access: Access,
    rule: ListSharing,
    uuid: str,
    values: Mapping[str, str],
    stones: Tombstones,
) -> bool:
    """Whether an entity record is shown at all to this caller."""
    withdrawn = uuid in stones.withdrawn
    if access.device:
        return not withdrawn and rule.followup_consented(values)
    if access.partner:
        return not withdrawn and uuid not in stones.not_shared and rule.sharing_consented(values)
    return True


def values_shown(
    access: Access,
    uuid: str,
    values: Mapping[str, str],
    personal: frozenset[str],
    stones: Tombstones,
) -> dict[str, str]:
    """The properties shown: the personal ones only to a caseworker, and never once consent
    was withdrawn."""
    if access.may_read and uuid not in stones.withdrawn:
        return dict(values)
    return {k: v for k, v in values.items() if k not in personal}


@dataclass(frozen=True)
class SubmissionConsent:
    """What a submission of a form that saves to a consent-bound list says about its record."""

    uuid: str
    sharing_answer: str | None


def submission_consent(
    xml: str, spec: Mapping[str, Any], rule: ListSharing
) -> SubmissionConsent | None:
    """The record a submission is about, and its own answer to consent to share (None for a
    form that does not save to a consent-bound list)."""
    if not spec.get("dataset") or not rule.consent_bound:
        return None
    root = parse(xml.encode("utf-8"), "the submission")
    uuid = ""
    for node in root.iter():
        if isinstance(node.tag, str) and local_name(node) == "entity":
            uuid = node.get("id", "")
            break
    answer = None
    paths = {str(p.get("name")): str(p.get("path", "")) for p in spec.get("properties", [])}
    if rule.consent_sharing and rule.consent_sharing in paths:
        answer = _text_at(root, paths[rule.consent_sharing])
    return SubmissionConsent(uuid=uuid, sharing_answer=answer)


def submission_answers(xml: str, spec: Mapping[str, Any], rule: ListSharing) -> dict[str, str]:
    """The report's own answers to the list's consent properties (those it has)."""
    root = parse(xml.encode("utf-8"), "the submission")
    paths = {str(p.get("name")): str(p.get("path", "")) for p in spec.get("properties", [])}
    answers: dict[str, str] = {}
    for name in (rule.consent_followup, rule.consent_sharing):
        if name and name in paths:
            text = _text_at(root, paths[name])
            if text:
                answers[name] = text
    return answers


def _text_at(root: Any, path: str) -> str | None:
    node = root
    for part in [p for p in path.split("/") if p][1:]:
        node = next((c for c in node if isinstance(c.tag, str) and local_name(c) == part), None)
        if node is None:
            return None
    return (node.text or "").strip()


def submission_shown(
    access: Access, consent: SubmissionConsent | None, stones: Tombstones, *, export: bool
) -> bool:
    """Whether a submission is shown (or exported) to this caller. A withdrawn record's
    submissions leave every export; partners see only those with consent to share."""
    if consent is None:
        return True
    withdrawn = consent.uuid in stones.withdrawn
    if export and withdrawn:
        return False
    if access.partner:
        return (
            not withdrawn
            and consent.uuid not in stones.not_shared
            and consent.sharing_answer == "yes"
        )
    return True


def submission_xml_shown(
    access: Access,
    xml: str,
    paths: frozenset[str],
    consent: SubmissionConsent | None,
    stones: Tombstones,
) -> str:
    """The submission's XML with its personal answers emptied, unless a caseworker reads a
    record whose consent stands."""
    withdrawn = consent is not None and consent.uuid in stones.withdrawn
    if access.may_read and not withdrawn:
        return xml
    return redact_xml(xml, paths)
