"""The reports' summary kept at intake: sums per project, month and the keys reports group by
(``report_sums``), each hazard area's latest state (``report_area_states``), and an index of the
reports by kind and date (docs/adr/0017-coalition-reports.md).

Both tables are derived from ``report_facts`` and filled here from the facts already stored,
so an upgraded server's reports stay right; ``fieldsync-server reports rebuild-facts``
recomputes them.

Revision ID: 0017_report_days
Revises: 0016_gazetteer_shapes
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_report_days"
down_revision = "0016_gazetteer_shapes"
branch_labels = None
depends_on = None

KEY = (
    "project_id", "month", "approved", "kind", "organisation", "admin1", "admin2", "on_area",
    "eore_method", "item_kind", "category", "model", "sex", "age", "grp", "outcome",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "report_sums",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("admin1", sa.String(length=32), nullable=False),
        sa.Column("admin2", sa.String(length=32), nullable=False),
        sa.Column("on_area", sa.Boolean(), nullable=False),
        sa.Column("eore_method", sa.String(length=32), nullable=False),
        sa.Column("item_kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("sex", sa.String(length=16), nullable=False),
        sa.Column("age", sa.String(length=16), nullable=False),
        sa.Column("grp", sa.String(length=24), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("cancelled_m2", sa.Float(), nullable=False),
        sa.Column("reduced_m2", sa.Float(), nullable=False),
        sa.Column("cleared_m2", sa.Float(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_report_sums_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_sums")),
    )
    with op.batch_alter_table("report_sums", schema=None) as batch_op:
        batch_op.create_index("uq_report_sums_key", list(KEY), unique=True)
        batch_op.create_index(
            "ix_report_sums_project_item_month", ["project_id", "item_kind", "month"], unique=False
        )

    op.create_table(
        "report_area_states",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("hazard_area", sa.String(length=64), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=True),
        sa.Column("fact_id", sa.Integer(), nullable=True),
        sa.Column("cmr_since", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_report_area_states_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "project_id", "hazard_area", "approved", name=op.f("pk_report_area_states")
        ),
    )
    with op.batch_alter_table("report_facts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_report_facts_project_kind_date", ["project_id", "kind", "fact_date"], unique=False
        )

    # Fill both from the facts already stored (the same statements `rebuild-facts` runs).
    from sqlalchemy.orm import Session

    from server.reports.summary import resummarise

    session = Session(bind=op.get_bind())
    for (project_id,) in op.get_bind().execute(sa.text("SELECT id FROM projects")):
        resummarise(session, project_id)
    session.flush()


def downgrade() -> None:
    with op.batch_alter_table("report_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_report_facts_project_kind_date")
    op.drop_table("report_area_states")
    with op.batch_alter_table("report_sums", schema=None) as batch_op:
        batch_op.drop_index("ix_report_sums_project_item_month")
        batch_op.drop_index("uq_report_sums_key")
    op.drop_table("report_sums")
