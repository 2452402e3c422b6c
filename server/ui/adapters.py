"""Where the UI meets parts that may not be installed: the reports (``server.reports``) and the
personal-data rules (``server.personal``). Each is one small function here; when its package is
missing it answers ``None`` and the page says "not available" instead of guessing. Wiring a
package in means replacing the body of its function with a call to that package.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sqlalchemy.orm import Session

from server.exports.tables import ColumnPolicy, Field, keep_everything

# The reports the coalition asked for, in the order the Reports page lists them.
REPORTS = (
    ("article7", "CCM Article 7 transparency report"),
    ("monitor", "Landmine and Cluster Munition Monitor figures"),
    ("3w", "3W/4W: who does what where"),
    ("donors", "Donor report"),
)


@dataclass
class ReportView:
    """A report as a table (what the Reports page draws)."""

    title: str
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    downloads: dict[str, str] = field(default_factory=dict)  # format -> URL
    highlighted: set[int] = field(default_factory=set)  # row indexes (3W/4W overlaps)


def _package(name: str) -> ModuleType | None:
    if importlib.util.find_spec(f"server.{name}") is None:
        return None
    return importlib.import_module(f"server.{name}")


def report(
    session: Session, project_id: int, name: str, *, period: str, area: str
) -> ReportView | None:
    """A report's figures for the period (e.g. ``2026``) and admin area, or None when the
    reports package is not installed."""
    if _package("reports") is None:
        return None
    # The package is there but not wired in yet: say "not available" rather than guess.
    return None


@dataclass(frozen=True)
class PersonalRules:
    """What the personal-data rules say about a form for the caller's role."""

    fields: frozenset[str]  # paths of the personal fields (marked on every page)
    policy: ColumnPolicy  # drops or pseudonymises them in tables, as in exports


def personal_rules(form_fields: list[Field], role: str) -> PersonalRules | None:
    """The personal fields of a form and how the caller's role sees them, or None when the
    personal-data package is not installed (pages then say the marking is not available)."""
    if _package("personal") is None:
        return None
    return None  # the package is there but not wired in yet


def column_policy(rules: PersonalRules | None) -> ColumnPolicy:
    return rules.policy if rules is not None else keep_everything
