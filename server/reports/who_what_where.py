"""The 3W/4W matrix: who (operator) did what (activity) where (province, district) in the
period, with its status, outputs (m² released, devices destroyed, people reached by sex and
age) and donor, and the overlaps the coalition wants to avoid:

- ``two_operators_one_area``: two operators reporting technical survey, clearance or
  completion on one hazard area in the period (a non-technical survey before another
  operator's clearance is a handover, not an overlap), or tasked on it for overlapping dates
  (from the taskings the authority recorded);
- ``outside_tasking``: a report by an operator that has taskings, on an area none of its
  taskings covers at the report's date.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.reports import funding
from server.reports.document import Table, km2, m2
from server.reports.extract import EORE_CELLS, LAND_CELLS
from server.reports.models import ReportFact, Tasking
from server.reports.outputs import (
    AREA_KINDS,
    Place,
    Scope,
    Sum,
    area_places,
    counted,
    fact_filters,
    facts_counted,
    land_released,
)

ACTIVITIES = (*AREA_KINDS, "eod_spot", "eod_destruction", "eore")
# Work on an area that two operators should not both be doing (a survey is not).
WORK_KINDS = ("ts", "clearance", "bac", "completion")
KEY = ("operator", "activity", "admin1", "admin2")
EORE_COLUMNS = [f"eore_{sex}_{band}" for sex, band in EORE_CELLS.values()]
LAND_COLUMNS = [f"land_{sex}_{age}" for sex, age in LAND_CELLS.values()]


def who_what_where(
    session: Session, scope: Scope, period: str, explain: bool
) -> tuple[dict[str, Any], list[Table]]:
    reports = facts_counted(session, scope, ACTIVITIES, KEY, explain=explain, area_counts=True)
    released = land_released(session, scope, KEY)
    destroyed = counted(session, scope, "destroyed", KEY)
    eore = counted(session, scope, "eore", (*KEY, "sex", "age"))
    land = counted(session, scope, "land_beneficiary", (*KEY, "sex", "age"))
    donors = funding.donors_by_hazard_area(session, scope.project_id)
    areas_of: dict[tuple[str, ...], set[str]] = {}
    if donors:
        for key, sums in facts_counted(session, scope, ACTIVITIES, (*KEY, "hazard_area")).items():
            areas_of.setdefault(key[: len(KEY)], set()).update(sums.hazard_areas)
    rows = []
    for key, sums in sorted(reports.items()):
        areas, closed = int(sums.values["areas"]), int(sums.values["closed_areas"])
        row: dict[str, Any] = dict(zip(KEY, key, strict=True))
        row["period"] = period
        row["status"] = "completed" if closed >= areas else "ongoing"
        row["hazard_areas"] = areas
        row["reports"] = int(sums.values["count"])
        values = released.get(key, Sum()).values
        total = 0.0
        for name in ("cancelled", "reduced", "cleared"):
            value = float(values.get(f"{name}_m2", 0.0))
            row[f"{name}_m2"] = m2(value)
            total += value
        row["released_m2"] = m2(total)
        row["released_km2"] = km2(total)
        row["devices_destroyed"] = int(destroyed.get(key, Sum()).values.get("count", 0))
        for sex, band in EORE_CELLS.values():
            row[f"eore_{sex}_{band}"] = _n(eore, (*key, sex, band))
        for sex, age in LAND_CELLS.values():
            row[f"land_{sex}_{age}"] = _n(land, (*key, sex, age))
        funders = {d for a in areas_of.get(key, set()) for d in donors.get(a, [])}
        row["donor"] = " ".join(sorted(funders))
        if explain:
            row["submissions"] = sorted(sums.submissions)
        rows.append(row)
    overlaps = _overlaps(session, scope)
    data = {"period": period, "rows": rows, "overlaps": overlaps}
    columns = [*KEY, "period", "status", "hazard_areas", "reports", "cancelled_m2"]
    columns += ["reduced_m2", "cleared_m2", "released_m2", "released_km2", "devices_destroyed"]
    columns += [*EORE_COLUMNS, *LAND_COLUMNS, "donor"]
    tables = [
        Table("rows", f"Who does what where: {period}", "3W/4W", columns, rows),
        Table(
            "overlaps",
            "Overlaps",
            "Overlaps",
            ["type", "hazard_area", "ha_code", "admin1", "admin2", "operators", "submissions"],
            overlaps,
        ),
    ]
    return data, tables


def _n(folded: dict[tuple[str, ...], Sum], key: tuple[str, ...]) -> int:
    return int(folded.get(key, Sum()).values.get("count", 0))


def _overlaps(session: Session, scope: Scope) -> list[dict[str, Any]]:
    f = ReportFact
    work = (*fact_filters(scope), f.kind.in_(WORK_KINDS), f.hazard_area.is_not(None))
    shared = (
        select(f.hazard_area)
        .where(*work)
        .group_by(f.hazard_area)
        # More than one operator (organisation is never NULL): a hash aggregate, where
        # count(DISTINCT ...) sorts every report of the period.
        .having(func.min(f.organisation) != func.max(f.organisation))
    )
    by_area: dict[str, dict[str, set[int]]] = {}
    for area, operator, sid in session.execute(
        select(f.hazard_area, f.organisation, f.submission_id).where(
            *work, f.hazard_area.in_(shared)
        )
    ):
        by_area.setdefault(str(area), {}).setdefault(operator, set()).add(sid)
    taskings = list(
        session.scalars(
            select(Tasking).where(
                Tasking.project_id == scope.project_id,
                Tasking.start_date <= scope.end,
                Tasking.end_date >= scope.start,
            )
        )
    )
    tasked: dict[str, set[str]] = {}
    for t in taskings:
        for other in taskings:
            if (
                other.id > t.id
                and other.hazard_area == t.hazard_area
                and other.operator != t.operator
                and other.start_date <= t.end_date
                and t.start_date <= other.end_date
            ):
                tasked.setdefault(t.hazard_area, set()).update({t.operator, other.operator})
    outside: list[Any] = []
    with_taskings = sorted({t.operator for t in taskings})
    if with_taskings:
        candidates = session.execute(
            select(f.hazard_area, f.organisation, f.fact_date, f.submission_id)
            .where(
                *fact_filters(scope),
                f.kind.in_(AREA_KINDS),
                f.hazard_area.is_not(None),
                f.organisation.in_(with_taskings),
            )
            .order_by(f.fact_date, f.submission_id)
        )
        for area, operator, fact_date, sid in candidates:
            if not any(
                t.operator == operator
                and t.hazard_area == area
                and t.start_date <= fact_date <= t.end_date
                for t in taskings
            ):
                outside.append((area, operator, fact_date, sid))
    flagged = set(by_area) | set(tasked) | {o[0] for o in outside}
    places = area_places(session, scope.project_id, scope.end, flagged)
    admin = set(scope.admin_areas or ())

    def place(area: str) -> dict[str, Any] | None:
        p = places.get(area, Place("", "", ""))
        if scope.hazard_areas is not None and area not in scope.hazard_areas:
            return None
        if admin and not (p.admin1 in admin or p.admin2 in admin):
            return None
        return {"hazard_area": area, "ha_code": p.ha_code, "admin1": p.admin1, "admin2": p.admin2}

    found: list[dict[str, Any]] = []
    for area in sorted(set(by_area) | set(tasked)):
        where = place(area)
        operators = set(by_area.get(area, {})) | tasked.get(area, set())
        if where is None or len(operators) < 2:
            continue
        subs = {s for ids in by_area.get(area, {}).values() for s in ids}
        found.append(
            {"type": "two_operators_one_area", **where, "operators": sorted(operators)}
            | {"submissions": sorted(subs), "from_taskings": area in tasked}
        )
    for area, operator, fact_date, sid in outside:
        where = place(area)
        if where is not None:
            found.append(
                {"type": "outside_tasking", **where, "operators": [operator]}
                | {"submissions": [sid], "date": fact_date.isoformat()}
            )
    return found
