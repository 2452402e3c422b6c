"""Casualties and survivors, only as aggregates: counts by sex, age group, casualty group and
outcome; survivors assessed; referrals by need and status. No row carries a name, a code or a
place finer than the report's own breakdown, and every count of people below the minimum cell
size is suppressed (:func:`server.reports.document.cell`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.reports.document import cell
from server.reports.models import ReportFact, ReportItem
from server.reports.outputs import ITEM_FACT_KINDS, Scope, counted, fact_filters


def casualty_rows(
    session: Session, scope: Scope, minimum: int, explain: bool, sources: dict[int, str]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Casualties of accidents dated in the period by outcome, sex, age group and group, and
    the totals by outcome (not suppressed: national figures)."""
    by = ("outcome", "sex", "age", "grp")
    rows = []
    totals: dict[str, int] = {}
    for key, sums in sorted(counted(session, scope, "casualty", by, explain=explain).items()):
        totals[key[0]] = totals.get(key[0], 0) + int(sums.values["count"])
        row: dict[str, Any] = {"outcome": key[0], "sex": key[1], "age_group": key[2]}
        row["group"] = key[3]
        row.update(cell(sums.values["count"], minimum))
        if explain and not row.get("suppressed"):
            row["submissions"] = sorted(sums.submissions)
            for sid in sums.submissions:
                sources.setdefault(sid, "")
        rows.append(row)
    return rows, totals


def survivors_assessed(session: Session, scope: Scope) -> int:
    """Survivors with a needs assessment in the period, each counted once by survivor code
    (an assessment with consent but without a code counts on its own; one without consent
    was stopped at consent and counts nobody)."""
    f = ReportFact
    where = [*fact_filters(scope), f.kind == "assessment"]
    coded = session.scalar(
        select(func.count(func.distinct(f.survivor_code))).where(
            *where, f.survivor_code.is_not(None)
        )
    )
    uncoded = session.scalar(
        select(func.count()).where(*where, f.survivor_code.is_(None), f.admin1.is_not(None))
    )
    return int(coded or 0) + int(uncoded or 0)


def referral_rows(session: Session, scope: Scope, minimum: int) -> list[dict[str, Any]]:
    """Referrals with a record in the period, by need and by their status at the period's end
    (the latest assessment or follow-up naming them, by date of information)."""
    f, i = ReportFact, ReportItem
    # every record up to the period's end, to know each referral's latest status
    base = Scope(
        scope.project_id,
        scope.start.replace(year=1),
        scope.end,
        scope.approved_only,
        operator=scope.operator,
    )
    rows = session.execute(
        select(i.item_key, i.need, i.status, f.fact_date, f.id)
        .join(f, f.id == i.fact_id)
        .where(*fact_filters(base), f.kind.in_(ITEM_FACT_KINDS["referral"]), i.kind == "referral")
        .order_by(f.fact_date, f.id)
    ).all()
    latest: dict[str, tuple[str, str]] = {}
    in_period: set[str] = set()
    for key, need, status, fact_date, fact_id in rows:
        name = key or f"fact-{fact_id}"
        previous = latest.get(name)
        latest[name] = (previous[0] if previous and need == "other" else need, status)
        if fact_date >= scope.start:
            in_period.add(name)
    counts: dict[tuple[str, str], int] = {}
    for name in in_period:
        counts[latest[name]] = counts.get(latest[name], 0) + 1
    return [
        {"need": need, "status": status, **cell(n, minimum)}
        for (need, status), n in sorted(counts.items())
    ]
