"""ODK managed encryption (docs/adr/0016-encryption.md): a project's key pair, the key a form
version was published with, and encrypted submission versions whose entity block waits for the
passphrase.

Revision ID: 0008_encryption
Revises: 0007_personal_data
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_encryption"
down_revision = "0007_personal_data"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("hint", sa.String(length=500), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_project_keys_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_keys_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_keys")),
        sa.UniqueConstraint("project_id", name=op.f("uq_project_keys_project_id")),
    )
    with op.batch_alter_table("form_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_form_versions_key_id_project_keys"),
            "project_keys",
            ["key_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("submission_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("encrypted", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("entities_pending", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("submission_versions", schema=None) as batch_op:
        batch_op.drop_column("entities_pending")
        batch_op.drop_column("encrypted")
    with op.batch_alter_table("form_versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_form_versions_key_id_project_keys"), type_="foreignkey"
        )
        batch_op.drop_column("key_id")
    op.drop_table("project_keys")
