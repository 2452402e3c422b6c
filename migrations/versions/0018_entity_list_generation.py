"""Entity lists join what the ingest path caches between requests.

Every report with an entity block looked its list up (a round trip and an ORM row each time).
The list changes rarely (a form publishing a new property, a data verifier switching approval
on), so the ingest path keeps a copy per process, like forms and app users; the same triggers as
migration 0013 give ``cache_generations`` a new number when a list changes, so every worker sees
the change at its next request (docs/adr/0019-workers-and-caches.md).

Revision ID: 0018_entity_list_generation
Revises: 0017_report_days
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0018_entity_list_generation"
down_revision = "0017_report_days"
branch_labels = None
depends_on = None

TABLE = "entity_lists"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # The function migration 0013 made for the other cached tables.
        op.execute(
            f"CREATE TRIGGER {TABLE}_config_generation AFTER INSERT OR UPDATE OR DELETE "
            f"OR TRUNCATE ON {TABLE} FOR EACH STATEMENT "
            "EXECUTE FUNCTION fieldsync_bump_config_generation()"
        )
        return
    bump = (
        "INSERT INTO cache_generations (name, generation) VALUES ('config', random()) "
        "ON CONFLICT (name) DO UPDATE SET generation = excluded.generation"
    )
    for event in ("INSERT", "UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {TABLE}_config_generation_{event.lower()} AFTER {event} "
            f"ON {TABLE} BEGIN {bump}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_config_generation ON {TABLE}")
        return
    for event in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_config_generation_{event}")
