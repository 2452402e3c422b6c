"""Donors, funding agreements and transactions: creating, changing, reading.

Each function works in the caller's transaction. Input has been loaded by the schemas in
:mod:`server.donors.schemas`; what needs the database (the activity identifier against the
donor's organisation identifier, hazard areas and P-codes against the project) is checked here,
and refused with the field named. Uniqueness is the database's: a race ends in the same 409.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import errors
from server.audit import service as audit
from server.db import utcnow
from server.donors import codes
from server.donors.models import (
    Donor,
    FundingAgreement,
    FundingTransaction,
    ParticipatingOrg,
)
from server.entities import store as entity_store
from server.entities.models import Entity
from server.gazetteer import core as gazetteer_core
from server.gazetteer import service as gazetteer

HAZARD_AREAS = "hazard_areas"


# --- donors --------------------------------------------------------------------------------------


def create_donor(
    session: Session, project_id: int, data: dict[str, Any], *, actor_user_id: int | None = None
) -> Donor:
    """Raises: Problem 409 ``donor.exists``."""
    _refuse_taken_ref(session, project_id, data["iati_org_ref"], None)
    donor = Donor(project_id=project_id, **data)
    _flush(session, donor, lambda: errors.donor_exists(data["iati_org_ref"]))
    audit.record(
        session,
        "donor.create",
        project_id=project_id,
        user_id=actor_user_id,
        target_type="donor",
        target_id=donor.id,
    )
    return donor


def update_donor(
    session: Session, donor: Donor, data: dict[str, Any], *, actor_user_id: int | None = None
) -> Donor:
    _refuse_taken_ref(session, donor.project_id, data["iati_org_ref"], donor.id)
    for key, value in data.items():
        setattr(donor, key, value)
    donor.updated_at = utcnow()
    _flush(session, donor, lambda: errors.donor_exists(data["iati_org_ref"]))
    audit.record(
        session,
        "donor.update",
        project_id=donor.project_id,
        user_id=actor_user_id,
        target_type="donor",
        target_id=donor.id,
    )
    return donor


def list_donors(
    session: Session, project_id: int, only: Iterable[int] | None = None
) -> list[Donor]:
    """The project's donors by name; ``only`` keeps those ids (a donor user's own)."""
    stmt = select(Donor).where(Donor.project_id == project_id)
    if only is not None:
        stmt = stmt.where(Donor.id.in_(list(only)))
    return list(session.scalars(stmt.order_by(Donor.name, Donor.id)))


def get_donor(session: Session, project_id: int, donor_id: int) -> Donor:
    """Raises: Problem 404 for a donor of another project or none."""
    donor = session.get(Donor, donor_id)
    if donor is None or donor.project_id != project_id:
        raise errors.not_found("Donor")
    return donor


def find_donor(session: Session, project_id: int, ref_or_id: str) -> Donor:
    """A donor by id or IATI organisation identifier (the CLI's way to name one)."""
    if ref_or_id.isdigit():
        return get_donor(session, project_id, int(ref_or_id))
    donor = session.scalar(
        select(Donor).where(Donor.project_id == project_id, Donor.iati_org_ref == ref_or_id)
    )
    if donor is None:
        raise errors.not_found("Donor", f"no donor {ref_or_id!r} in this project")
    return donor


def _refuse_taken_ref(session: Session, project_id: int, ref: str, own_id: int | None) -> None:
    taken = session.scalar(
        select(Donor.id).where(Donor.project_id == project_id, Donor.iati_org_ref == ref)
    )
    if taken is not None and taken != own_id:
        raise errors.donor_exists(ref)


# --- funding agreements --------------------------------------------------------------------------


def create_agreement(
    session: Session, donor: Donor, data: dict[str, Any], *, actor_user_id: int | None = None
) -> FundingAgreement:
    """Raises: Problem 400 ``request.invalid`` naming the field; 409 ``donor.agreement_exists``."""
    fields, orgs = _checked_agreement(session, donor, data)
    _refuse_taken_identifier(session, donor.id, fields["iati_identifier"], None)
    agreement = FundingAgreement(donor_id=donor.id, **fields)
    _flush(session, agreement, lambda: errors.agreement_exists(fields["iati_identifier"]))
    _replace_orgs(session, agreement, orgs)
    audit.record(
        session,
        "donor.agreement_create",
        project_id=donor.project_id,
        user_id=actor_user_id,
        target_type="funding_agreement",
        target_id=agreement.id,
    )
    return agreement


def update_agreement(
    session: Session,
    donor: Donor,
    agreement: FundingAgreement,
    data: dict[str, Any],
    *,
    actor_user_id: int | None = None,
) -> FundingAgreement:
    """``data`` is the whole agreement (the current one with the change merged in)."""
    fields, orgs = _checked_agreement(session, donor, data)
    _refuse_taken_identifier(session, donor.id, fields["iati_identifier"], agreement.id)
    for key, value in fields.items():
        setattr(agreement, key, value)
    agreement.updated_at = utcnow()
    _flush(session, agreement, lambda: errors.agreement_exists(fields["iati_identifier"]))
    _replace_orgs(session, agreement, orgs)
    audit.record(
        session,
        "donor.agreement_update",
        project_id=donor.project_id,
        user_id=actor_user_id,
        target_type="funding_agreement",
        target_id=agreement.id,
    )
    return agreement


def list_agreements(session: Session, donor_ids: Iterable[int]) -> list[FundingAgreement]:
    return list(
        session.scalars(
            select(FundingAgreement)
            .where(FundingAgreement.donor_id.in_(list(donor_ids)))
            .order_by(FundingAgreement.period_start, FundingAgreement.id)
        )
    )


def get_agreement(session: Session, donor: Donor, agreement_id: int) -> FundingAgreement:
    agreement = session.get(FundingAgreement, agreement_id)
    if agreement is None or agreement.donor_id != donor.id:
        raise errors.not_found("Funding agreement")
    return agreement


def orgs_of(session: Session, agreement: FundingAgreement) -> list[ParticipatingOrg]:
    return list(
        session.scalars(
            select(ParticipatingOrg)
            .where(ParticipatingOrg.agreement_id == agreement.id)
            .order_by(ParticipatingOrg.role, ParticipatingOrg.id)
        )
    )


def _checked_agreement(
    session: Session, donor: Donor, data: dict[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    fields = {k: v for k, v in data.items() if k != "participating_orgs"}
    problems: dict[str, list[str]] = {}
    identifier_problem = codes.activity_identifier_problem(
        fields["iati_identifier"], donor.iati_org_ref
    )
    if identifier_problem:
        problems["iati_identifier"] = [identifier_problem]
    fields["hazard_areas"], unknown_areas = _hazard_area_ids(
        session, donor.project_id, fields.get("hazard_areas", [])
    )
    if unknown_areas:
        problems["hazard_areas"] = [f"no hazard area {v!r} in this project" for v in unknown_areas]
    known = _known_pcodes(session, donor.project_id)
    unknown_pcodes = [p for p in fields.get("admin_areas", []) if p not in known]
    if unknown_pcodes:
        problems["admin_areas"] = [
            f"{p!r} is not in the project's gazetteer" for p in unknown_pcodes
        ]
    fields["activities"] = _unique(fields.get("activities", []))
    fields["admin_areas"] = _unique(fields.get("admin_areas", []))
    if problems:
        raise errors.invalid_input(problems)
    return fields, list(data.get("participating_orgs", []))


def _hazard_area_ids(
    session: Session, project_id: int, wanted: list[str]
) -> tuple[list[str], list[str]]:
    """Entity ids for hazard areas named by id or by code (``HA-0145``), and the unknown ones."""
    if not wanted:
        return [], []
    entity_list = entity_store.find_list(session, project_id, HAZARD_AREAS)
    by_uuid: dict[str, str] = {}
    by_code: dict[str, str] = {}
    if entity_list is not None:
        for uuid, values in session.execute(
            select(Entity.uuid, Entity.values).where(Entity.list_id == entity_list.id)
        ):
            by_uuid[uuid] = uuid
            code = (values or {}).get("ha_code")
            if code:
                by_code[code] = uuid
    found: list[str] = []
    unknown: list[str] = []
    for value in wanted:
        known = by_uuid.get(value) or by_code.get(value)
        if known:
            found.append(known)
        else:
            unknown.append(value)
    return _unique(found), unknown


def _known_pcodes(session: Session, project_id: int) -> set[str]:
    areas = gazetteer.project_areas(session, project_id)
    if not areas:
        areas = gazetteer_core.load_file(gazetteer_core.BUNDLED_GAZETTEER)
    return {a.pcode for a in areas}


def _replace_orgs(
    session: Session, agreement: FundingAgreement, orgs: list[dict[str, Any]]
) -> None:
    for old in orgs_of(session, agreement):
        session.delete(old)
    session.flush()
    seen: set[tuple[str, int]] = set()
    for org in orgs:
        key = (org["name"], org["role"])
        if key in seen:
            continue
        seen.add(key)
        session.add(ParticipatingOrg(agreement_id=agreement.id, **org))
    session.flush()


def _refuse_taken_identifier(
    session: Session, donor_id: int, identifier: str, own_id: int | None
) -> None:
    taken = session.scalar(
        select(FundingAgreement.id).where(
            FundingAgreement.donor_id == donor_id, FundingAgreement.iati_identifier == identifier
        )
    )
    if taken is not None and taken != own_id:
        raise errors.agreement_exists(identifier)


# --- transactions --------------------------------------------------------------------------------


def add_transaction(
    session: Session,
    agreement: FundingAgreement,
    data: dict[str, Any],
    *,
    project_id: int,
    actor_user_id: int | None = None,
) -> FundingTransaction:
    row = FundingTransaction(agreement_id=agreement.id, **_transaction_fields(agreement, data))
    session.add(row)
    session.flush()
    audit.record(
        session,
        "donor.transaction_create",
        project_id=project_id,
        user_id=actor_user_id,
        target_type="funding_transaction",
        target_id=row.id,
    )
    return row


def update_transaction(
    session: Session,
    agreement: FundingAgreement,
    row: FundingTransaction,
    data: dict[str, Any],
    *,
    project_id: int,
    actor_user_id: int | None = None,
) -> FundingTransaction:
    for key, value in _transaction_fields(agreement, data).items():
        setattr(row, key, value)
    session.flush()
    audit.record(
        session,
        "donor.transaction_update",
        project_id=project_id,
        user_id=actor_user_id,
        target_type="funding_transaction",
        target_id=row.id,
    )
    return row


def _transaction_fields(agreement: FundingAgreement, data: dict[str, Any]) -> dict[str, Any]:
    kind = codes.transaction_type(data["type"])
    assert kind is not None  # the schema checked it
    moment: date = data["date"]
    return {
        "transaction_type": int(kind),
        "transaction_date": moment,
        "value": data["value"],
        "currency": data.get("currency") or agreement.currency,
        "value_date": data.get("value_date") or moment,
        "description": data.get("description", ""),
    }


def transactions_of(
    session: Session, agreement_ids: Iterable[int], year: int | None = None
) -> list[FundingTransaction]:
    stmt = select(FundingTransaction).where(
        FundingTransaction.agreement_id.in_(list(agreement_ids))
    )
    if year is not None:
        stmt = stmt.where(
            FundingTransaction.transaction_date >= date(year, 1, 1),
            FundingTransaction.transaction_date <= date(year, 12, 31),
        )
    return list(
        session.scalars(stmt.order_by(FundingTransaction.transaction_date, FundingTransaction.id))
    )


def get_transaction(
    session: Session, agreement: FundingAgreement, transaction_id: int
) -> FundingTransaction:
    row = session.get(FundingTransaction, transaction_id)
    if row is None or row.agreement_id != agreement.id:
        raise errors.not_found("Transaction")
    return row


# --- helpers -------------------------------------------------------------------------------------


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _flush(session: Session, row: object, conflict: Any) -> None:
    """Add and flush ``row``; a unique constraint lost to a concurrent request is the 409."""
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise conflict() from None


def find_agreement(session: Session, project_id: int, ref_or_id: str) -> FundingAgreement:
    """An agreement of the project by id or IATI activity identifier (the CLI's way)."""
    stmt = select(FundingAgreement).join(Donor, Donor.id == FundingAgreement.donor_id)
    stmt = stmt.where(Donor.project_id == project_id)
    if ref_or_id.isdigit():
        stmt = stmt.where(FundingAgreement.id == int(ref_or_id))
    else:
        stmt = stmt.where(FundingAgreement.iati_identifier == ref_or_id)
    found = session.scalars(stmt).first()
    if found is None:
        raise errors.not_found("Funding agreement", f"no agreement {ref_or_id!r} in this project")
    return found
