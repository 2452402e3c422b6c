"""Offline bundles: laptops' public keys, each project's key pair, imported bundles and the
conflict resolutions they carried (docs/offline-bundles.md, ADR 0020).

Revision ID: 0012_bundles
Revises: 0011_reports
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_bundles"
down_revision = "0011_reports"
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bundle_laptop_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("sign_public", sa.String(length=64), nullable=False),
        sa.Column("enc_public", sa.String(length=64), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("revoked_at", _tz(), nullable=True),
        sa.Column("revoked_reason", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_bundle_laptop_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundle_laptop_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_bundle_laptop_keys_key_id")),
    )
    with op.batch_alter_table("bundle_laptop_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bundle_laptop_keys_user_id"), ["user_id"], unique=False
        )
    op.create_table(
        "bundle_project_keys",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("sign_private", sa.Text(), nullable=False),
        sa.Column("enc_private", sa.Text(), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_bundle_project_keys_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_bundle_project_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_bundle_project_keys_key_id")),
    )
    op.create_table(
        "bundle_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("bundle_id", sa.String(length=64), nullable=False),
        sa.Column("sender_key_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("imported_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_bundle_imports_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_bundle_imports_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundle_imports")),
        sa.UniqueConstraint(
            "project_id", "bundle_id", name=op.f("uq_bundle_imports_project_id_bundle_id")
        ),
    )
    with op.batch_alter_table("bundle_imports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bundle_imports_sender_key_id"), ["sender_key_id"], unique=False
        )
    op.create_table(
        "bundle_resolutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("conflict_id", sa.String(length=64), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_bundle_resolutions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundle_resolutions")),
        sa.UniqueConstraint(
            "project_id",
            "conflict_id",
            "body_sha256",
            name=op.f("uq_bundle_resolutions_project_id_conflict_id_body_sha256"),
        ),
    )


def downgrade() -> None:
    op.drop_table("bundle_resolutions")
    with op.batch_alter_table("bundle_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bundle_imports_sender_key_id"))
    op.drop_table("bundle_imports")
    op.drop_table("bundle_project_keys")
    with op.batch_alter_table("bundle_laptop_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bundle_laptop_keys_user_id"))
    op.drop_table("bundle_laptop_keys")
