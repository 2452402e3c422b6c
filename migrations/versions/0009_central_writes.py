"""Writes through ODK Central's API: comments on submissions, and entities deleted through
``DELETE …/entities/<uuid>`` (kept, with the time they were deleted).

Revision ID: 0009_central_writes
Revises: 0008_encryption
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_central_writes"
down_revision = "0008_encryption"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submission_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_comments_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_submission_comments_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_comments")),
    )
    with op.batch_alter_table("submission_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_submission_comments_submission_id"), ["submission_id"], unique=False
        )
    with op.batch_alter_table("entities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("entities", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
    with op.batch_alter_table("submission_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_comments_submission_id"))
    op.drop_table("submission_comments")
