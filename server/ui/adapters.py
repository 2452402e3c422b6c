"""Where the UI meets parts built apart from it: the reports (``server.reports``) and the
personal-data rules (``server.personal``). Each is one small function here; until its package
is wired in it answers ``None`` and the page says "not available" instead of guessing. Wiring a
package in means replacing the body of its function with a call to that package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from server.exports.tables import ColumnAction, ColumnPolicy, Field, keep_everything

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


def report(
    session: Session, project_id: int, name: str, *, period: str, area: str
) -> ReportView | None:
    """A report's figures for the period (e.g. ``2026``) and admin area, or None when the
    reports package is not installed. Wiring it in: call ``server.reports`` here and turn its
    answer into a :class:`ReportView`."""
    return None


@dataclass(frozen=True)
class PersonalRules:
    """What the personal-data rules say about a form for the caller's role."""

    fields: frozenset[str]  # paths of the personal fields (marked on every page)
    policy: ColumnPolicy  # drops or pseudonymises them in tables, as in exports


def personal_rules(form_fields: list[Field], role: str) -> PersonalRules | None:
    """The personal fields of a form and how the caller's role sees them, or None when the
    personal-data package is not installed (pages then say the marking is not available).
    Wiring it in: ask ``server.personal`` for the form's personal fields and the role's policy."""
    return None


def column_policy(rules: PersonalRules | None) -> ColumnPolicy:
    return rules.policy if rules is not None else keep_everything


def hidden_paths(rules: PersonalRules | None, fields: list[Field], role: str) -> frozenset[str]:
    """The fields whose values a page must not show to ``role`` (dropped or pseudonymised in
    exports): the same decision as the export's, field by field."""
    if rules is None:
        return frozenset()
    return frozenset(f.path for f in fields if rules.policy(f, role) is not ColumnAction.KEEP)
