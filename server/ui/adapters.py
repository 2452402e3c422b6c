"""Where the UI meets parts built apart from it: the reports (``server.reports``) and the
personal-data rules (``server.personal``). Each is one small function here; until its package
is wired in it answers ``None`` and the page says "not available" instead of guessing. Wiring a
package in means replacing the body of its function with a call to that package.

The personal-data rules are wired in: a page shows a form's answers through the same guard as
the JSON API (:func:`server.forms.personal.submission_guard`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from server.exports.service import personal_columns_dropped
from server.exports.tables import ColumnAction, ColumnPolicy, Field, keep_everything
from server.forms.models import Form
from server.forms.personal import submission_guard
from server.personal.fields import is_personal_name
from server.personal.guard import FormGuard

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
    guard: FormGuard | None = None  # the caller's view of the form's submissions


def personal_rules(
    session: Session, form: Form, form_fields: list[Field], role: str
) -> PersonalRules | None:
    """The personal fields of a form and how the request's caller sees them: the fields are
    marked for everyone; their values are left out unless the caller is a survivor caseworker
    (``server.personal``), whatever their ``role``."""
    guard = submission_guard(session, form)
    marked = guard.paths | {f.path for f in form_fields if is_personal_name(f.path)}
    policy = (
        keep_everything
        if guard.access.may_read
        else personal_columns_dropped(frozenset(marked), keep_everything)
    )
    return PersonalRules(frozenset(marked), policy, guard)


def column_policy(rules: PersonalRules | None) -> ColumnPolicy:
    return rules.policy if rules is not None else keep_everything


def hidden_paths(rules: PersonalRules | None, fields: list[Field], role: str) -> frozenset[str]:
    """The fields whose values a page must not show to ``role`` (dropped or pseudonymised in
    exports): the same decision as the export's, field by field."""
    if rules is None:
        return frozenset()
    return frozenset(f.path for f in fields if rules.policy(f, role) is not ColumnAction.KEEP)
