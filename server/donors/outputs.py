"""What funded work produced: m² released, devices destroyed, people reached by risk education.

One function, :func:`compute_outputs`, computes the outputs of any number of scopes (a funding
agreement's hazard areas, activities and admin areas over its period) from the reporting tables
the intake keeps (``report_facts`` and ``report_items``, ADR 0017), by the same rules as the
coalition's reports (ADR 0018): two grouped passes in SQL for all the scopes at once, whatever
the number of reports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from server.reports.models import ReportFact, ReportItem
from server.reports.outputs import AnyOf, fact_filters, instance_ids
from server.reports.outputs import Scope as FactScope

REPORT_FORMS = (
    "hazard_report",
    "clearance_report",
    "completion_report",
    "eod_report",
    "eore_session",
)
# eore_session's participant counts: (sex, age band), in the order the report lists them
EORE_CELLS = (
    ("female", "0-9"),
    ("male", "0-9"),
    ("female", "10-17"),
    ("male", "10-17"),
    ("female", "18-45"),
    ("male", "18-45"),
    ("female", "46+"),
    ("male", "46+"),
)


@dataclass(frozen=True)
class Scope:
    """What an agreement funds: reports dated ``start``..``end`` (inclusive) on one of these
    hazard areas (entity ids), activities (tasking order numbers) or admin areas (P-codes)."""

    start: date
    end: date
    hazard_areas: frozenset[str] = frozenset()
    activities: frozenset[str] = frozenset()
    admin_areas: frozenset[str] = frozenset()

    def any_of(self) -> AnyOf:
        return AnyOf(self.hazard_areas, self.activities, self.admin_areas)


@dataclass
class Outputs:
    cancelled_m2: float = 0.0
    reduced_m2: float = 0.0
    cleared_m2: float = 0.0
    destroyed: Counter[tuple[str, str]] = field(default_factory=Counter)
    eore_sessions: int = 0
    beneficiaries: Counter[tuple[str, str]] = field(default_factory=Counter)
    reports: int = 0
    first_date: date | None = None  # of the first report counted (IATI's actual start)
    sources: list[dict[str, Any]] = field(default_factory=list)  # with explain

    @property
    def released_m2(self) -> float:
        return self.cancelled_m2 + self.reduced_m2 + self.cleared_m2

    def to_json(self) -> dict[str, Any]:
        return {
            "cancelled_m2": round(self.cancelled_m2, 2),
            "reduced_m2": round(self.reduced_m2, 2),
            "cleared_m2": round(self.cleared_m2, 2),
            "released_m2": round(self.released_m2, 2),
            "released_km2": round(self.released_m2 / 1_000_000, 6),
            "devices_destroyed": sum(self.destroyed.values()),
            "destroyed": [
                {"category": c, "model": m, "quantity": q}
                for (c, m), q in sorted(self.destroyed.items())
            ],
            "eore_sessions": self.eore_sessions,
            "people_reached": sum(self.beneficiaries.values()),
            "beneficiaries": [
                {"sex": sex, "age_band": band, "count": self.beneficiaries[(sex, band)]}
                for sex, band in EORE_CELLS
            ],
            "reports": self.reports,
        }


def compute_outputs(
    session: Session,
    project_id: int,
    scopes: Sequence[Scope],
    *,
    approved_only: bool = True,
    explain: bool = False,
) -> tuple[list[Outputs], Outputs]:
    """The outputs of each scope in the order of ``scopes``, and of all of them together (each
    report once); with ``explain``, each with its ``sources`` (the reports behind it).

    Which reports count (the reporting tables' rules, ADR 0017 and 0018):

    - the current version of each submission of ``hazard_report``, ``clearance_report``,
      ``completion_report``, ``eod_report`` and ``eore_session`` in the project; with
      ``approved_only`` (the default, IMSMA's rule) only those a data verifier approved;
    - dated by their ``date_of_information`` (a later destruction by its ``destruction_date``),
      inside the scope's period, both ends included;
    - about a hazard area of the scope, or under one of its activities (the report's
      ``task_id``), or placed in one of its admin areas (P-codes at any level, admin1 to
      admin3). A report about a hazard area is placed where the latest hazard report naming
      the area puts it; a later destruction where its item was found (the report that removed
      the item, by tag reference); other reports by their own P-codes. A scope with none of
      the three holds nothing.

    What they count:

    - m² released: cancelled, reduced (``area_reduced_m2``, else with and without a technical
      asset) and cleared areas of clearance and completion reports; a hazard report's
      ``area_cancelled_m2`` (a re-survey that cancels land). Released is their sum.
    - devices destroyed: ``devices`` items (clearance and EOD reports) destroyed in situ, and
      an EOD report's ``destroyed_items`` (items removed earlier), by quantity (a row with a
      blank quantity is one device). Items still held in a store are not destroyed.
    - people reached: the eight participant counts of each ``eore_session`` (female and male by
      age band 0-9, 10-17, 18-45, 46+), and the number of sessions.

    A report counts once per scope however many of the scope's criteria it meets.
    """
    results = [Outputs() for _ in scopes]
    together = Outputs()
    if not scopes:
        return results, together
    if session.get_bind().dialect.name == "postgresql":
        # As the coalition reports do (ADR 0017): the grouped passes' hash aggregates stay in
        # memory, and these one-off queries are not compiled.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text("SET LOCAL jit = off"))
    period = FactScope(
        project_id,
        min(s.start for s in scopes),
        max(s.end for s in scopes),
        approved_only=approved_only,
    )
    where = [*fact_filters(period), ReportFact.form.in_(REPORT_FORMS)]
    chunked = len(scopes) > MASK_BITS
    for first in range(0, len(scopes), MASK_BITS):
        chunk = scopes[first : first + MASK_BITS]
        _fold(
            session,
            where,
            chunk,
            results[first : first + MASK_BITS],
            Outputs() if chunked else together,
        )
    if chunked:  # the total over chunks, each report once: a pass of its own
        _fold(session, where, [_Union(scopes)], [Outputs()], together)
    if explain:
        for first in range(0, len(scopes), MASK_BITS):
            chunk = scopes[first : first + MASK_BITS]
            _explain(session, where, chunk, results[first : first + MASK_BITS])
    return results, together


# The reports that carry devices destroyed or risk-education participants.
ITEM_KINDS = ("ts", "clearance", "bac", "eod_spot", "eod_destruction", "eore")
# A report's scopes are one integer (bit n: in scope n), computed once per report and grouped
# by, so each agreement's condition is evaluated once per report however many sums use it.
MASK_BITS = 60


@dataclass(frozen=True)
class _Union:
    """Any of several scopes (the donor's total when it has more agreements than MASK_BITS)."""

    scopes: Sequence[Scope]

    def condition(self) -> ColumnElement[bool]:
        return or_(*(_condition(s) for s in self.scopes))


def _mask(scopes: Sequence[Scope | _Union]) -> ColumnElement[int]:
    terms = [
        case((s.condition() if isinstance(s, _Union) else _condition(s), 1 << n), else_=0)
        for n, s in enumerate(scopes)
    ]
    total: ColumnElement[int] = terms[0]
    for term in terms[1:]:
        total = total + term
    return total.label("mask")


def _fold(
    session: Session,
    where: list[ColumnElement[bool]],
    scopes: Sequence[Scope | _Union],
    results: list[Outputs],
    together: Outputs,
) -> None:
    """Two grouped passes (the reports, then their items) by scope mask; each group is added
    to the scopes of its bits and, once, to ``together``."""
    f, i = ReportFact, ReportItem
    mask = _mask(scopes)
    facts = (
        select(
            mask,
            func.count().label("reports"),
            func.sum(f.cancelled_m2).label("cancelled"),
            func.sum(f.reduced_m2).label("reduced"),
            func.sum(f.cleared_m2).label("cleared"),
            func.count(case((f.kind == "eore", f.id))).label("sessions"),
            func.min(f.fact_date).label("first"),
        )
        .where(*where)
        .group_by(literal_column("mask"))  # the label: its expression is not written twice
    )
    for row in session.execute(facts):
        for out in _targets(row.mask, results, together):
            out.reports += int(row.reports or 0)
            out.cancelled_m2 += float(row.cancelled or 0.0)
            out.reduced_m2 += float(row.reduced or 0.0)
            out.cleared_m2 += float(row.cleared or 0.0)
            out.eore_sessions += int(row.sessions or 0)
            if row.first is not None and (out.first_date is None or row.first < out.first_date):
                out.first_date = row.first
    # The items of the reports in some scope: their masks first (once per report, and only the
    # reports that carry such items), then the items joined to those few.
    chosen = select(f.id, mask).where(*where, f.kind.in_(ITEM_KINDS)).subquery()
    key = (i.kind, i.category, i.model, i.sex, i.age)
    items = (
        select(chosen.c.mask, *key, func.sum(i.quantity).label("quantity"))
        .select_from(i)
        .join(chosen, chosen.c.id == i.fact_id)
        .where(chosen.c.mask != 0, i.kind.in_(("destroyed", "eore")))
        .group_by(chosen.c.mask, *key)
    )
    for item in session.execute(items):
        quantity = int(item.quantity or 0)
        for out in _targets(item.mask, results, together) if quantity else ():
            if item.kind == "destroyed":
                out.destroyed[(item.category, item.model)] += quantity
            else:
                out.beneficiaries[(item.sex, item.age)] += quantity


def _targets(mask: int | None, results: list[Outputs], together: Outputs) -> list[Outputs]:
    mask = int(mask or 0)
    if not mask:
        return []
    return [out for n, out in enumerate(results) if mask >> n & 1] + [together]


def _condition(scope: Scope) -> ColumnElement[bool]:
    f = ReportFact
    return and_(f.fact_date >= scope.start, f.fact_date <= scope.end, scope.any_of().condition(f))


def _explain(
    session: Session,
    where: list[ColumnElement[bool]],
    scopes: Sequence[Scope],
    results: list[Outputs],
) -> None:
    """Each scope's reports: form, instanceID, the tag references a later destruction
    destroyed, date, hazard area, task and P-codes."""
    f, i = ReportFact, ReportItem
    chosen = (
        select(
            f.id, f.submission_id, f.form, f.kind, f.fact_date, f.hazard_area, f.task_id,
            f.admin1, f.admin2, f.admin3, _mask(scopes),
        )
        .where(*where)
        .subquery()
    )  # fmt: skip
    rows = session.execute(
        select(chosen)
        .where(chosen.c.mask != 0)
        .order_by(chosen.c.fact_date, chosen.c.submission_id)
    ).all()
    names = instance_ids(session, (r.submission_id for r in rows))
    destroyed: dict[int, list[str]] = {}
    later = [r.id for r in rows if r.kind == "eod_destruction"]
    for start in range(0, len(later), 500):
        for fact_id, ref in session.execute(
            select(i.fact_id, i.item_key)
            .where(i.fact_id.in_(later[start : start + 500]), i.kind == "destroyed")
            .order_by(i.id)
        ):
            if ref:
                destroyed.setdefault(fact_id, []).append(ref)
    for r in rows:
        source = {
            "form": r.form,
            "instance_id": names.get(r.submission_id, ""),
            "item": " ".join(destroyed[r.id]) if r.id in destroyed else None,
            "date": r.fact_date.isoformat(),
            "hazard_area": r.hazard_area or None,
            "task_id": r.task_id or None,
            "admin_areas": [code for code in (r.admin1, r.admin2, r.admin3) if code],
        }
        for out in _targets(r.mask, results, Outputs())[:-1]:  # not the throwaway total
            out.sources.append(source)
