"""Landmine and Cluster Munition Monitor figures for a year: land released (km², on areas
with cluster munition remnants and on all areas), submunitions and other devices destroyed,
and casualties as the Monitor counts them (killed / injured / unknown; civilian, deminer,
military; children under 18; sex). Breakdowns of casualties are suppressed below the
minimum cell size; the national totals are not (the Monitor publishes them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from server.reports.document import Table, cell, km2, m2
from server.reports.outputs import (
    NOT_SUBMUNITIONS,
    Scope,
    counted,
    land_released,
)

_M2 = ["cancelled_m2", "reduced_m2", "cleared_m2", "released_m2"]


def monitor(
    session: Session, scope: Scope, minimum: int, explain: bool = False
) -> tuple[dict[str, Any], list[Table]]:
    """The figures and their tables; with ``explain``, each land release figure, device
    category and the casualties name the submissions behind them."""
    land = {
        "cmr": _released(land_released(session, scope, (), cmr_only=True, explain=explain)),
        "all": _released(land_released(session, scope, (), explain=explain)),
    }
    destroyed = counted(session, scope, "destroyed", ("category", "model"), explain=explain)
    submunitions = sum(
        int(s.values["count"])
        for (category, model), s in destroyed.items()
        if category == "cmr" and model not in NOT_SUBMUNITIONS
    )
    by_category: dict[str, int] = {}
    behind: dict[str, set[int]] = {}
    for (category, _model), sums in destroyed.items():
        by_category[category] = by_category.get(category, 0) + int(sums.values["count"])
        behind.setdefault(category, set()).update(sums.submissions)
    casualties = _casualties(session, scope, minimum, explain)
    devices: list[dict[str, Any]] = [
        {"category": c, "quantity": n} for c, n in sorted(by_category.items())
    ]
    if explain:
        for row in devices:
            row["submissions"] = sorted(behind[row["category"]])
    data = {
        "land_released": land,
        "submunitions_destroyed": submunitions,
        "devices_destroyed": devices,
        "casualties": casualties,
    }
    rows = [{"scope": name, **values} for name, values in land.items()]
    casualty_rows = [
        {"figure": name, **(value if isinstance(value, dict) else {"count": value})}
        for name, value in casualties.items()
        if name != "submissions"
    ]
    tables = [
        Table(
            "land_released",
            "Land released (km² and m²)",
            "Land",
            ["scope", "cancelled_km2", "reduced_km2", "cleared_km2", "released_km2", *_M2],
            rows,
        ),
        Table(
            "devices_destroyed",
            f"Devices destroyed ({submunitions} submunitions)",
            "Devices",
            ["category", "quantity"],
            devices,
        ),
        Table("casualties", "Casualties", "Casualties", ["figure", "count"], casualty_rows),
    ]
    return data, tables


def _released(folded: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    sums = folded.get(())
    values = sums.values if sums is not None else {}
    out: dict[str, Any] = {}
    total = 0.0
    for name in ("cancelled", "reduced", "cleared"):
        value = float(values.get(f"{name}_m2", 0.0))
        total += value
        out[f"{name}_m2"] = m2(value)
        out[f"{name}_km2"] = km2(value)
    out["released_m2"] = m2(total)
    out["released_km2"] = km2(total)
    if sums is not None and sums.submissions:
        out["submissions"] = sorted(sums.submissions)
    return out


def _casualties(session: Session, scope: Scope, minimum: int, explain: bool) -> dict[str, Any]:
    folded = counted(session, scope, "casualty", ("outcome", "grp", "age", "sex"), explain=explain)

    def total(position: int, value: str) -> int:
        return sum(int(s.values["count"]) for k, s in folded.items() if k[position] == value)

    figures: dict[str, Any] = {
        "total": sum(int(s.values["count"]) for s in folded.values()),
        "killed": total(0, "killed"),
        "injured": total(0, "injured"),
        "unknown": total(0, "unknown"),
        "civilian": cell(total(1, "civilian"), minimum),
        "deminer": cell(total(1, "deminer"), minimum),
        "military": cell(total(1, "military"), minimum),
        "group_unknown": cell(total(1, "unknown"), minimum),
        "children": cell(total(2, "child"), minimum),
        "adults": cell(total(2, "adult"), minimum),
        "age_unknown": cell(total(2, "unknown"), minimum),
        "female": cell(total(3, "female"), minimum),
        "male": cell(total(3, "male"), minimum),
        "sex_unknown": cell(total(3, "unknown"), minimum),
    }
    if explain:
        # Behind the national totals (never suppressed), not behind a breakdown's cells.
        figures["submissions"] = sorted({i for s in folded.values() for i in s.submissions})
    return figures
