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
where the area is (the latest hazard report naming it, up to the period's end); reports not
about an area carry their own P-codes. Areas are stored and summed in m².
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from server.reports.models import ReportFact, ReportItem
from server.submissions.models import Submission

CLOSED_STATUSES = frozenset({"cleared", "cancelled", "handed_over"})
# Cluster munition remnants that are not submunitions (Article 2: the container, unused stock).
NOT_SUBMUNITIONS = frozenset({"failed_cm", "abandoned_cm"})
AREA_KINDS = ("nts", "ts", "clearance", "bac", "completion")
ITEM_COLUMNS = ("category", "model", "sex", "age", "grp", "outcome", "need", "status")


@dataclass(frozen=True)
class Scope:
    """What a figure covers. ``end`` is inclusive. ``None`` filters mean "all"."""

    project_id: int
    start: date
    end: date
    approved_only: bool = True
    admin_areas: frozenset[str] | None = None
    operator: str | None = None
    hazard_areas: frozenset[str] | None = None


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
    places = area_places(session, scope.project_id, scope.end)
    for sums in land_released(session, scope, (), places=places).values():
        result.cancelled_m2 += sums.values.get("cancelled_m2", 0.0)
        result.reduced_m2 += sums.values.get("reduced_m2", 0.0)
        result.cleared_m2 += sums.values.get("cleared_m2", 0.0)
        result.hazard_areas |= sums.hazard_areas
    for (category,), sums in counted(session, scope, "destroyed", ("category",), places).items():
        result.devices_destroyed[category] = int(sums.values["count"])
    for key, sums in counted(session, scope, "eore", ("sex", "age"), places).items():
        result.eore_beneficiaries[(key[0], key[1])] = int(sums.values["count"])
    for key, sums in counted(session, scope, "land_beneficiary", ("sex", "age"), places).items():
        result.land_beneficiaries[(key[0], key[1])] = int(sums.values["count"])
    return result


# --- hazard areas --------------------------------------------------------------------------------


def area_places(session: Session, project_id: int, end: date) -> dict[str, Place]:
    """Where each hazard area is: the P-codes of the latest hazard report naming it up to
    ``end`` (approved or not: a place is not a figure)."""
    f = ReportFact
    rows = _latest(
        session,
        [f.hazard_area, f.admin1, f.admin2, f.ha_code],
        (
            f.project_id == project_id,
            f.kind == "nts",
            f.hazard_area.is_not(None),
            f.admin1.is_not(None),
            f.fact_date <= end,
        ),
    )
    return {r.hazard_area: Place(r.admin1 or "", r.admin2 or "", r.ha_code or "") for r in rows}


def area_views(
    session: Session, scope: Scope, places: dict[str, Place] | None = None
) -> list[AreaView]:
    """Every hazard area as the latest report up to ``scope.end`` leaves it (approved
    reports only when the scope says so); filtered by the scope's areas."""
    f = ReportFact
    conditions = [
        f.project_id == scope.project_id,
        f.hazard_area.is_not(None),
        f.status.is_not(None),
        f.fact_date <= scope.end,
    ]
    if scope.approved_only:
        conditions.append(f.approved.is_(True))
    if scope.operator is not None:
        conditions.append(f.organisation == scope.operator)
    places = places if places is not None else area_places(session, scope.project_id, scope.end)
    typed = {
        r.hazard_area: r
        for r in _latest(
            session,
            [f.hazard_area, f.hazard_type, f.contamination],
            (*conditions, f.hazard_type.is_not(None)),
        )
    }
    views = []
    for row in _latest(
        session,
        [f.hazard_area, f.status, f.remaining_m2, f.ha_code, f.submission_id],
        conditions,
    ):
        place = places.get(row.hazard_area, Place("", "", ""))
        if not _in_scope(scope, row.hazard_area, place.admin1, place.admin2):
            continue
        kind = typed.get(row.hazard_area)
        views.append(
            AreaView(
                hazard_area=row.hazard_area,
                ha_code=place.ha_code or row.ha_code or "",
                admin1=place.admin1,
                admin2=place.admin2,
                hazard_type=(kind.hazard_type if kind is not None else "") or "",
                status=row.status,
                contamination=frozenset(((kind.contamination if kind else "") or "").split()),
                remaining_m2=float(row.remaining_m2 or 0.0),
                submission_id=row.submission_id,
            )
        )
    return views


def _latest(
    session: Session, columns: Sequence[Any], conditions: Iterable[ColumnElement[bool]]
) -> Iterable[Any]:
    """Per hazard area, the columns of its latest fact (date of information, then arrival)."""
    f = ReportFact
    rank = (
        func.row_number()
        .over(partition_by=f.hazard_area, order_by=(f.fact_date.desc(), f.id.desc()))
        .label("rank")
    )
    inner = select(*columns, rank).where(*conditions).subquery()
    return session.execute(select(*[inner.c[c.key] for c in columns]).where(inner.c.rank == 1))


# --- folding facts -------------------------------------------------------------------------------


def land_released(
    session: Session,
    scope: Scope,
    by: Sequence[str],
    *,
    places: dict[str, Place] | None = None,
    cmr_areas: set[str] | None = None,
    explain: bool = False,
) -> dict[tuple[str, ...], Sum]:
    """m² cancelled, reduced and cleared by reports dated in the scope's period, folded by
    ``by``; only areas in ``cmr_areas`` when it is given."""
    f = ReportFact
    columns = [
        func.sum(f.cancelled_m2).label("cancelled_m2"),
        func.sum(f.reduced_m2).label("reduced_m2"),
        func.sum(f.cleared_m2).label("cleared_m2"),
    ]
    return _fold(
        session,
        scope,
        by,
        columns,
        (f.hazard_area.is_not(None), f.kind.in_(AREA_KINDS)),
        places=places,
        only_areas=cmr_areas,
        explain=explain,
    )


def counted(
    session: Session,
    scope: Scope,
    item_kind: str,
    by: Sequence[str],
    places: dict[str, Place] | None = None,
    *,
    explain: bool = False,
) -> dict[tuple[str, ...], Sum]:
    """The quantities of the items of ``item_kind`` (destroyed, eore, land_beneficiary,
    casualty, referral) in reports dated in the period, folded by ``by`` (``count``)."""
    return _fold(
        session,
        scope,
        by,
        [func.sum(ReportItem.quantity).label("count")],
        (ReportItem.kind == item_kind,),
        places=places,
        items=True,
        explain=explain,
    )


def facts_counted(
    session: Session,
    scope: Scope,
    kinds: Sequence[str],
    by: Sequence[str],
    places: dict[str, Place] | None = None,
    *,
    explain: bool = False,
) -> dict[tuple[str, ...], Sum]:
    """The number of reports of ``kinds`` dated in the period (``count``), folded by ``by``."""
    return _fold(
        session,
        scope,
        by,
        [func.count().label("count")],
        (ReportFact.kind.in_(kinds),),
        places=places,
        explain=explain,
    )


def fact_filters(scope: Scope) -> list[ColumnElement[bool]]:
    f = ReportFact
    conditions = [
        f.project_id == scope.project_id,
        f.fact_date >= scope.start,
        f.fact_date <= scope.end,
    ]
    if scope.approved_only:
        conditions.append(f.approved.is_(True))
    if scope.operator is not None:
        conditions.append(f.organisation == scope.operator)
    return conditions


_FACT_KEYS = {"operator": "organisation", "activity": "kind", "method": "eore_method"}


def _fold(
    session: Session,
    scope: Scope,
    by: Sequence[str],
    sums: Sequence[Any],
    conditions: Iterable[ColumnElement[bool]],
    *,
    places: dict[str, Place] | None,
    items: bool = False,
    only_areas: set[str] | None = None,
    explain: bool = False,
) -> dict[tuple[str, ...], Sum]:
    f = ReportFact
    group: list[Any] = [f.hazard_area, f.admin1, f.admin2]
    extra = [k for k in by if k not in ("admin1", "admin2", "hazard_area")]
    for key in extra:
        if key in ITEM_COLUMNS and items:
            group.append(getattr(ReportItem, key).label(key))
        else:
            group.append(getattr(f, _FACT_KEYS.get(key, key)).label(key))
    if explain:
        group.append(f.submission_id)
    query = select(*group, *sums).where(*fact_filters(scope), *conditions).group_by(*group)
    if items:
        query = query.select_from(ReportItem).join(f, f.id == ReportItem.fact_id)
    places = places if places is not None else area_places(session, scope.project_id, scope.end)
    folded: dict[tuple[str, ...], Sum] = {}
    names = [getattr(s, "key", None) or s.name for s in sums]
    for row in session.execute(query):
        area = row.hazard_area
        if area is not None:
            if only_areas is not None and area not in only_areas:
                continue
            place = places.get(area, Place("", "", ""))
            admin1, admin2 = place.admin1, place.admin2
        else:
            admin1, admin2 = row.admin1 or "", row.admin2 or ""
        if not _in_scope(scope, area, admin1, admin2):
            continue
        values = {"admin1": admin1, "admin2": admin2, "hazard_area": area or ""}
        folded_key = tuple(str(values[k] if k in values else (getattr(row, k) or "")) for k in by)
        target = folded.setdefault(folded_key, Sum())
        for name in names:
            target.add(name, float(getattr(row, name) or 0))
        if area is not None:
            target.hazard_areas.add(area)
        if explain:
            target.submissions.add(row.submission_id)
    return folded


def _in_scope(scope: Scope, area: str | None, admin1: str, admin2: str) -> bool:
    if scope.hazard_areas is not None and area not in scope.hazard_areas:
        return False
    return scope.admin_areas is None or admin1 in scope.admin_areas or admin2 in scope.admin_areas


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
