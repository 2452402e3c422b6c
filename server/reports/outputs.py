"""The figures every report is made of, for a scope: a project, a period, approved reports
only or not, and optionally a set of admin areas (P-codes of provinces or districts), one
operator, or a set of hazard areas.

Reusable by any report, the donor report among them::

    from server.reports.outputs import Scope, outputs
    scope = Scope(project_id, date(2026, 1, 1), date(2026, 12, 31),
                  admin_areas=frozenset({"LA09"}), hazard_areas=frozenset({uuid, ...}))
    figures = outputs(session, scope)   # Outputs: m² cancelled/reduced/cleared, devices
                                        # destroyed by category, beneficiaries by sex and age

The lower-level functions fold the reporting tables (:mod:`server.reports.models`) by the keys
a report asks for (``by``: ``admin1``, ``admin2``, ``operator``, ``activity``,
``hazard_area`` and the item's own columns such as ``category``, ``sex``, ``age``), and with
``explain`` keep the submissions behind each figure. A report about a hazard area is placed
where the area is (the latest hazard report naming it); reports not
about an area carry their own P-codes. Areas are stored and summed in m².
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    ColumnElement,
    Select,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import FunctionElement

from server.reports.models import ReportAreaState, ReportFact, ReportItem, ReportSum
from server.submissions.models import Submission

CLOSED_STATUSES = frozenset({"cleared", "cancelled", "handed_over"})
# Cluster munition remnants that are not submunitions (Article 2: the container, unused stock).
NOT_SUBMUNITIONS = frozenset({"failed_cm", "abandoned_cm"})
AREA_KINDS = ("nts", "ts", "clearance", "bac", "completion")
# The reports that carry items of a kind (server.reports.extract), where they are few.
ITEM_FACT_KINDS = {
    "eore": ("eore",),
    "casualty": ("accident",),
    "referral": ("assessment", "followup"),
    "land_beneficiary": ("nts", "completion"),
}
ITEM_COLUMNS = ("category", "model", "sex", "age", "grp", "outcome", "need", "status")


@dataclass(frozen=True)
class AnyOf:
    """What a funding agreement covers (ADR 0018): a report about one of ``hazard_areas``
    (entity ids), under one of ``activities`` (tasking orders, ``task_id``) or placed in one of
    ``admin_areas`` (P-codes at any level). A report meeting several counts once; none of the
    three holds nothing."""

    hazard_areas: frozenset[str] = frozenset()
    activities: frozenset[str] = frozenset()
    admin_areas: frozenset[str] = frozenset()

    def condition(self, f: Any = ReportFact) -> ColumnElement[bool]:
        wanted: list[ColumnElement[bool]] = []
        if self.hazard_areas:
            wanted.append(_OneOf(f.hazard_area, self.hazard_areas))
        if self.activities:
            wanted.append(_OneOf(f.task_id, self.activities))
        if self.admin_areas:
            wanted += [_OneOf(c, self.admin_areas) for c in (f.admin1, f.admin2, f.admin3)]
        return or_(*wanted) if wanted else false()


class _OneOf(ColumnElement[bool]):
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``, one parameter however
    many values (an agreement can name tens of thousands of hazard areas: as many parameters
    cost more to compile and send than the query takes)."""

    type = Boolean()
    inherit_cache = False

    def __init__(self, column: Any, values: Iterable[str]) -> None:
        self.column = column
        self.values = sorted(set(values))


@compiles(_OneOf)
def _one_of(element: _OneOf, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column.in_(element.values), **kw))


@compiles(_OneOf, "postgresql")
def _one_of_postgresql(element: _OneOf, compiler: Any, **kw: Any) -> str:
    # Named after the element, so an expression repeated (selected and grouped by) is the same.
    values = bindparam(f"one_of_{id(element)}", element.values, type_=ARRAY(String()))
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(values, **kw)})"


@dataclass(frozen=True)
class Scope:
    """What a figure covers. ``end`` is inclusive. ``None`` filters mean "all"; ``any_of``
    narrows to what a funding agreement covers (an OR of its criteria)."""

    project_id: int
    start: date
    end: date
    approved_only: bool = True
    admin_areas: frozenset[str] | None = None
    operator: str | None = None
    hazard_areas: frozenset[str] | None = None
    any_of: AnyOf | None = None


@dataclass(frozen=True)
class Place:
    admin1: str
    admin2: str
    ha_code: str


@dataclass(frozen=True)
class AreaView:
    """A hazard area as the latest report up to a date leaves it (IMSMA's current view)."""

    hazard_area: str
    ha_code: str
    admin1: str
    admin2: str
    hazard_type: str
    status: str
    contamination: frozenset[str]
    remaining_m2: float
    submission_id: int

    @property
    def open(self) -> bool:
        return self.status not in CLOSED_STATUSES


@dataclass
class Sum:
    """One figure: a count or sums, and (with explain) the submissions behind it."""

    values: dict[str, float] = field(default_factory=dict)
    submissions: set[int] = field(default_factory=set)
    hazard_areas: set[str] = field(default_factory=set)

    def add(self, name: str, value: float) -> None:
        self.values[name] = self.values.get(name, 0) + value


@dataclass
class Outputs:
    """What work in a scope produced (the 3W matrix's and the donor report's outputs)."""

    cancelled_m2: float = 0.0
    reduced_m2: float = 0.0
    cleared_m2: float = 0.0
    devices_destroyed: dict[str, int] = field(default_factory=dict)  # by category
    eore_beneficiaries: dict[tuple[str, str], int] = field(default_factory=dict)  # (sex, band)
    land_beneficiaries: dict[tuple[str, str], int] = field(default_factory=dict)  # (sex, age)
    hazard_areas: set[str] = field(default_factory=set)

    @property
    def released_m2(self) -> float:
        return self.cancelled_m2 + self.reduced_m2 + self.cleared_m2


def outputs(session: Session, scope: Scope) -> Outputs:
    """m² cancelled, reduced and cleared, devices destroyed by category, and people reached
    (risk education by sex and age band, land release beneficiaries by sex and age) in
    ``scope``."""
    result = Outputs()
    for sums in land_released(session, scope, ("hazard_area",)).values():
        result.cancelled_m2 += sums.values.get("cancelled_m2", 0.0)
        result.reduced_m2 += sums.values.get("reduced_m2", 0.0)
        result.cleared_m2 += sums.values.get("cleared_m2", 0.0)
        result.hazard_areas |= sums.hazard_areas
    for (category,), sums in counted(session, scope, "destroyed", ("category",)).items():
        result.devices_destroyed[category] = int(sums.values["count"])
    for key, sums in counted(session, scope, "eore", ("sex", "age")).items():
        result.eore_beneficiaries[(key[0], key[1])] = int(sums.values["count"])
    for key, sums in counted(session, scope, "land_beneficiary", ("sex", "age")).items():
        result.land_beneficiaries[(key[0], key[1])] = int(sums.values["count"])
    return result


# --- hazard areas --------------------------------------------------------------------------------


def area_places(
    session: Session, project_id: int, end: date, areas: Iterable[str] | None = None
) -> dict[str, Place]:
    """Where each hazard area is (all of them, or those of ``areas``): the place its facts
    carry (:func:`server.reports.facts.place_area`)."""
    f = ReportFact
    query = select(f.hazard_area, f.admin1, f.admin2, f.ha_code).where(
        f.project_id == project_id,
        f.hazard_area.is_not(None),
        f.admin1.is_not(None),
        f.fact_date <= end,
    )
    if areas is not None:
        query = query.where(f.hazard_area.in_(sorted(set(areas))))
    return {
        r.hazard_area: Place(r.admin1 or "", r.admin2 or "", r.ha_code or "")
        for r in session.execute(query.distinct())
    }


def cmr_areas_query(project_id: int, end: date) -> Select[Any]:
    """The hazard areas some report up to ``end`` names cluster munition remnants on (the
    first date one does is kept per area, :mod:`server.reports.summary`)."""
    st = ReportAreaState
    return select(st.hazard_area).where(
        st.project_id == project_id, st.approved.is_(False), st.cmr_since <= end
    )


def area_views(
    session: Session,
    scope: Scope,
    *,
    is_open: bool | None = None,
    cmr_only: bool = False,
) -> list[AreaView]:
    """Every hazard area as the latest report up to ``scope.end`` leaves it (approved
    reports only when the scope says so), filtered by the scope's areas, by being open or
    closed, and by cluster munition remnants."""
    query = _area_query(scope, is_open, cmr_only)
    return [
        AreaView(
            hazard_area=row.hazard_area,
            ha_code=row.ha_code,
            admin1=row.admin1,
            admin2=row.admin2,
            hazard_type=row.hazard_type,
            status=row.status,
            contamination=frozenset(row.contamination.split()),
            remaining_m2=float(row.remaining_m2 or 0.0),
            submission_id=row.submission_id,
        )
        for row in session.execute(query)
    ]


def area_totals(
    session: Session,
    scope: Scope,
    by: Sequence[str],
    *,
    is_open: bool | None = None,
    cmr_only: bool = False,
) -> dict[tuple[str, ...], tuple[int, float]]:
    """The areas of :func:`area_views` counted, and their remaining m² summed, in SQL by
    ``by`` (``admin1``, ``admin2``, ``hazard_type``, ``status``)."""
    views = _area_query(scope, is_open, cmr_only).subquery()
    group = [views.c[k] for k in by]
    query = select(
        *group, func.count().label("areas"), func.sum(views.c.remaining_m2).label("m2")
    ).group_by(*group)
    return {
        tuple(str(getattr(row, k) or "") for k in by): (int(row.areas), float(row.m2 or 0.0))
        for row in session.execute(query)
    }


def _area_query(scope: Scope, is_open: bool | None, cmr_only: bool) -> Select[Any]:
    f = ReportFact
    counted_here: list[ColumnElement[bool]] = [f.status.is_not(None)]
    if scope.approved_only:
        counted_here.append(f.approved.is_(True))
    if scope.operator is not None:
        counted_here.append(f.organisation == scope.operator)
    columns = [f.hazard_area, f.status, f.remaining_m2, f.ha_code, f.submission_id,
               f.hazard_type, f.contamination, f.admin1, f.admin2]  # fmt: skip
    if scope.operator is None:
        latest = _latest_kept(columns, scope, counted_here, cmr_only=cmr_only)
    else:
        latest = _latest(
            columns, scope.project_id, scope.end, counted_here, cmr_only=cmr_only
        ).subquery()
    admin1 = func.coalesce(latest.c.admin1, "")
    admin2 = func.coalesce(latest.c.admin2, "")
    query = select(
        latest.c.hazard_area,
        latest.c.status,
        latest.c.remaining_m2,
        func.coalesce(latest.c.ha_code, "").label("ha_code"),
        latest.c.submission_id,
        func.coalesce(latest.c.hazard_type, "").label("hazard_type"),
        func.coalesce(latest.c.contamination, "").label("contamination"),
        admin1.label("admin1"),
        admin2.label("admin2"),
    )
    if is_open is True:
        query = query.where(latest.c.status.not_in(CLOSED_STATUSES))
    elif is_open is False:
        query = query.where(latest.c.status.in_(CLOSED_STATUSES))
    if scope.admin_areas is not None:
        wanted = sorted(scope.admin_areas)
        query = query.where(or_(admin1.in_(wanted), admin2.in_(wanted)))
    if scope.hazard_areas is not None:
        query = query.where(latest.c.hazard_area.in_(sorted(scope.hazard_areas)))
    return query


def _latest_kept(
    columns: Sequence[Any],
    scope: Scope,
    conditions: Sequence[ColumnElement[bool]],
    *,
    cmr_only: bool,
) -> Subquery:
    """As :func:`_latest`, reading the latest report of each area from the area states
    (:mod:`server.reports.summary`) where no report about the area is dated after
    ``scope.end``, and from the facts for the others (a report of a past year)."""
    f, st = ReportFact, ReportAreaState
    after_end = ((scope.end - date(1970, 1, 1)).days + 1) * ID_SPAN
    kept = [
        st.project_id == scope.project_id,
        st.approved.is_(scope.approved_only),
    ]
    kept_now = select(*columns).join(st, st.fact_id == f.id).where(*kept, st.key < after_end)
    if cmr_only:
        kept_now = kept_now.where(st.cmr_since <= scope.end)
    later = select(st.hazard_area).where(*kept, st.key >= after_end)
    from_facts = _latest(
        columns,
        scope.project_id,
        scope.end,
        conditions,
        cmr_only=cmr_only,
        areas=later,
    )
    return union_all(kept_now, from_facts).subquery()


def _latest(
    columns: Sequence[Any],
    project_id: int,
    end: date,
    conditions: Sequence[ColumnElement[bool]],
    *,
    cmr_only: bool = False,
    areas: Select[Any] | None = None,
) -> Select[Any]:
    """Per hazard area, the columns of its latest fact up to ``end`` among those meeting
    ``conditions`` (date of information, then arrival); with ``cmr_only``, only for areas some
    report up to ``end`` (any report) names cluster munition remnants on.

    One grouped pass over the areas' facts: the latest fact is the greatest of one number that
    orders by date, then id (:func:`day_then_id`), and the remnants a condition on the same
    pass; then a join by primary key. (Two passes, or a window function, read or sort
    every fact twice.)"""
    f = ReportFact
    wanted = and_(*conditions) if conditions else true()
    per_area = (
        select(func.max(case((wanted, day_then_id(f.fact_date, f.id)), else_=None)).label("key"))
        .where(f.project_id == project_id, f.hazard_area.is_not(None), f.fact_date <= end)
        .group_by(f.hazard_area)
    )
    if areas is not None:
        per_area = per_area.where(f.hazard_area.in_(areas))
    if cmr_only:
        per_area = per_area.having(func.max(case((f.contamination.like("%cmr%"), 1), else_=0)) == 1)
    last = per_area.subquery()
    return select(*columns).join(last, f.id == last.c.key % ID_SPAN).where(last.c.key.is_not(None))


# A fact's id is below 2**32; a day number times 2**32 plus the id orders facts by date, then id,
# and stays an exact integer (days since 1970 < 2**21).
ID_SPAN = 2**32


def day_then_id(day: Any, fact_id: Any) -> ColumnElement[int]:
    return cast(_day_number(day), BigInteger) * ID_SPAN + fact_id


class _DayNumber(FunctionElement[int]):
    """Days since 1970-01-01 of a date column, on PostgreSQL and SQLite."""

    type = BigInteger()
    inherit_cache = True


def _day_number(day: Any) -> _DayNumber:
    return _DayNumber(day)


@compiles(_DayNumber)
def _day_number_sqlite(element: _DayNumber, compiler: Any, **kw: Any) -> str:
    return f"CAST(julianday({compiler.process(element.clauses, **kw)}) - 2440587.5 AS INTEGER)"


@compiles(_DayNumber, "postgresql")
def _day_number_postgresql(element: _DayNumber, compiler: Any, **kw: Any) -> str:
    return f"(({compiler.process(element.clauses, **kw)}) - DATE '1970-01-01')"


# --- folding facts -------------------------------------------------------------------------------


def land_released(
    session: Session,
    scope: Scope,
    by: Sequence[str],
    *,
    cmr_only: bool = False,
    explain: bool = False,
    area_status: bool = False,
) -> dict[tuple[str, ...], Sum]:
    """m² cancelled, reduced and cleared by reports dated in the scope's period, folded by
    ``by``; only on areas with cluster munition remnants with ``cmr_only``."""
    f = ReportFact
    columns = [
        func.sum(f.cancelled_m2).label("cancelled_m2"),
        func.sum(f.reduced_m2).label("reduced_m2"),
        func.sum(f.cleared_m2).label("cleared_m2"),
    ]
    conditions: list[ColumnElement[bool]] = [f.hazard_area.is_not(None), f.kind.in_(AREA_KINDS)]
    if cmr_only:
        conditions.append(f.hazard_area.in_(cmr_areas_query(scope.project_id, scope.end)))
    summed = None if cmr_only else _Summed(AREA_KINDS, on_area=True)
    return _fold(session, scope, by, columns, conditions, explain=explain, summed=summed)


def counted(
    session: Session,
    scope: Scope,
    item_kind: str,
    by: Sequence[str],
    *,
    explain: bool = False,
) -> dict[tuple[str, ...], Sum]:
    """The quantities of the items of ``item_kind`` (destroyed, eore, land_beneficiary,
    casualty, referral) in reports dated in the period, folded by ``by`` (``count``)."""
    conditions: list[ColumnElement[bool]] = [ReportItem.kind == item_kind]
    kinds = ITEM_FACT_KINDS.get(item_kind)
    if kinds is not None:
        # Narrow the reports first: the items of a few thousand are read by index, where
        # joining every item of the kind would hash hundreds of thousands.
        conditions.append(ReportFact.kind.in_(kinds))
    return _fold(
        session,
        scope,
        by,
        [func.sum(ReportItem.quantity).label("count")],
        conditions,
        items=True,
        explain=explain,
        summed=_Summed(kinds, item_kind=item_kind),
    )


def facts_counted(
    session: Session,
    scope: Scope,
    kinds: Sequence[str],
    by: Sequence[str],
    *,
    explain: bool = False,
    area_counts: bool = False,
) -> dict[tuple[str, ...], Sum]:
    """The number of reports of ``kinds`` dated in the period (``count``), folded by ``by``;
    with ``area_counts``, also the hazard areas they are about (``areas``) and how many of
    those a report in the period closed (``closed_areas``)."""
    f = ReportFact
    if not area_counts:
        sums = [func.count().label("count")]
        return _fold(
            session,
            scope,
            by,
            sums,
            (f.kind.in_(kinds),),
            explain=explain,
            summed=_Summed(tuple(kinds)),
        )
    g = aliased(ReportFact)
    closing = select(g.hazard_area).where(
        *fact_filters(scope, g), g.hazard_area.is_not(None), g.status.in_(CLOSED_STATUSES)
    )
    # Counted in two grouped passes: per group and hazard area first, then per group, where
    # count(DISTINCT ...) would sort every report of the period.
    per_area = [
        func.count().label("count"),
        func.max(case((f.hazard_area.in_(closing), 1), else_=0)).label("closing"),
    ]

    def per_group(inner: Subquery) -> list[Any]:
        return [
            func.sum(inner.c.count).label("count"),
            func.count(inner.c.area).label("areas"),
            func.count(case((inner.c.closing == 1, inner.c.area))).label("closed_areas"),
        ]

    return _fold(
        session, scope, by, per_area, (f.kind.in_(kinds),), explain=explain, then=per_group
    )


def fact_filters(scope: Scope, f: Any = ReportFact) -> list[ColumnElement[bool]]:
    conditions = [
        f.project_id == scope.project_id,
        f.fact_date >= scope.start,
        f.fact_date <= scope.end,
    ]
    if scope.approved_only:
        conditions.append(f.approved.is_(True))
    if scope.operator is not None:
        conditions.append(f.organisation == scope.operator)
    if scope.any_of is not None:
        conditions.append(scope.any_of.condition(f))
    return conditions


_FACT_KEYS = {"operator": "organisation", "activity": "kind", "method": "eore_method"}
_SUMMED_KEYS = frozenset({"admin1", "admin2", "operator", "activity", "method"})
_SUMMED_ITEM_KEYS = frozenset({"category", "model", "sex", "age", "grp", "outcome"})


@dataclass(frozen=True)
class _Summed:
    """What a fold counts, in the summary's terms: the reports of ``kinds`` (all when None),
    those about a hazard area only with ``on_area``, or their items of ``item_kind``."""

    kinds: tuple[str, ...] | None
    on_area: bool = False
    item_kind: str = ""


def _whole_months(start: date, end: date) -> tuple[date, date] | None:
    """The first days of the first and the last whole month from ``start`` to ``end``."""
    first = start if start.day == 1 else _next_month(start)
    after = _next_month(end)
    last = end.replace(day=1) if (after - timedelta(days=1)) == end else _previous_month(end)
    return (first, last) if first <= last else None


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _previous_month(day: date) -> date:
    return date(day.year - (day.month == 1), (day.month - 2) % 12 + 1, 1)


def _fold(
    session: Session,
    scope: Scope,
    by: Sequence[str],
    sums: Sequence[Any],
    conditions: Iterable[ColumnElement[bool]],
    *,
    items: bool = False,
    explain: bool = False,
    then: Callable[[Subquery], Sequence[Any]] | None = None,
    summed: _Summed | None = None,
) -> dict[tuple[str, ...], Sum]:
    """Sums grouped in SQL by ``by``; a report about a hazard area is placed where the area
    is (:func:`server.reports.facts.place_area`), others by their own P-codes. With ``then``,
    ``sums`` are per group and hazard area (``area``), and ``then`` sums those per group.

    With ``summed`` (what the fold counts, in the summary's terms), the whole months of the
    period are read from the summary (:mod:`server.reports.summary`) and only the days before
    and after them from the facts; not with ``explain`` (it names submissions) or a scope of
    hazard areas."""
    folded: dict[tuple[str, ...], Sum] = {}
    allowed = _SUMMED_KEYS | (_SUMMED_ITEM_KEYS if items else frozenset())
    months = _whole_months(scope.start, scope.end)
    if (
        summed is None
        or months is None
        or explain
        or then is not None
        or scope.hazard_areas is not None
        or not set(by) <= allowed
    ):
        _fold_facts(session, scope, by, sums, conditions, folded, items, explain, then)
        return folded
    _fold_sums(session, scope, by, [s.key for s in sums], summed, months, folded)
    first, last = months
    if scope.start < first:
        before = replace(scope, end=first - timedelta(days=1))
        _fold_facts(session, before, by, sums, conditions, folded, items, False, None)
    if _next_month(last) <= scope.end:
        after = replace(scope, start=_next_month(last))
        _fold_facts(session, after, by, sums, conditions, folded, items, False, None)
    return folded


def _fold_sums(
    session: Session,
    scope: Scope,
    by: Sequence[str],
    names: Sequence[str],
    summed: _Summed,
    months: tuple[date, date],
    folded: dict[tuple[str, ...], Sum],
) -> None:
    s = ReportSum
    key = {"operator": s.organisation, "activity": s.kind, "method": s.eore_method}
    group = [(key[k] if k in key else getattr(s, k)).label(k) for k in by]
    columns: dict[str, Any]
    if summed.item_kind:
        present, columns = s.items, {"count": s.quantity}
    else:
        present = s.reports
        columns = {"count": s.reports, "cancelled_m2": s.cancelled_m2}
        columns |= {"reduced_m2": s.reduced_m2, "cleared_m2": s.cleared_m2}
    query = select(*group, *(func.sum(columns[n]).label(n) for n in names)).where(
        s.project_id == scope.project_id,
        s.month >= months[0],
        s.month <= months[1],
        s.item_kind == summed.item_kind,
    )
    if scope.approved_only:
        query = query.where(s.approved.is_(True))
    if scope.operator is not None:
        query = query.where(s.organisation == scope.operator)
    if summed.kinds is not None:
        query = query.where(s.kind.in_(summed.kinds))
    if summed.on_area:
        query = query.where(s.on_area.is_(True))
    if scope.admin_areas is not None:
        wanted = sorted(scope.admin_areas)
        query = query.where(or_(s.admin1.in_(wanted), s.admin2.in_(wanted)))
    query = query.group_by(*group).having(func.sum(present) > 0)
    width = len(by)
    # By position: a large matrix has tens of thousands of rows, and a Row's attributes by
    # name cost more than the folding.
    for row in session.execute(query):
        target = folded.setdefault(tuple(str(v or "") for v in row[:width]), Sum())
        for name, value in zip(names, row[width:], strict=True):
            target.add(name, float(value or 0))


def _fold_facts(
    session: Session,
    scope: Scope,
    by: Sequence[str],
    sums: Sequence[Any],
    conditions: Iterable[ColumnElement[bool]],
    folded: dict[tuple[str, ...], Sum],
    items: bool,
    explain: bool,
    then: Callable[[Subquery], Sequence[Any]] | None,
) -> None:
    f = ReportFact
    admin = {"admin1": func.coalesce(f.admin1, ""), "admin2": func.coalesce(f.admin2, "")}
    group: list[Any] = []
    for key in by:
        if key in admin:
            group.append(admin[key].label(key))
        elif key == "hazard_area":
            group.append(f.hazard_area.label(key))
        elif key in ITEM_COLUMNS and items:
            group.append(getattr(ReportItem, key).label(key))
        else:
            group.append(getattr(f, _FACT_KEYS.get(key, key)).label(key))
    if explain:
        group.append(f.submission_id.label("submission_id"))
    query = select(*group, *sums)
    query = (
        query.select_from(ReportItem).join(f, f.id == ReportItem.fact_id)
        if items
        else query.select_from(f)
    )
    query = query.where(*fact_filters(scope), *conditions)
    if scope.admin_areas is not None:
        wanted = sorted(scope.admin_areas)
        query = query.where(or_(admin["admin1"].in_(wanted), admin["admin2"].in_(wanted)))
    if scope.hazard_areas is not None:
        query = query.where(f.hazard_area.in_(sorted(scope.hazard_areas)))
    if then is None:
        query = query.group_by(*group)
    else:
        inner = (
            query.add_columns(f.hazard_area.label("area"))
            .group_by(*group, f.hazard_area)
            .subquery()
        )
        kept = [inner.c[column.key] for column in group]
        sums = then(inner)
        query = select(*kept, *sums).group_by(*kept)
    names = [s.key for s in sums]
    width = len(by)
    area_at = list(by).index("hazard_area") if "hazard_area" in by else None
    # Rows by position, as in _fold_sums: key, then the submission with explain, then sums.
    for row in session.execute(query):
        target = folded.setdefault(tuple(str(v or "") for v in row[:width]), Sum())
        for name, value in zip(names, row[len(row) - len(names) :], strict=True):
            target.add(name, float(value or 0))
        if area_at is not None and row[area_at]:
            target.hazard_areas.add(row[area_at])
        if explain:
            target.submissions.add(row[width])


def instance_ids(session: Session, submission_ids: Iterable[int]) -> dict[int, str]:
    """The instanceIDs (first version's, the submission's stable name) of submissions."""
    ids = sorted(set(submission_ids))
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.execute(
            select(Submission.id, Submission.root_instance_id).where(Submission.id.in_(chunk))
        )
        found.update((sid, name) for sid, name in rows)
    return found
