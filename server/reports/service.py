"""The reports' use cases: build a report from a query, and manage what reports rely on (the
project's report settings, strategy targets, taskings).

A report is built from a mapping of query parameters, so the API and ``fieldsync-server
reports`` refuse the same input the same way. Every parameter is checked before anything is
computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from server import errors
from server.db import utcnow
from server.gazetteer import core as gazetteer_core
from server.gazetteer import service as gazetteer
from server.projects.models import Project
from server.reports import params
from server.reports.article7 import article7
from server.reports.document import Report
from server.reports.models import ReportFact, ReportSettings, StrategyTarget, Tasking
from server.reports.monitor import monitor
from server.reports.outputs import Scope, instance_ids
from server.reports.strategy import NewTarget, check_target, progress
from server.reports.who_what_where import who_what_where

REPORTS = ("article7", "monitor", "who-what-where", "strategy")
_ACCEPTED = {
    "article7": frozenset({"year"}),
    "monitor": frozenset({"year"}),
    "who-what-where": frozenset({"year", "quarter", "month", "from", "to", "admin", "operator"}),
    "strategy": frozenset({"as_of", "admin"}),
}
_TITLES = {
    "article7": "CCM Article 7 transparency report",
    "monitor": "Landmine and Cluster Munition Monitor figures",
    "who-what-where": "Who does what where (3W/4W)",
    "strategy": "National strategy: progress against targets",
}


@dataclass(frozen=True)
class Settings:
    approved_only: bool = True
    min_cell_size: int = 5


def settings_of(session: Session, project_id: int) -> Settings:
    row = session.get(ReportSettings, project_id)
    if row is None:
        return Settings()
    return Settings(row.approved_only, row.min_cell_size)


def update_settings(
    session: Session,
    project_id: int,
    *,
    approved_only: bool | None = None,
    min_cell_size: int | None = None,
) -> Settings:
    """Raises: Problem 400 ``request.invalid`` for a minimum cell size below 1 or above 100."""
    if min_cell_size is not None and not 1 <= min_cell_size <= 100:
        raise errors.invalid_input({"min_cell_size": ["a whole number from 1 to 100"]})
    row = session.get(ReportSettings, project_id)
    if row is None:
        row = ReportSettings(project_id=project_id, approved_only=True, min_cell_size=5)
        session.add(row)
    if approved_only is not None:
        row.approved_only = approved_only
    if min_cell_size is not None:
        row.min_cell_size = min_cell_size
    row.updated_at = utcnow()
    session.flush()
    return Settings(row.approved_only, row.min_cell_size)


def build(
    session: Session,
    project: Project,
    kind: str,
    args: Mapping[str, str],
    *,
    today: date | None = None,
) -> Report:
    """The report ``kind`` for the query ``args``.

    Raises:
        Problem: 400 ``report.bad_period`` / ``report.bad_filter``; 404
            ``report.unknown_admin_area`` / ``report.unknown_operator``.
    """
    now = utcnow()
    today = today or now.date()
    accepted = _ACCEPTED[kind]
    params.check_parameters(args, accepted)
    if session.get_bind().dialect.name == "postgresql":
        # Grouping a year of a large programme's facts: let the sorts and hash aggregates of
        # this one transaction stay in memory (PostgreSQL's default is 4 MB); compiling these
        # one-off queries (JIT) costs more than it saves.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text("SET LOCAL jit = off"))
    settings = settings_of(session, project.id)
    approved_only = params.flag(args, "approved_only", settings.approved_only)
    explain = params.flag(args, "explain", False)
    admin = _admin(session, project.id, args.get("admin"))
    operator = _operator(session, project.id, args.get("operator"))
    filters = {k: v for k, v in args.items() if k not in ("format", "explain")}
    minimum = settings.min_cell_size
    header: dict[str, Any] = {"approved_only": approved_only}
    if kind == "strategy":
        as_of = _as_of(args.get("as_of"), today)
        data, tables = progress(session, project.id, as_of, approved_only, admin, explain)
        period = f"up to {as_of.isoformat()}"
    else:
        allowed = (
            frozenset({"year"})
            if kind in ("article7", "monitor")
            else frozenset({"year", "quarter", "month", "range"})
        )
        chosen = params.parse_period(args, allowed=allowed, today=today)
        scope = Scope(
            project.id,
            chosen.start,
            chosen.end,
            approved_only,
            admin_areas=frozenset({admin}) if admin else None,
            operator=operator,
        )
        period = chosen.label
        sources: dict[int, str] = {}
        if kind == "article7":
            header = {"year": chosen.start.year, **header}
            data, tables = article7(session, scope, minimum, explain, sources)
        elif kind == "monitor":
            header = {"year": chosen.start.year, **header}
            data, tables = monitor(session, scope, minimum, explain)
        else:
            header = {"period": period, "from": chosen.start.isoformat()}
            header |= {"to": chosen.end.isoformat(), "approved_only": approved_only}
            data, tables = who_what_where(session, scope, period, explain)
            data.pop("period", None)
    _name_submissions(session, data)
    report = Report(
        kind=kind,
        title=_TITLES[kind],
        project_name=project.name,
        period=period,
        generated_at=now,
        approved_only=approved_only,
        filters=filters,
        data={},
        tables=tables,
        min_cell_size=minimum,
    )
    report.data = {
        **header,
        "generated_at": now.isoformat(timespec="seconds"),
        "min_cell_size": minimum,
        "filters": filters,
        **data,
    }
    return report


def _name_submissions(session: Session, data: Any) -> None:
    """Replace the submission ids a figure names with their instanceIDs (one query)."""
    lists: list[list[Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "submissions" and isinstance(value, list):
                    lists.append(value)
                elif isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                if isinstance(value, dict | list):
                    walk(value)

    walk(data)
    names = instance_ids(session, {i for ids in lists for i in ids if isinstance(i, int)})
    for ids in lists:
        ids[:] = sorted(names.get(i, str(i)) for i in ids)


def _as_of(raw: str | None, today: date) -> date:
    if raw is None or not raw.strip():
        return today
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise errors.report_bad_period(
            f"as_of must be a date written YYYY-MM-DD, not {raw!r}"
        ) from None


def _admin(session: Session, project_id: int, pcode: str | None) -> str | None:
    """Raises: Problem 404 for a P-code the project's gazetteer does not have."""
    if pcode is None:
        return None
    pcode = pcode.strip()
    areas = {a.pcode for a in gazetteer.project_areas(session, project_id)} or _bundled()
    if pcode not in areas:
        raise errors.report_unknown_admin_area(pcode)
    return pcode


@lru_cache(maxsize=1)
def _bundled() -> frozenset[str]:
    return frozenset(a.pcode for a in gazetteer_core.load_file(gazetteer_core.BUNDLED_GAZETTEER))


def _operator(session: Session, project_id: int, operator: str | None) -> str | None:
    """Raises: Problem 404 for an organisation no report of the project names."""
    if operator is None:
        return None
    found = session.scalar(
        select(ReportFact.id)
        .where(ReportFact.project_id == project_id, ReportFact.organisation == operator)
        .limit(1)
    )
    if found is None:
        raise errors.report_unknown_operator(operator)
    return operator


# --- strategy targets and taskings ---------------------------------------------------------------


def add_target(session: Session, project_id: int, target: NewTarget) -> StrategyTarget:
    """Raises: Problem 400 naming each wrong field; 404 for an unknown admin area."""
    check_target(target)
    if target.admin_pcode:
        _admin(session, project_id, target.admin_pcode)
    row = StrategyTarget(project_id=project_id, **vars(target))
    session.add(row)
    session.flush()
    return row


def list_targets(session: Session, project_id: int) -> list[StrategyTarget]:
    return list(
        session.scalars(
            select(StrategyTarget)
            .where(StrategyTarget.project_id == project_id)
            .order_by(StrategyTarget.id)
        )
    )


def remove_target(session: Session, project_id: int, target_id: int) -> None:
    """Raises: Problem 404 for a target the project does not have."""
    done = session.execute(
        delete(StrategyTarget).where(
            StrategyTarget.project_id == project_id, StrategyTarget.id == target_id
        )
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise errors.not_found(
            "Strategy target", f"this project has no strategy target {target_id}"
        )


def target_json(row: StrategyTarget) -> dict[str, Any]:
    return {
        "id": row.id,
        "label": row.label,
        "admin_pcode": row.admin_pcode,
        "metric": row.metric,
        "target_value": row.target_value,
        "start_date": row.start_date.isoformat(),
        "target_date": row.target_date.isoformat(),
    }


def add_tasking(
    session: Session,
    project_id: int,
    *,
    operator: str,
    hazard_area: str,
    start_date: date,
    end_date: date,
    task_id: str = "",
) -> Tasking:
    """Raises: Problem 400 naming each wrong field."""
    wrong: dict[str, list[str]] = {}
    if not operator.strip() or len(operator) > 200:
        wrong["operator"] = ["1 to 200 characters"]
    if not hazard_area.strip() or len(hazard_area) > 64:
        wrong["hazard_area"] = ["the hazard area's id (its entity id), 1 to 64 characters"]
    if end_date < start_date:
        wrong["end_date"] = ["on or after start_date"]
    if wrong:
        raise errors.invalid_input(wrong)
    row = Tasking(
        project_id=project_id,
        operator=operator.strip(),
        hazard_area=hazard_area.strip(),
        task_id=task_id,
        start_date=start_date,
        end_date=end_date,
    )
    session.add(row)
    session.flush()
    return row


def list_taskings(session: Session, project_id: int) -> list[Tasking]:
    return list(
        session.scalars(
            select(Tasking).where(Tasking.project_id == project_id).order_by(Tasking.id)
        )
    )


def tasking_json(row: Tasking) -> dict[str, Any]:
    return {
        "id": row.id,
        "operator": row.operator,
        "hazard_area": row.hazard_area,
        "task_id": row.task_id,
        "start_date": row.start_date.isoformat(),
        "end_date": row.end_date.isoformat(),
    }
