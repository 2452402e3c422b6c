"""A generation number for what the ingest path caches between requests.

``cache_generations`` holds one row; triggers give it a new random value in the same
transaction as any change to app users, projects, forms or form versions, whoever makes it (the
server, the CLI, another worker process, another server host, plain SQL). Random rather than
counted, so a change that is rolled back and a later one never share a number. A worker compares the number with the
one its cache was filled at, once per request, and empties its cache when they differ
(docs/adr/0019-workers-and-caches.md).

Revision ID: 0013_ingest
Revises: 0012_bundles
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_ingest"
down_revision = "0012_bundles"
branch_labels = None
depends_on = None

WATCHED = ("app_users", "projects", "forms", "form_versions")


def upgrade() -> None:
    op.create_table(
        "cache_generations",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_generations")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    value = "(random() * 9.0e15)::bigint" if postgresql else "random()"
    # An upsert, so the row comes back after the table was emptied.
    bump = (
        f"INSERT INTO cache_generations (name, generation) VALUES ('config', {value}) "  # noqa: S608 (constant text)
        "ON CONFLICT (name) DO UPDATE SET generation = excluded.generation"
    )
    op.execute(bump)
    if postgresql:
        op.execute(
            "CREATE FUNCTION fieldsync_bump_config_generation() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {bump}; RETURN NULL; END $$"
        )
        for table in WATCHED:
            op.execute(
                f"CREATE TRIGGER {table}_config_generation AFTER INSERT OR UPDATE OR DELETE "
                f"OR TRUNCATE ON {table} FOR EACH STATEMENT "
                "EXECUTE FUNCTION fieldsync_bump_config_generation()"
            )
        return
    for table in WATCHED:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_config_generation_{event.lower()} AFTER {event} "
                f"ON {table} BEGIN {bump}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_config_generation ON {table}")
        op.execute("DROP FUNCTION IF EXISTS fieldsync_bump_config_generation()")
    else:
        for table in WATCHED:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_config_generation_{event}")
    op.drop_table("cache_generations")
