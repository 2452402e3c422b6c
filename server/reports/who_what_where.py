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

from sqlalchemy import select
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
    area_views,
    counted,
    fact_filters,
    facts_counted,
    land_released,
)

ACTIVITIES = (*AREA_KINDS, "eod_spot", "eod_destruction", "eore")
KEY = ("operator", "activity", "admin1", "admin2")
EORE_COLUMNS = [f"eore_{sex}_{band}" for sex, band in EORE_CELLS.values()]
LAND_COLUMNS = [f"land_{sex}_{age}" for sex, age in LAND_CELLS.values()]


def who_what_where(
    session: Session, scope: Scope, period: str, explain: bool
) -> tuple[dict[str, Any], list[Table]]:
    places = area_places(session, scope.project_id, scope.end)
    reports = facts_counted(session, scope, ACTIVITIES, KEY, places, explain=explain)
    released = land_released(session, scope, KEY, places=places)
    destroyed = counted(session, scope, "destroyed", KEY, places)
    eore = counted(session, scope, "eore", (*KEY, "sex", "age"), places)
    land = counted(session, scope, "land_beneficiary", (*KEY, "sex", "age"), places)
    closed = {
        v.hazard_area
        for v in area_views(
            session, Scope(scope.project_id, scope.start, scope.end, scope.approved_only), places
        )
        if not v.open
    }
    donors = funding.donors_by_hazard_area(session, scope.project_id)
    rows = []
    for key, sums in sorted(reports.items()):
        areas = sums.hazard_areas
        row: dict[str, Any] = dict(zip(KEY, key, strict=True))
        row["period"] = period
        row["status"] = "completed" if areas <= closed else "ongoing"
        row["hazard_areas"] = len(areas)
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
        row["donor"] = " ".join(sorted({d for a in areas for d in donors.get(a, [])}))
        if explain:
            row["submissions"] = sorted(sums.submissions)
        rows.append(row)
    overlaps = _overlaps(session, scope, places)
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


def _overlaps(session: Session, scope: Scope, places: dict[str, Place]) -> list[dict[str, Any]]:
    f = ReportFact
    rows: list[Any] = session.execute(
        select(f.hazard_area, f.organisation, f.fact_date, f.submission_id, f.kind).where(
            *fact_filters(scope), f.kind.in_(AREA_KINDS), f.hazard_area.is_not(None)
        )
    ).all()  # type: ignore[assignment]
    taskings = list(
        session.scalars(
            select(Tasking).where(
                Tasking.project_id == scope.project_id,
                Tasking.start_date <= scope.end,
                Tasking.end_date >= scope.start,
            )
        )
    )
    found: list[dict[str, Any]] = []

    def place(area: str) -> dict[str, Any]:
        p = places.get(area, Place("", "", ""))
        return {"hazard_area": area, "ha_code": p.ha_code, "admin1": p.admin1, "admin2": p.admin2}

    in_scope = set(scope.admin_areas or ())
    by_area: dict[str, dict[str, set[int]]] = {}
    for area, operator, _date, sid, kind in rows:
        if kind == "nts":
            continue  # a survey before another operator's clearance is a handover
        by_area.setdefault(area, {}).setdefault(operator, set()).add(sid)
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
    for area in sorted(set(by_area) | set(tasked)):
        operators = set(by_area.get(area, {})) if len(by_area.get(area, {})) > 1 else set()
        operators |= tasked.get(area, set())
        if len(operators) < 2 or not _area_in(scope, area, places, in_scope):
            continue
        subs = {s for op, ids in by_area.get(area, {}).items() if op in operators for s in ids}
        found.append(
            {"type": "two_operators_one_area", **place(area), "operators": sorted(operators)}
            | {"submissions": sorted(subs), "from_taskings": area in tasked}
        )
    with_taskings = {t.operator for t in taskings}
    for area, operator, fact_date, sid, _kind in sorted(rows, key=lambda r: (r[2], r[3])):
        if operator not in with_taskings or not _area_in(scope, area, places, in_scope):
            continue
        if not any(
            t.operator == operator
            and t.hazard_area == area
            and t.start_date <= fact_date <= t.end_date
            for t in taskings
        ):
            found.append(
                {"type": "outside_tasking", **place(area), "operators": [operator]}
                | {"submissions": [sid], "date": fact_date.isoformat()}
            )
    return found


def _area_in(scope: Scope, area: str, places: dict[str, Place], admin: set[str]) -> bool:
    if scope.hazard_areas is not None and area not in scope.hazard_areas:
        return False
    if not admin:
        return True
    p = places.get(area, Place("", "", ""))
    return p.admin1 in admin or p.admin2 in admin
