"""Opening the server's runtime (engine, sessions, blob store) for every entry point: the web
app, the CLI, the field hub and the benchmarks.

Importing :mod:`server.models` here is what makes the model registry complete: SQLAlchemy maps a
class's foreign keys only once every table they name is known, so a process that has imported,
say, the entity models but not the submission models fails on its first query. Every runtime
is opened through :func:`make_runtime`, so every process has every model.
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import configure_mappers

import server.models  # noqa: F401 - registers every model (see above)
from server.blobs.database import DatabaseBlobStore
from server.blobs.store import FileBlobStore
from server.config_cache import ConfigCache
from server.db import make_engine, make_session_factory
from server.files import private_dir
from server.settings import Settings
from server.web import Runtime


def make_runtime(settings: Settings) -> Runtime:
    """Open the engine and stores for ``settings``, with every model mapped."""
    configure_mappers()
    private_dir(settings.data_dir)
    private_dir(settings.upload_tmp_dir)
    engine = make_engine(settings.database_url)
    blobs = make_blob_store(settings, engine)
    return Runtime(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(
            engine, settings=settings, config_cache=ConfigCache(), blob_store=blobs
        ),
        blobs=blobs,
    )


def make_blob_store(settings: Settings, engine: Engine) -> FileBlobStore:
    """The blob store ``settings.blob_store`` names: files under the data directory, or the
    database with that directory as this host's cache (docs/adr/0022-blobs-in-the-database.md).
    Sessions carry it (``session.info["blob_store"]``) so registering a blob stores its content
    in the same transaction."""
    if settings.blob_store == "database":
        return DatabaseBlobStore(settings.blob_dir, engine)
    return FileBlobStore(settings.blob_dir)
