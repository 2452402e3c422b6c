"""Donor accountability: donors, funding agreements, participating organisations,
transactions, and the users who speak for a donor (docs/donors.md, ADR 0018).

Revision ID: 0010_donors
Revises: 0009_central_writes
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_donors"
down_revision = "0009_central_writes"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=20, scale=2)


def _stamp(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        [f"{target}.id"],
        name=op.f(f"fk_{table}_{column}_{target}"),
        ondelete="CASCADE",
    )


def _index(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "donors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("iati_org_ref", sa.String(length=200), nullable=False),
        sa.Column("org_type", sa.String(length=4), nullable=False),
        _stamp("created_at"),
        _stamp("updated_at"),
        _fk("donors", "project_id", "projects"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_donors")),
        sa.UniqueConstraint(
            "project_id", "iati_org_ref", name=op.f("uq_donors_project_id_iati_org_ref")
        ),
    )
    _index("donors", "project_id")
    op.create_table(
        "funding_agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("donor_id", sa.Integer(), nullable=False),
        sa.Column("iati_identifier", sa.String(length=300), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("actual_start", sa.Date(), nullable=True),
        sa.Column("actual_end", sa.Date(), nullable=True),
        sa.Column("recipient_country", sa.String(length=2), nullable=False),
        sa.Column("hazard_areas", sa.JSON(), nullable=False),
        sa.Column("activities", sa.JSON(), nullable=False),
        sa.Column("admin_areas", sa.JSON(), nullable=False),
        _stamp("created_at"),
        _stamp("updated_at"),
        _fk("funding_agreements", "donor_id", "donors"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_agreements")),
        sa.UniqueConstraint(
            "donor_id",
            "iati_identifier",
            name=op.f("uq_funding_agreements_donor_id_iati_identifier"),
        ),
    )
    _index("funding_agreements", "donor_id")
    op.create_table(
        "agreement_participating_orgs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("iati_org_ref", sa.String(length=200), nullable=False),
        sa.Column("role", sa.Integer(), nullable=False),
        sa.Column("org_type", sa.String(length=4), nullable=False),
        _fk("agreement_participating_orgs", "agreement_id", "funding_agreements"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_participating_orgs")),
        sa.UniqueConstraint(
            "agreement_id",
            "name",
            "role",
            name=op.f("uq_agreement_participating_orgs_agreement_id_name_role"),
        ),
    )
    _index("agreement_participating_orgs", "agreement_id")
    op.create_table(
        "funding_transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("transaction_type", sa.Integer(), nullable=False),
        sa.Column("transaction_date", sa.Date(), nullable=False),
        sa.Column("value", MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        _stamp("created_at"),
        _fk("funding_transactions", "agreement_id", "funding_agreements"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_transactions")),
    )
    _index("funding_transactions", "agreement_id", "transaction_date")
    op.create_table(
        "donor_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("donor_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _stamp("granted_at"),
        _fk("donor_users", "donor_id", "donors"),
        _fk("donor_users", "user_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_donor_users")),
        sa.UniqueConstraint("donor_id", "user_id", name=op.f("uq_donor_users_donor_id_user_id")),
    )
    _index("donor_users", "donor_id", "user_id")


def downgrade() -> None:
    for table in (
        "donor_users",
        "funding_transactions",
        "agreement_participating_orgs",
        "funding_agreements",
        "donors",
    ):
        op.drop_table(table)
