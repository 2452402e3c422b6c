"""Shared records: entity lists, entities, versions, conflicts and the inbox of entity blocks.

Revision ID: 0003_entities
Revises: 0002_sync
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_entities"
down_revision = "0002_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entity_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("approval_required", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_entity_lists_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_lists")),
        sa.UniqueConstraint("project_id", "name", name=op.f("uq_entity_lists_project_id_name")),
    )
    with op.batch_alter_table("entity_lists", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_entity_lists_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "entities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("conflict", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["entity_lists.id"],
            name=op.f("fk_entities_list_id_entity_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entities")),
        sa.UniqueConstraint("list_id", "uuid", name=op.f("uq_entities_list_id_uuid")),
    )
    with op.batch_alter_table("entities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entities_list_id"), ["list_id"], unique=False)

    op.create_table(
        "entity_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("conflict_key", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("property_name", sa.String(length=200), nullable=True),
        sa.Column("requires_review", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_in_version", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_in_version", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["entities.id"],
            name=op.f("fk_entity_conflicts_entity_id_entities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_conflicts")),
        sa.UniqueConstraint(
            "entity_id", "conflict_key", name=op.f("uq_entity_conflicts_entity_id_conflict_key")
        ),
    )
    with op.batch_alter_table("entity_conflicts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_entity_conflicts_entity_id"), ["entity_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_entity_conflicts_status"), ["status"], unique=False)

    op.create_table(
        "entity_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(length=200), nullable=False),
        sa.Column("entity_uuid", sa.String(length=64), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("submission_version_id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("entity_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_entity_inbox_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_entity_inbox_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_version_id"],
            ["submission_versions.id"],
            name=op.f("fk_entity_inbox_submission_version_id_submission_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_inbox")),
        sa.UniqueConstraint(
            "submission_version_id", name=op.f("uq_entity_inbox_submission_version_id")
        ),
    )
    with op.batch_alter_table("entity_inbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_entity_inbox_entity_uuid"), ["entity_uuid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_entity_inbox_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_entity_inbox_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_entity_inbox_submission_id"), ["submission_id"], unique=False
        )

    op.create_table(
        "entity_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("update_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("update", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("conflicts_opened", sa.JSON(), nullable=False),
        sa.Column("conflicts_closed", sa.JSON(), nullable=False),
        sa.Column("source_submission_version_id", sa.Integer(), nullable=True),
        sa.Column("source_user_id", sa.Integer(), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["entities.id"],
            name=op.f("fk_entity_versions_entity_id_entities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_submission_version_id"],
            ["submission_versions.id"],
            name=op.f("fk_entity_versions_source_submission_version_id_submission_versions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_user_id"],
            ["users.id"],
            name=op.f("fk_entity_versions_source_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_versions")),
        sa.UniqueConstraint(
            "entity_id", "update_id", name=op.f("uq_entity_versions_entity_id_update_id")
        ),
        sa.UniqueConstraint(
            "entity_id", "version", name=op.f("uq_entity_versions_entity_id_version")
        ),
    )
    with op.batch_alter_table("entity_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_entity_versions_entity_id"), ["entity_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("entity_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entity_versions_entity_id"))

    op.drop_table("entity_versions")
    with op.batch_alter_table("entity_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entity_inbox_submission_id"))
        batch_op.drop_index(batch_op.f("ix_entity_inbox_status"))
        batch_op.drop_index(batch_op.f("ix_entity_inbox_project_id"))
        batch_op.drop_index(batch_op.f("ix_entity_inbox_entity_uuid"))

    op.drop_table("entity_inbox")
    with op.batch_alter_table("entity_conflicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entity_conflicts_status"))
        batch_op.drop_index(batch_op.f("ix_entity_conflicts_entity_id"))

    op.drop_table("entity_conflicts")
    with op.batch_alter_table("entities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entities_list_id"))

    op.drop_table("entities")
    with op.batch_alter_table("entity_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entity_lists_project_id"))

    op.drop_table("entity_lists")
