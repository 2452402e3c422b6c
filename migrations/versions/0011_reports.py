"""Coalition reports: the reporting tables kept current at intake (one row of facts per
submission, the items its repeats carry), the project's report settings, national strategy
targets and taskings (ADR 0017). Existing submissions are read into the reporting tables by
``fieldsync-server reports rebuild-facts``.

Revision ID: 0011_reports
Revises: 0010_donors
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_reports"
down_revision = "0010_donors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_settings",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("approved_only", sa.Boolean(), nullable=False),
        sa.Column("min_cell_size", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_report_settings_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_report_settings")),
    )
    op.create_table(
        "report_strategy_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("admin_pcode", sa.String(length=32), nullable=False),
        sa.Column("metric", sa.String(length=24), nullable=False),
        sa.Column("target_value", sa.Float(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_report_strategy_targets_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_strategy_targets")),
    )
    with op.batch_alter_table("report_strategy_targets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_strategy_targets_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "report_taskings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("operator", sa.String(length=200), nullable=False),
        sa.Column("hazard_area", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=200), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_report_taskings_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_taskings")),
    )
    with op.batch_alter_table("report_taskings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_report_taskings_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "report_facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("form", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("fact_date", sa.Date(), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("task_id", sa.String(length=200), nullable=False),
        sa.Column("hazard_area", sa.String(length=64), nullable=True),
        sa.Column("ha_code", sa.String(length=64), nullable=True),
        sa.Column("admin1", sa.String(length=32), nullable=True),
        sa.Column("admin2", sa.String(length=32), nullable=True),
        sa.Column("hazard_type", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=True),
        sa.Column("contamination", sa.String(length=200), nullable=True),
        sa.Column("remaining_m2", sa.Float(), nullable=True),
        sa.Column("cancelled_m2", sa.Float(), nullable=False),
        sa.Column("reduced_m2", sa.Float(), nullable=False),
        sa.Column("cleared_m2", sa.Float(), nullable=False),
        sa.Column("survivor_code", sa.String(length=64), nullable=True),
        sa.Column("eore_method", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_report_facts_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_report_facts_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_facts")),
        sa.UniqueConstraint("submission_id", name=op.f("uq_report_facts_submission_id")),
    )
    with op.batch_alter_table("report_facts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_report_facts_project_area", ["project_id", "hazard_area", "fact_date"], unique=False
        )
        batch_op.create_index(
            "ix_report_facts_project_date", ["project_id", "fact_date"], unique=False
        )

    op.create_table(
        "report_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fact_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("sex", sa.String(length=16), nullable=False),
        sa.Column("age", sa.String(length=16), nullable=False),
        sa.Column("grp", sa.String(length=24), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("need", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("item_key", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fact_id"],
            ["report_facts.id"],
            name=op.f("fk_report_items_fact_id_report_facts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_items")),
    )
    with op.batch_alter_table("report_items", schema=None) as batch_op:
        batch_op.create_index("ix_report_items_fact_kind", ["fact_id", "kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_items", schema=None) as batch_op:
        batch_op.drop_index("ix_report_items_fact_kind")

    op.drop_table("report_items")
    with op.batch_alter_table("report_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_report_facts_project_date")
        batch_op.drop_index("ix_report_facts_project_area")

    op.drop_table("report_facts")
    with op.batch_alter_table("report_taskings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_taskings_project_id"))

    op.drop_table("report_taskings")
    with op.batch_alter_table("report_strategy_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_strategy_targets_project_id"))

    op.drop_table("report_strategy_targets")
    op.drop_table("report_settings")
