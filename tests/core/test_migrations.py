"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from sqlalchemy import inspect

from server.db import Base
from server.migrate import current_revision, head_revision


def test_models_and_migrations_do_not_drift(app: Flask) -> None:
    engine = app.extensions["fieldsync"].engine
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"


def test_database_is_at_head(app: Flask) -> None:
    engine = app.extensions["fieldsync"].engine
    assert current_revision(engine) == head_revision(str(engine.url))


def test_named_constraints_follow_the_convention(app: Flask) -> None:
    inspector = inspect(app.extensions["fieldsync"].engine)
    uniques = {u["name"] for u in inspector.get_unique_constraints("submission_versions")}
    assert "uq_submission_versions_form_id_instance_id" in uniques
    assert "uq_submission_versions_submission_id_deprecated_id" in uniques
