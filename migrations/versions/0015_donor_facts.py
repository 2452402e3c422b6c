"""The donor report reads the reporting tables: a fact's village (admin3), and the tag
references that tie a later destruction to the report that found its item.

``report_facts.admin3`` is the level-3 P-code (placed like admin1 and admin2); report items of
kind ``held`` are the devices removed for later destruction, indexed with the destroyed items by
(kind, item_key). Run ``fieldsync-server reports rebuild-facts`` after the upgrade on a server
with data, so existing facts get their village and held items.

Revision ID: 0015_donor_facts
Revises: 0014_blob_contents
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_donor_facts"
down_revision = "0014_blob_contents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_facts") as batch:
        batch.add_column(sa.Column("admin3", sa.String(length=32), nullable=True))
    op.create_index("ix_report_items_kind_key", "report_items", ["kind", "item_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_report_items_kind_key", table_name="report_items")
    with op.batch_alter_table("report_facts") as batch:
        batch.drop_column("admin3")
