"""Security hardening: Digest nonce use, login attempts, the per-user Digest flag, and
app-user expiry.

Existing users get ``digest_enabled`` off and their HA1 removed: HA1 is a password equivalent,
and a site administrator turns Digest back on for the few users who need it.

Revision ID: 0005_security
Revises: 0004_gazetteer
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_security"
down_revision = "0004_gazetteer"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_nonces",
        sa.Column("nonce", sa.String(length=80), nullable=False),
        sa.Column("highest_nc", sa.Integer(), nullable=False),
        sa.Column("spent", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_digest_nonces")),
    )
    with op.batch_alter_table("digest_nonces", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_digest_nonces_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "login_attempts",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_attempts_window_ends_at"), ["window_ends_at"], unique=False
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("digest_enabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.alter_column("digest_ha1", existing_type=sa.String(length=64), nullable=True)
    op.execute("UPDATE users SET digest_ha1 = NULL")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("digest_enabled", server_default=None)

    with op.batch_alter_table("app_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("app_users", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    # HA1 cannot be recomputed without the passwords: users log in with Basic until they reset.
    op.execute("UPDATE users SET digest_ha1 = '' WHERE digest_ha1 IS NULL")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("digest_ha1", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("digest_enabled")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempts_window_ends_at"))
    op.drop_table("login_attempts")
    with op.batch_alter_table("digest_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_nonces_expires_at"))
    op.drop_table("digest_nonces")
