"""Gazetteer: administrative areas with P-codes, per project.

Revision ID: 0004_gazetteer
Revises: 0003_entities
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_gazetteer"
down_revision = "0003_entities"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gazetteer_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("pcode", sa.String(length=32), nullable=False),
        sa.Column("parent_pcode", sa.String(length=32), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("name_local", sa.String(length=200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_gazetteer_areas_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gazetteer_areas")),
        sa.UniqueConstraint(
            "project_id", "pcode", name=op.f("uq_gazetteer_areas_project_id_pcode")
        ),
    )
    with op.batch_alter_table("gazetteer_areas", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gazetteer_areas_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("gazetteer_areas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gazetteer_areas_project_id"))
    op.drop_table("gazetteer_areas")
