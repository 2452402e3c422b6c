"""A report as the outputs see it: its JSON, the tables CSV, XLSX and HTML are made of, and
the cover (project, period, when, filters, whether only approved reports count).

Small-cell suppression lives here too, so every report applies it the same way: a count of
people (casualties, survivors, referrals) below the project's minimum cell size becomes
``{"count": null, "suppressed": true}`` in JSON and ``<5`` in a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

M2_PER_KM2 = 1_000_000.0


@dataclass
class Table:
    name: str  # the JSON path it comes from, e.g. "form_f.land_released"
    title: str
    section: str  # what a printed page holds ("Form F"); a new section starts a new page
    columns: list[str]
    rows: list[dict[str, Any]]


@dataclass
class Report:
    kind: str  # article7, monitor, who-what-where, strategy
    title: str
    project_name: str
    period: str
    generated_at: datetime
    approved_only: bool
    filters: dict[str, str]
    data: dict[str, Any]
    tables: list[Table] = field(default_factory=list)
    min_cell_size: int = 5

    def cover(self) -> list[tuple[str, str]]:
        filters = ", ".join(f"{k}={v}" for k, v in sorted(self.filters.items())) or "none"
        return [
            ("report", self.title),
            ("project", self.project_name),
            ("period", self.period),
            ("generated at", self.generated_at.isoformat(timespec="seconds")),
            ("filter used", filters),
            ("approved reports only", "yes" if self.approved_only else "no"),
            ("minimum cell size", str(self.min_cell_size)),
        ]


def cell(count: float, minimum: int) -> dict[str, Any]:
    """A count of people, suppressed below ``minimum`` (zero is shown: it identifies nobody)."""
    n = int(count)
    if 0 < n < minimum:
        return {"count": None, "suppressed": True}
    return {"count": n}


def m2(value: float) -> float:
    return round(float(value), 2)


def km2(value: float) -> float:
    return round(float(value) / M2_PER_KM2, 6)


def shown(value: Any, minimum: int) -> Any:
    """A table cell: a suppressed count as ``<5``, a nested cell by its count, lists joined."""
    if isinstance(value, dict):
        return f"<{minimum}" if value.get("suppressed") else value.get("count")
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return value


def row_cells(row: dict[str, Any], columns: list[str], minimum: int) -> list[Any]:
    if row.get("suppressed"):
        row = {**row, "count": {"suppressed": True}}
    return [shown(row.get(c), minimum) for c in columns]
