"""Sync: the change feed, resumable blob uploads, idempotency keys for pushes.

Revision ID: 0002_sync
Revises: 0001_core
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_sync"
down_revision = "0001_core"
branch_labels = None
depends_on = None

# Kept in step with server.feed.models.XID_DEFAULT_SQL.
XID_DEFAULT_SQL = "(pg_current_xact_id()::text::bigint)"


def upgrade() -> None:
    op.create_table(
        "sync_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_sync_changes_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_changes")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_changes_project_id_xid_id", ["project_id", "xid", "id"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        # The writing transaction's id, so readers can hold back rows of transactions that are
        # still running (see server.feed.service). SQLite leaves it NULL.
        op.execute(f"ALTER TABLE sync_changes ALTER COLUMN xid SET DEFAULT {XID_DEFAULT_SQL}")

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

    op.create_table(
        "sync_idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sync_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_idempotency_keys")),
        sa.UniqueConstraint("user_id", "key", name=op.f("uq_sync_idempotency_keys_user_id_key")),
    )
    with op.batch_alter_table("sync_idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_idempotency_keys_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_idempotency_keys_created_at"))
    op.drop_table("sync_idempotency_keys")
    with op.batch_alter_table("sync_blob_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_blob_uploads_updated_at"))
    op.drop_table("sync_blob_uploads")
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_changes_project_id_xid_id")
    op.drop_table("sync_changes")
