"""Admin boundaries for the web UI's maps, and indexes for the submissions table's sorts.

``gazetteer_boundaries`` holds one simplified GeoJSON outline per area of a project's gazetteer
(``fieldsync-server gazetteer boundaries FILE``). The two indexes on ``submission_versions``
let the table sorted by device or by submitter read a page in its order instead of sorting
every submission of the form (docs/adr/0021-web-ui.md).

Revision ID: 0016_gazetteer_shapes
Revises: 0015_donor_facts
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_gazetteer_shapes"
down_revision = "0015_donor_facts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gazetteer_boundaries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("pcode", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_gazetteer_boundaries_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gazetteer_boundaries")),
        sa.UniqueConstraint(
            "project_id", "pcode", name=op.f("uq_gazetteer_boundaries_project_id_pcode")
        ),
    )
    with op.batch_alter_table("gazetteer_boundaries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gazetteer_boundaries_project_id"), ["project_id"], unique=False
        )
    with op.batch_alter_table("submission_versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_submission_versions_form_device",
            ["form_id", "device_id", "submission_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_submission_versions_form_app_user",
            ["form_id", "submitter_app_user_id", "submission_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("submission_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_submission_versions_form_app_user")
        batch_op.drop_index("ix_submission_versions_form_device")
    with op.batch_alter_table("gazetteer_boundaries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gazetteer_boundaries_project_id"))
    op.drop_table("gazetteer_boundaries")
