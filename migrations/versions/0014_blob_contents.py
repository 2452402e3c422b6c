"""Blob contents in the database: ``blob_contents`` holds each blob's bytes in chunks, for the
database blob store (``FIELDSYNC_BLOB_STORE=database``), so several server hosts with their own
data directories share attachments, form media and form sources, and a ``pg_dump`` alone carries
them (docs/adr/0022-blobs-in-the-database.md). Empty, and unused, under the file store.

Revision ID: 0014_blob_contents
Revises: 0013_ingest
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_blob_contents"
down_revision = "0013_ingest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob_contents",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("chunk", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["blobs.sha256"],
            name=op.f("fk_blob_contents_sha256_blobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sha256", "chunk", name=op.f("pk_blob_contents")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Photos and audio are compressed already: keep the chunks out of line, uncompressed.
        op.execute("ALTER TABLE blob_contents ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("blob_contents")
