"""Personal data: the survivor caseworker permission on role assignments, app users' form
assignments, the personal properties of entity lists, a retention period per form, and the
tombstones of withdrawn consent (docs/adr/0015-personal-data-access.md).

Revision ID: 0007_personal_data
Revises: 0006_blob_scope
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_personal_data"
down_revision = "0006_blob_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("project_roles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("personal_data", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("entity_lists", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("personal_properties", sa.JSON(), nullable=False, server_default="[]")
        )
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("personal_retention_days", sa.Integer(), nullable=True))
    op.create_table(
        "app_user_forms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_user_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_user_id"],
            ["app_users.id"],
            name=op.f("fk_app_user_forms_app_user_id_app_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["form_id"],
            ["forms.id"],
            name=op.f("fk_app_user_forms_form_id_forms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user_forms")),
        sa.UniqueConstraint(
            "app_user_id", "form_id", name=op.f("uq_app_user_forms_app_user_id_form_id")
        ),
    )
    with op.batch_alter_table("app_user_forms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_app_user_forms_app_user_id"), ["app_user_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_app_user_forms_form_id"), ["form_id"], unique=False)
    op.create_table(
        "consent_withdrawals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(length=200), nullable=False),
        sa.Column("entity_uuid", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("instance_id", sa.String(length=200), nullable=True),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_consent_withdrawals_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_consent_withdrawals_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_withdrawals")),
        sa.UniqueConstraint(
            "project_id",
            "list_name",
            "entity_uuid",
            name=op.f("uq_consent_withdrawals_project_id_list_name_entity_uuid"),
        ),
    )
    with op.batch_alter_table("consent_withdrawals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_withdrawals_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("consent_withdrawals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_withdrawals_project_id"))
    op.drop_table("consent_withdrawals")
    with op.batch_alter_table("app_user_forms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_user_forms_form_id"))
        batch_op.drop_index(batch_op.f("ix_app_user_forms_app_user_id"))
    op.drop_table("app_user_forms")
    with op.batch_alter_table("forms", schema=None) as batch_op:
        batch_op.drop_column("personal_retention_days")
    with op.batch_alter_table("entity_lists", schema=None) as batch_op:
        batch_op.drop_column("personal_properties")
    with op.batch_alter_table("project_roles", schema=None) as batch_op:
        batch_op.drop_column("personal_data")
