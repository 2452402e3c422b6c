"""The summary kept beside the facts (ADR 0017): ``report_sums`` (per project, month, approval
and the keys reports group by, the sums of the reports and of their items) and
``report_area_states`` (each hazard area's latest report with a status, and since when a
report names cluster munition remnants on it).

Both change only with the facts, in the same transaction, by delta: :func:`add` folds the
facts a condition selects into the sums (``sign`` -1 before they change or go, +1 after), one
``INSERT … SELECT … ON CONFLICT DO UPDATE`` for the reports and one for their items, so the
cost is one upsert per summary row touched and the summary is never read at intake.
:func:`place_states` recomputes the state of named areas from their facts (a few rows by
index). :func:`resummarise` recomputes a project's summary from its facts.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date

from server.reports.models import ReportAreaState, ReportFact, ReportItem, ReportSum
from server.reports.outputs import ID_SPAN, day_then_id

ITEM_KEYS = ("category", "model", "sex", "age", "grp", "outcome")
# The summary's key (its unique index, the upsert's conflict target).
_UNIQUE = [
    "project_id", "month", "approved", "kind", "organisation", "admin1", "admin2", "on_area",
    "eore_method", "item_kind", *ITEM_KEYS,
]  # fmt: skip


class _Month(FunctionElement[Any]):
    """The first day of a date's month, on PostgreSQL and SQLite."""

    type = Date()
    inherit_cache = True


@compiles(_Month)
def _month_sqlite(element: _Month, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, 'start of month')"


@compiles(_Month, "postgresql")
def _month_postgresql(element: _Month, compiler: Any, **kw: Any) -> str:
    return f"CAST(date_trunc('month', {compiler.process(element.clauses, **kw)}) AS DATE)"


def month_of(day: Any) -> _Month:
    return _Month(day)


def _fact_key() -> dict[str, Any]:
    f = ReportFact
    return {
        "project_id": f.project_id,
        "month": month_of(f.fact_date),
        "approved": f.approved,
        "kind": f.kind,
        "organisation": func.coalesce(f.organisation, ""),
        "admin1": func.coalesce(f.admin1, ""),
        "admin2": func.coalesce(f.admin2, ""),
        "on_area": case((f.hazard_area.is_not(None), true()), else_=false()),
        "eore_method": func.coalesce(f.eore_method, ""),
    }


def _facts_select(sign: int, where: Iterable[ColumnElement[bool]]) -> Any:
    f = ReportFact
    key = _fact_key()
    columns = [expr.label(name) for name, expr in key.items()]
    columns += [literal("").label("item_kind")] + [literal("").label(k) for k in ITEM_KEYS]
    columns += [
        (func.count() * sign).label("reports"),
        (func.sum(f.cancelled_m2) * sign).label("cancelled_m2"),
        (func.sum(f.reduced_m2) * sign).label("reduced_m2"),
        (func.sum(f.cleared_m2) * sign).label("cleared_m2"),
        literal(0).label("items"),
        literal(0).label("quantity"),
    ]
    return select(*columns).where(*where).group_by(*key.values())


def _items_select(sign: int, where: Iterable[ColumnElement[bool]]) -> Any:
    f, i = ReportFact, ReportItem
    key = _fact_key()
    item_key = {"item_kind": i.kind, **{k: getattr(i, k) for k in ITEM_KEYS}}
    columns = [expr.label(name) for name, expr in (key | item_key).items()]
    columns += [
        literal(0).label("reports"),
        literal(0.0).label("cancelled_m2"),
        literal(0.0).label("reduced_m2"),
        literal(0.0).label("cleared_m2"),
        (func.count() * sign).label("items"),
        (func.sum(i.quantity) * sign).label("quantity"),
    ]
    return (
        select(*columns)
        .select_from(i)
        .join(f, f.id == i.fact_id)
        .where(*where)
        .group_by(*key.values(), *item_key.values())
    )


_SUMMED = ("reports", "cancelled_m2", "reduced_m2", "cleared_m2", "items", "quantity")
_COLUMNS = [*_UNIQUE, *_SUMMED]


def _upsert_statement(dialect: str, query: Any) -> Any:
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, ReportSum.__table__)
    statement = make(table).from_select(_COLUMNS, query)
    return statement.on_conflict_do_update(
        index_elements=_UNIQUE,
        set_={name: table.c[name] + statement.excluded[name] for name in _SUMMED},
    )


def _upsert(session: Session, query: Any) -> None:
    connection = _flushed_connection(session)
    connection.execute(_upsert_statement(connection.dialect.name, query))


def add(session: Session, sign: int, *where: ColumnElement[bool]) -> None:
    """Fold the facts ``where`` selects (and their items) into the sums, added (``sign`` 1) or
    taken away (-1)."""
    _upsert(session, _facts_select(sign, where))
    _upsert(session, _items_select(sign, where))


def add_facts(session: Session, sign: int, fact_ids: Iterable[int]) -> None:
    """:func:`add` for the facts of ``fact_ids``: what intake and review do for every report,
    so its two statements are built once (per dialect and sign) and the ids bound at
    execution."""
    ids = sorted(set(fact_ids))
    if ids:
        connection = _flushed_connection(session)
        for statement in _fact_upserts(connection.dialect.name, sign):
            connection.execute(statement, {"fact_ids": ids})


@lru_cache(maxsize=8)
def _fact_upserts(dialect: str, sign: int) -> tuple[Any, Any]:
    where = (ReportFact.id.in_(bindparam("fact_ids", expanding=True)),)
    return (
        _upsert_statement(dialect, _facts_select(sign, where)),
        _upsert_statement(dialect, _items_select(sign, where)),
    )


def place_states(session: Session, project_id: int, areas: Iterable[str]) -> None:
    """Recompute the state rows of ``areas`` from their facts (statements built once, the
    project and the areas bound at execution)."""
    wanted = sorted(set(areas))
    if not wanted:
        return
    values = {"project_id": project_id, "areas": wanted}
    connection = _flushed_connection(session)
    for statement in _state_statements():
        connection.execute(statement, values)


def _flushed_connection(session: Session) -> Connection:
    """The session's connection, after what is pending was flushed (as an ORM statement would
    have done): the built-once statements are Core, run with their values bound."""
    if session.autoflush:
        session.flush()
    return session.connection()


@lru_cache(maxsize=1)
def _state_statements() -> tuple[Any, ...]:
    """:func:`place_states`'s delete and inserts, built once."""
    s, f = cast(Table, ReportAreaState.__table__), ReportFact
    areas: Any = bindparam("areas", expanding=True)
    project: Any = bindparam("project_id")
    removal = delete(s).where(s.c.project_id == project, s.c.hazard_area.in_(areas))
    return (removal, *_state_inserts(f.project_id == project, f.hazard_area.in_(areas)))


def _insert_states(session: Session, *where: ColumnElement[bool]) -> None:
    connection = _flushed_connection(session)
    for statement in _state_inserts(*where):
        connection.execute(statement)


def _state_inserts(*where: ColumnElement[bool]) -> list[Any]:
    """The inserts of the state rows of the areas whose facts ``where`` selects: one for every
    report, one for the approved ones."""
    f = ReportFact
    key = day_then_id(f.fact_date, f.id)
    cmr = func.min(case((f.contamination.like("%cmr%"), f.fact_date), else_=None))
    statements = []
    for approved in (False, True):
        counted: ColumnElement[bool] = f.status.is_not(None)
        if approved:
            counted = and_(counted, f.approved.is_(True))
        latest = func.max(case((counted, key), else_=None))
        query = (
            select(
                f.project_id,
                f.hazard_area,
                literal(approved).label("approved"),
                latest.label("key"),
                (latest % ID_SPAN).label("fact_id"),
                cmr.label("cmr_since"),
            )
            .where(*where, f.hazard_area.is_not(None))
            .group_by(f.project_id, f.hazard_area)
        )
        statements.append(
            insert(cast(Table, ReportAreaState.__table__)).from_select(
                ["project_id", "hazard_area", "approved", "key", "fact_id", "cmr_since"], query
            )
        )
    return statements


def resummarise(session: Session, project_id: int) -> None:
    """Recompute a project's summary and area states from its facts."""
    session.execute(delete(ReportSum).where(ReportSum.project_id == project_id))
    session.execute(delete(ReportAreaState).where(ReportAreaState.project_id == project_id))
    where = (ReportFact.project_id == project_id,)
    session.execute(insert(ReportSum).from_select(_COLUMNS, _facts_select(1, where)))
    session.execute(insert(ReportSum).from_select(_COLUMNS, _items_select(1, where)))
    _insert_states(session, *where)
