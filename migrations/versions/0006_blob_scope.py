"""Blobs scoped to projects: which project holds which blob, and uploads in progress kept per
project and uploader (docs/security.md).

Uploads in progress are dropped (their table is rebuilt with a new key); clients ask ``HEAD``
and start those uploads again from offset 0. Blobs already attached to a project's submissions
are recorded as that project's.

Revision ID: 0006_blob_scope
Revises: 0005_security
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_blob_scope"
down_revision = "0005_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_blobs",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_blobs_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["blobs.sha256"], name=op.f("fk_project_blobs_sha256_blobs")
        ),
        sa.PrimaryKeyConstraint("project_id", "sha256", name=op.f("pk_project_blobs")),
    )
    op.execute(
        "INSERT INTO project_blobs (project_id, sha256, created_at) "
        "SELECT s.project_id, a.blob_sha256, MIN(v.received_at) FROM submission_attachments a "
        "JOIN submission_versions v ON v.id = a.submission_version_id "
        "JOIN submissions s ON s.id = v.submission_id "
        "WHERE a.blob_sha256 IS NOT NULL GROUP BY s.project_id, a.blob_sha256"
    )

    with op.batch_alter_table("sync_blob_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_blob_uploads_updated_at"))
    op.drop_table("sync_blob_uploads")
    _create_uploads()


def _create_uploads() -> None:
    op.create_table(
        "sync_blob_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("upload_length", sa.BigInteger(), nullable=False),
        sa.Column("upload_offset", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_sync_blob_uploads_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sync_blob_uploads_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_blob_uploads")),
        sa.UniqueConstraint(
            "project_id",
            "user_id",
            "sha256",
            name=op.f("uq_sync_blob_uploads_project_id_user_id_sha256"),
        ),
    )
    with op.batch_alter_table("sync_blob_uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_blob_uploads_updated_at"), ["updated_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sync_blob_uploads_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_blob_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_blob_uploads_user_id"))
        batch_op.drop_index(batch_op.f("ix_sync_blob_uploads_updated_at"))
    op.drop_table("sync_blob_uploads")
    op.create_table(
        "sync_blob_uploads",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("upload_length", sa.BigInteger(), nullable=False),
        sa.Column("upload_offset", sa.BigInteger(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_sync_blob_uploads_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_sync_blob_uploads")),
    )
    with op.batch_alter_table("sync_blob_uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_blob_uploads_updated_at"), ["updated_at"], unique=False
        )
    op.drop_table("project_blobs")
