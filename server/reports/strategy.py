"""National strategy targets and the progress report against them.

A target is a quantity to reach between two dates, nationally or in one admin area:
``released_m2`` (cancelled + reduced + cleared), ``cleared_m2``, or ``areas_closed`` (hazard
areas cleared, cancelled or handed over). Progress counts from the target's start to the
report's date; the projected completion assumes the average daily rate so far continues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import errors
from server.reports.document import Table, km2, m2
from server.reports.models import StrategyTarget
from server.reports.outputs import Scope, area_views, land_released

METRICS = ("released_m2", "cleared_m2", "areas_closed")


@dataclass(frozen=True)
class NewTarget:
    label: str
    metric: str
    target_value: float
    start_date: date
    target_date: date
    admin_pcode: str = ""


def check_target(target: NewTarget) -> None:
    """Raises: Problem 400 ``request.invalid`` naming each wrong field."""
    wrong: dict[str, list[str]] = {}
    if not target.label.strip() or len(target.label) > 200:
        wrong["label"] = ["1 to 200 characters"]
    if target.metric not in METRICS:
        wrong["metric"] = [f"one of {', '.join(METRICS)}"]
    if not target.target_value > 0 or target.target_value != target.target_value:
        wrong["target_value"] = ["a number above 0"]
    if target.target_date <= target.start_date:
        wrong["target_date"] = ["after start_date"]
    if wrong:
        raise errors.invalid_input(wrong)


def progress(
    session: Session,
    project_id: int,
    as_of: date,
    approved_only: bool,
    admin: str | None,
    explain: bool = False,
) -> tuple[dict[str, Any], list[Table]]:
    """Each target's progress; with ``explain``, the submissions behind what was achieved (the
    reports releasing the land, or the latest report on each area closed)."""
    query = select(StrategyTarget).where(StrategyTarget.project_id == project_id)
    if admin is not None:
        query = query.where(StrategyTarget.admin_pcode == admin)
    rows = []
    for target in session.scalars(query.order_by(StrategyTarget.id)):
        rows.append(_progress(session, project_id, target, as_of, approved_only, explain))
    columns = ["id", "label", "admin_pcode", "metric", "target_value", "start_date"]
    columns += ["target_date", "achieved", "percent", "rate_per_day", "projected_completion"]
    columns += ["on_track"]
    return {"as_of": as_of.isoformat(), "targets": rows}, [
        Table(
            "targets", f"National strategy targets, progress on {as_of}", "Targets", columns, rows
        )
    ]


def _progress(
    session: Session,
    project_id: int,
    target: StrategyTarget,
    as_of: date,
    approved_only: bool,
    explain: bool,
) -> dict[str, Any]:
    end = min(as_of, target.target_date)
    admin = frozenset({target.admin_pcode}) if target.admin_pcode else None
    scope = Scope(project_id, target.start_date, end, approved_only, admin_areas=admin)
    achieved = 0.0
    behind: set[int] = set()
    if end >= target.start_date:
        if target.metric == "areas_closed":
            closed = _closed(session, scope)
            achieved = float(len(closed))
            behind = set(closed.values())
        else:
            folded = land_released(session, scope, (), explain=explain)
            values = folded[()].values if () in folded else {}
            behind = folded[()].submissions if () in folded else set()
            names = (
                ("cleared_m2",)
                if target.metric == "cleared_m2"
                else ("cancelled_m2", "reduced_m2", "cleared_m2")
            )
            achieved = sum(float(values.get(n, 0.0)) for n in names)
    days = (end - target.start_date).days + 1
    rate = achieved / days if days > 0 else 0.0
    projected: str | None
    if achieved >= target.target_value:
        projected = "achieved"
    elif rate > 0:
        remaining_days = (target.target_value - achieved) / rate
        projected = (end + timedelta(days=int(remaining_days + 0.999999))).isoformat()
    else:
        projected = None
    on_track = projected == "achieved" or (
        projected is not None and date.fromisoformat(projected) <= target.target_date
    )
    row = {
        "id": target.id,
        "label": target.label,
        "admin_pcode": target.admin_pcode,
        "metric": target.metric,
        "target_value": target.target_value,
        "start_date": target.start_date.isoformat(),
        "target_date": target.target_date.isoformat(),
        "achieved": m2(achieved),
        "percent": round(100.0 * achieved / target.target_value, 2),
        "rate_per_day": round(rate, 4),
        "projected_completion": projected,
        "on_track": on_track,
    }
    if target.metric != "areas_closed":
        row["achieved_km2"] = km2(achieved)
    if explain:
        row["submissions"] = sorted(behind)
    return row


def _closed(session: Session, scope: Scope) -> dict[str, int]:
    """Areas closed at the scope's end that were not closed the day before it started, with
    the submission of the latest report on each (the one leaving it closed)."""
    now = {v.hazard_area: v.submission_id for v in area_views(session, scope, is_open=False)}
    before_scope = Scope(
        scope.project_id,
        scope.start,
        scope.start - timedelta(days=1),
        scope.approved_only,
        admin_areas=scope.admin_areas,
    )
    before = {v.hazard_area for v in area_views(session, before_scope, is_open=False)}
    return {area: sid for area, sid in now.items() if area not in before}
