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


def monitor(session: Session, scope: Scope, minimum: int) -> tuple[dict[str, Any], list[Table]]:
    land = {
        "cmr": _released(land_released(session, scope, (), cmr_only=True)),
        "all": _released(land_released(session, scope, ())),
    }
    destroyed = counted(session, scope, "destroyed", ("category", "model"))
    submunitions = sum(
        int(s.values["count"])
        for (category, model), s in destroyed.items()
        if category == "cmr" and model not in NOT_SUBMUNITIONS
    )
    by_category: dict[str, int] = {}
    for (category, _model), sums in destroyed.items():
        by_category[category] = by_category.get(category, 0) + int(sums.values["count"])
    casualties = _casualties(session, scope, minimum)
    devices = [{"category": c, "quantity": n} for c, n in sorted(by_category.items())]
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


def _released(folded: dict[tuple[str, ...], Any]) -> dict[str, float]:
    sums = folded.get(())
    values = sums.values if sums is not None else {}
    out: dict[str, float] = {}
    total = 0.0
    for name in ("cancelled", "reduced", "cleared"):
        value = float(values.get(f"{name}_m2", 0.0))
        total += value
        out[f"{name}_m2"] = m2(value)
        out[f"{name}_km2"] = km2(value)
    out["released_m2"] = m2(total)
    out["released_km2"] = km2(total)
    return out


def _casualties(session: Session, scope: Scope, minimum: int) -> dict[str, Any]:
    folded = counted(session, scope, "casualty", ("outcome", "grp", "age", "sex"))

    def total(position: int, value: str) -> int:
        return sum(int(s.values["count"]) for k, s in folded.items() if k[position] == value)

    return {
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
