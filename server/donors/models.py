"""Donor organisations, their funding agreements, IATI participating organisations and
transactions, and which users speak for which donor.

Amounts are kept as decimals in the agreement's or transaction's own currency (ISO 4217); they
are never converted. What an agreement funds (its scope) is kept as three lists: hazard area
entity ids, activities (tasking order numbers, the forms' ``task_id``) and admin area P-codes.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow

MONEY = Numeric(20, 2)


class Donor(Base):
    __tablename__ = "donors"
    __table_args__ = (UniqueConstraint("project_id", "iati_org_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    # IATI organisation identifier: registration agency prefix and number, e.g. GB-GOV-1.
    iati_org_ref: Mapped[str] = mapped_column(String(200))
    # IATI OrganisationType code (10 government, 40 multilateral, 21 international NGO...).
    org_type: Mapped[str] = mapped_column(String(4), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FundingAgreement(Base):
    __tablename__ = "funding_agreements"
    __table_args__ = (UniqueConstraint("donor_id", "iati_identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id", ondelete="CASCADE"), index=True)
    # IATI activity identifier: the donor's organisation identifier, a hyphen, its own id.
    iati_identifier: Mapped[str] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[date]
    period_end: Mapped[date]
    actual_start: Mapped[date | None] = mapped_column(default=None)
    actual_end: Mapped[date | None] = mapped_column(default=None)
    # ISO 3166-1 alpha-2; empty: taken from the scope's P-codes (COD-AB P-codes start with it).
    recipient_country: Mapped[str] = mapped_column(String(2), default="")
    hazard_areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    activities: Mapped[list[str]] = mapped_column(JSON, default=list)
    admin_areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ParticipatingOrg(Base):
    """An organisation in an agreement with its IATI role (1 funding, 2 accountable,
    3 extending, 4 implementing); one organisation may hold several roles."""

    __tablename__ = "agreement_participating_orgs"
    __table_args__ = (UniqueConstraint("agreement_id", "name", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("funding_agreements.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    iati_org_ref: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[int] = mapped_column(Integer)
    org_type: Mapped[str] = mapped_column(String(4), default="")


class FundingTransaction(Base):
    """An IATI transaction: type 2 outgoing commitment, 3 disbursement, 4 expenditure."""

    __tablename__ = "funding_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("funding_agreements.id", ondelete="CASCADE"), index=True
    )
    transaction_type: Mapped[int] = mapped_column(Integer)
    transaction_date: Mapped[date] = mapped_column(index=True)
    value: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    # The date the value is valued at for currency conversion (IATI value/@value-date).
    value_date: Mapped[date]
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DonorUser(Base):
    """A user who speaks for a donor: they read that donor's agreements and report only
    (docs/adr/0018-donor-accountability.md)."""

    __tablename__ = "donor_users"
    __table_args__ = (UniqueConstraint("donor_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donors.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
