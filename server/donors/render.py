"""JSON shapes of donors, agreements and transactions (the API's and the CLI's)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from server.donors.codes import OrgRole, TransactionType
from server.donors.models import Donor, FundingAgreement, FundingTransaction, ParticipatingOrg


def money(value: Decimal | None) -> float:
    return float(value or 0)


def donor_json(donor: Donor) -> dict[str, Any]:
    return {
        "id": donor.id,
        "name": donor.name,
        "iati_org_ref": donor.iati_org_ref,
        "org_type": donor.org_type,
        "created_at": donor.created_at.isoformat(),
        "updated_at": donor.updated_at.isoformat(),
    }


def org_json(org: ParticipatingOrg) -> dict[str, Any]:
    return {
        "name": org.name,
        "iati_org_ref": org.iati_org_ref,
        "role": org.role,
        "role_name": OrgRole(org.role).name.lower(),
        "org_type": org.org_type,
    }


def agreement_json(agreement: FundingAgreement, orgs: list[ParticipatingOrg]) -> dict[str, Any]:
    return {
        "id": agreement.id,
        "donor_id": agreement.donor_id,
        **agreement_fields(agreement, orgs),
        "amount": money(agreement.amount),
        "participating_orgs": [org_json(o) for o in orgs],
        "created_at": agreement.created_at.isoformat(),
        "updated_at": agreement.updated_at.isoformat(),
    }


def agreement_fields(agreement: FundingAgreement, orgs: list[ParticipatingOrg]) -> dict[str, Any]:
    """The agreement in the request's shape: a change is merged into this and checked whole."""
    return {
        "iati_identifier": agreement.iati_identifier,
        "title": agreement.title,
        "description": agreement.description,
        "amount": str(agreement.amount),
        "currency": agreement.currency,
        "period_start": agreement.period_start.isoformat(),
        "period_end": agreement.period_end.isoformat(),
        "actual_start": _date(agreement.actual_start),
        "actual_end": _date(agreement.actual_end),
        "recipient_country": agreement.recipient_country,
        "hazard_areas": list(agreement.hazard_areas),
        "activities": list(agreement.activities),
        "admin_areas": list(agreement.admin_areas),
        "participating_orgs": [
            {k: v for k, v in org_json(o).items() if k != "role_name"} for o in orgs
        ],
    }


def transaction_json(row: FundingTransaction) -> dict[str, Any]:
    return {
        "id": row.id,
        "agreement_id": row.agreement_id,
        **transaction_fields(row),
        "type_code": row.transaction_type,
        "value": money(row.value),
        "created_at": row.created_at.isoformat(),
    }


def transaction_fields(row: FundingTransaction) -> dict[str, Any]:
    return {
        "type": TransactionType(row.transaction_type).name.lower(),
        "date": row.transaction_date.isoformat(),
        "value": str(row.value),
        "currency": row.currency,
        "value_date": row.value_date.isoformat(),
        "description": row.description,
    }


def _date(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
