"""What the ingest path keeps between requests (app users and their projects, forms and form
versions, entity lists), with a validity check that holds across worker processes and server
hosts.

Database triggers (migrations 0013 and 0018) give ``cache_generations`` a new random number
in the same transaction as any change to those tables. Each transaction that uses the cache
reads the number once (one indexed row); when it differs from the number the cache was filled
at, the cache is emptied first. So a revoked device token, a closed form, a new form version or
a list that now requires approval is seen by every worker at its next request, as it would be
without the cache (docs/adr/0019-workers-and-caches.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from sqlalchemy import BigInteger, String, Table, event, inspect, select
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    UOWTransaction,
    mapped_column,
)

from server.db import Base

T = TypeVar("T")
_INFO_KEY = "config_generation"
# The tables whose changes give the generation a new number (the triggers of migrations 0013
# and 0018).
WATCHED = frozenset({"app_users", "projects", "forms", "form_versions", "entity_lists"})


class CacheGeneration(Base):
    __tablename__ = "cache_generations"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


# Built once, in Core: this runs at the start of every request the cache serves.
_GENERATIONS = cast(Table, CacheGeneration.__table__)
_READ_GENERATION = select(_GENERATIONS.c.generation).where(_GENERATIONS.c.name == "config")


class ConfigCache:
    """A per-process map filled by loaders, emptied whenever the generation changes."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Hashable, Any] = {}
        self._generation: int | None = None
        self.max_entries = max_entries

    def get(self, session: Session, key: Hashable, loader: Callable[[], T | None]) -> T | None:
        """The cached value of ``key``, or what ``loader`` (run in ``session``) returns. A
        ``None`` from the loader is not kept (an unknown token stays a miss)."""
        generation = _generation(session)
        if generation is None:  # no generation row yet (a database just emptied): no cache
            return loader()
        with self._lock:
            if generation != self._generation:
                self._entries.clear()
                self._generation = generation
            if key in self._entries:
                return self._entries[key]
        value = loader()
        if value is not None:
            # Copies, so the rows the loader put in the session stay the session's own; the
            # copies are shared, read-only, by every request of the process.
            value = _copies(value)
            with self._lock:
                if generation == self._generation:
                    if len(self._entries) >= self.max_entries:
                        self._entries.clear()
                    self._entries[key] = value
        return value


def _copies(value: T) -> T:
    if isinstance(value, tuple):
        return tuple(_copy(item) for item in value)  # type: ignore[return-value]
    return _copy(value)


def _copy(item: Any) -> Any:
    if not isinstance(item, Base):
        return item
    mapper = inspect(item).mapper
    return mapper.class_(**{attr.key: getattr(item, attr.key) for attr in mapper.column_attrs})


def config_cache(session: Session) -> ConfigCache | None:
    """The cache of the runtime ``session`` belongs to (None for sessions made without one)."""
    cache = session.info.get("config_cache")
    return cache if isinstance(cache, ConfigCache) else None


def _generation(session: Session) -> int | None:
    """The generation as this transaction sees it, read once per transaction."""
    if _INFO_KEY not in session.info:
        if session.autoflush:
            session.flush()  # as a query through the ORM would: pending changes count
        session.info[_INFO_KEY] = session.connection().execute(_READ_GENERATION).scalar()
    value = session.info[_INFO_KEY]
    return int(value) if value is not None else None


@event.listens_for(Session, "after_transaction_end")
def _forget_generation(session: Session, transaction: SessionTransaction) -> None:
    # The next transaction may see another generation: read it again then.
    if transaction.parent is None:
        session.info.pop(_INFO_KEY, None)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, flush_context: UOWTransaction) -> None:
    # This transaction changed what is cached: the triggers gave it a new generation.
    if any(
        getattr(obj, "__tablename__", "") in WATCHED
        for obj in (*session.new, *session.dirty, *session.deleted)
    ):
        session.info.pop(_INFO_KEY, None)


@event.listens_for(Session, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and (
        state.bind_mapper is None or state.bind_mapper.local_table.name in WATCHED  # type: ignore[attr-defined]
    ):
        state.session.info.pop(_INFO_KEY, None)
