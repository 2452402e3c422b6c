"""The change feed: what other services record, and how a pull reads it in commit order.

Each domain package builds its own payloads (:mod:`server.forms.feed`,
:mod:`server.submissions.feed`, :mod:`server.entities.feed`) and calls :func:`record_change`
inside the transaction that makes the change, so a change and its feed row commit (or roll
back) together. Readers page through a project's rows with
:func:`read_changes`.

Why the feed never skips a late commit: row ids are taken when a row is inserted, not when its
transaction commits, so a plain ``id > cursor`` reader could move past an id whose transaction
is still running and never see it. On PostgreSQL each row carries its transaction's id (``xid``)
and a reader only hands out rows of transactions older than every transaction still running
(``pg_snapshot_xmin``), ordered by ``(xid, id)``: any transaction that commits later has an
``xid`` at or above that horizon, so it lands after every cursor already handed out. On SQLite,
``BEGIN IMMEDIATE`` serialises writers, so ids are already in commit order.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, insert, literal_column, select, tuple_
from sqlalchemy.orm import Session

from server.db import utcnow
from server.feed.cursors import START, Position
from server.feed.models import SyncChange

MAX_PAGE = 5000
DEFAULT_PAGE = 500


class ChangeKind(enum.StrEnum):
    FORM_VERSION = "form_version"
    FORM_STATE = "form_state"
    ENTITY_VERSION = "entity_version"
    CONFLICT = "conflict"
    REVIEW_STATE = "review_state"


class CursorExpired(Exception):
    """The position is not one this feed can continue from (pruned, or from another database)."""


def record_change(
    session: Session, project_id: int, kind: str, key: str, data: dict[str, Any]
) -> None:
    """Append a change to the project's feed, inside the caller's transaction.

    ``key`` names the thing that changed (a form id, an entity uuid, a conflict id); ``data`` is
    its new state as the client should store it, and must be JSON-serialisable.

    Raises:
        ValueError: ``kind`` is not one of :class:`ChangeKind`.
    """
    session.connection().execute(_APPEND, change_row(project_id, kind, key, data))


def change_row(project_id: int, kind: str, key: str, data: dict[str, Any]) -> dict[str, Any]:
    """The values of a feed row (for a caller that writes it in a statement of its own, as
    :func:`record_change` would: ``CHANGES`` is the table); ``xid`` is the database's default.

    Raises:
        ValueError: ``kind`` is not one of :class:`ChangeKind`.
    """
    ChangeKind(kind)
    return {
        "project_id": project_id,
        "kind": kind,
        "key": key,
        "data": data,
        "created_at": utcnow(),
    }


CHANGES = cast(Table, SyncChange.__table__)
# A Core insert on the table, run on the session's connection: the ORM does not send NULL for
# xid (the database default applies), and no ORM bulk-insert machinery runs for one row. Built
# once (every entity version appends one), its values bound at execution.
_APPEND = insert(CHANGES)


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    kind: str
    key: str
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "data": self.data}


@dataclass(frozen=True)
class Page:
    changes: list[Change]
    after: Position  # where this page started
    position: Position  # where the next page starts
    more: bool

    def etag(self, scope: str) -> str:
        """A tag naming where this page leaves the reader: the page that brought a client to
        position X and an empty page at X share it, so a client that sends back the tag of
        the last page it stored gets 304 when nothing is new (see :meth:`not_modified`)."""
        raw = f"{scope}|{self.position.xid}.{self.position.id}|{int(self.more)}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def not_modified(self, scope: str, client_tag: str | None) -> bool:
        """Whether the client's tag lets the answer be a 304: only for an empty page, which
        tells a client nothing it does not know; a page with changes is always sent."""
        return not self.changes and client_tag == self.etag(scope)


def read_changes(
    session: Session, project_id: int, after: Position, limit: int = DEFAULT_PAGE
) -> Page:
    """The project's changes after ``after``, at most ``limit`` (capped at ``MAX_PAGE``).

    Raises:
        CursorExpired: ``after`` is not a row of this project's feed (pruned, or handed out by a
            database that has since been replaced).
    """
    limit = max(1, min(limit, MAX_PAGE))
    postgres = session.get_bind().dialect.name == "postgresql"
    horizon = _check_position(session, project_id, after, postgres)
    stmt = select(SyncChange.id, SyncChange.xid, SyncChange.kind, SyncChange.key, SyncChange.data)
    stmt = stmt.where(SyncChange.project_id == project_id)
    if postgres:
        stmt = stmt.where(
            tuple_(SyncChange.xid, SyncChange.id) > tuple_(after.xid, after.id),
            SyncChange.xid < horizon,
        ).order_by(SyncChange.xid, SyncChange.id)
    else:
        stmt = stmt.where(SyncChange.id > after.id).order_by(SyncChange.id)
    rows = session.execute(stmt.limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    position = Position(rows[-1].xid or 0, rows[-1].id) if rows else after
    return Page(
        changes=[Change(r.kind, r.key, r.data) for r in rows],
        after=after,
        position=position,
        more=more,
    )


def _check_position(
    session: Session, project_id: int, position: Position, postgres: bool
) -> int | None:
    """Check that ``position`` is a row of the project's feed (or the start) and, on
    PostgreSQL, return the visibility horizon: the oldest transaction id still running, below
    which every transaction has finished. One round trip for both.

    Raises:
        CursorExpired: see :func:`read_changes`.
    """
    if position == START and not postgres:
        return None
    row_xid = (
        select(func.coalesce(SyncChange.xid, 0))
        .where(SyncChange.id == position.id, SyncChange.project_id == project_id)
        .scalar_subquery()
    )
    columns: list[Any] = [row_xid]
    if postgres:
        columns.append(literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint"))
    found = session.execute(select(*columns)).one()
    horizon = int(found[1]) if postgres else None
    if horizon is not None and position.xid >= horizon:
        # Positions are only handed out below the horizon, which never moves back.
        raise CursorExpired("position is ahead of this database")
    if position != START and found[0] != position.xid:
        raise CursorExpired("position is not in this project's feed")
    return horizon
