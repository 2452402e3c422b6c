"""CCM Article 7 transparency report for a calendar year: Forms F (contamination and
clearance), G (risk education), H (victim assistance, aggregates only) and I (funding).

Form F counts areas some report (up to 31 December) names cluster munition remnants on: the
areas still open on 31 December, as the latest report of the year (or before) leaves them, and
the m² cancelled, reduced and cleared on them by reports dated in the year. Destroyed
devices are every category (submunitions and other remnants). The JSON keys are an interface
(docs/reports.md): keys may be added, never renamed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from server.reports import funding
from server.reports.document import Table, km2, m2
from server.reports.outputs import (
    NOT_SUBMUNITIONS,
    Scope,
    Sum,
    area_totals,
    area_views,
    counted,
    facts_counted,
    land_released,
)
from server.reports.people import casualty_rows, referral_rows, survivors_assessed

_KM2 = ["cancelled_km2", "reduced_km2", "cleared_km2"]
EORE_SEXES = ("female", "male")
EORE_BANDS = ("0-9", "10-17", "18-45", "46+")


def article7(
    session: Session, scope: Scope, minimum: int, explain: bool, sources: dict[int, str]
) -> tuple[dict[str, Any], list[Table]]:
    """The four forms as JSON (``sources`` collects the submissions figures name) and the
    tables printed from them."""
    form_f = _form_f(session, scope, explain, sources)
    form_g = _form_g(session, scope, explain, sources)
    form_h = _form_h(session, scope, minimum, explain, sources)
    form_i = {"funding": funding.form_i_funding(session, scope.project_id, scope.start.year)}
    data = {"form_f": form_f, "form_g": form_g, "form_h": form_h, "form_i": form_i}
    return data, tables(data)


def _form_f(
    session: Session, scope: Scope, explain: bool, sources: dict[int, str]
) -> dict[str, Any]:
    contaminated: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    if not explain:
        # Counted in SQL: a country's tens of thousands of areas need not come to Python.
        by = ("admin1", "admin2", "hazard_type", "status")
        totals = area_totals(session, scope, by, is_open=True, cmr_only=True)
        for key4, (count, area_m2) in totals.items():
            contaminated[(key4[0], key4[1], key4[2], key4[3])] = dict(
                zip(by, key4, strict=True)
            ) | {"count": count, "area_m2": area_m2, "_areas": [], "_subs": set()}
    for view in area_views(session, scope, is_open=True, cmr_only=True) if explain else ():
        key = (view.admin1, view.admin2, view.hazard_type, view.status)
        row = contaminated.setdefault(
            key,
            {"admin1": key[0], "admin2": key[1], "hazard_type": key[2], "status": key[3]}
            | {"count": 0, "area_m2": 0.0, "_areas": [], "_subs": set()},
        )
        row["count"] += 1
        row["area_m2"] += view.remaining_m2
        row["_areas"].append(view.ha_code or view.hazard_area)
        row["_subs"].add(view.submission_id)
    areas_rows = []
    for key in sorted(contaminated):
        row = contaminated[key]
        row["area_m2"] = m2(row["area_m2"])
        row["area_km2"] = km2(row["area_m2"])
        areas, subs = sorted(row.pop("_areas")), row.pop("_subs")
        if explain:
            row["hazard_areas"] = areas
            row["submissions"] = _named(subs, sources)
        areas_rows.append(row)

    released = land_released(session, scope, ("admin1", "admin2"), cmr_only=True, explain=explain)
    released_rows = []
    for (admin1, admin2), sums in sorted(released.items()):
        row = {"admin1": admin1, "admin2": admin2}
        for name in ("cancelled_m2", "reduced_m2", "cleared_m2"):
            row[name] = m2(sums.values.get(name, 0.0))
            row[name.replace("_m2", "_km2")] = km2(sums.values.get(name, 0.0))
        _explain(row, sums, explain, sources)
        released_rows.append(row)

    destroyed = counted(session, scope, "destroyed", ("category", "model"), explain=explain)
    destroyed_rows = []
    for (category, model), sums in sorted(destroyed.items()):
        row = {"category": category, "model": model, "quantity": int(sums.values["count"])}
        _explain(row, sums, explain, sources)
        destroyed_rows.append(row)

    return {
        "contaminated_areas": areas_rows,
        "land_released": released_rows,
        "destroyed": destroyed_rows,
        "totals": {
            "contaminated_areas": sum(r["count"] for r in areas_rows),
            "contaminated_area_m2": m2(sum(r["area_m2"] for r in areas_rows)),
            "cancelled_m2": m2(sum(r["cancelled_m2"] for r in released_rows)),
            "reduced_m2": m2(sum(r["reduced_m2"] for r in released_rows)),
            "cleared_m2": m2(sum(r["cleared_m2"] for r in released_rows)),
            "submunitions_destroyed": sum(
                r["quantity"]
                for r in destroyed_rows
                if r["category"] == "cmr" and r["model"] not in NOT_SUBMUNITIONS
            ),
            "devices_destroyed": sum(r["quantity"] for r in destroyed_rows),
        },
    }


def _form_g(
    session: Session, scope: Scope, explain: bool, sources: dict[int, str]
) -> dict[str, Any]:
    # One query for the participants and one for the sessions; every table is a roll-up.
    people = counted(
        session, scope, "eore", ("method", "admin1", "admin2", "sex", "age"), explain=explain
    )
    sessions = facts_counted(
        session, scope, ("eore",), ("method", "admin1", "admin2"), explain=explain
    )
    cells = _rollup(people, (3, 4))
    beneficiaries = []
    for sex in EORE_SEXES:
        for band in EORE_BANDS:
            sums = cells.get((sex, band), Sum())
            row = {"sex": sex, "age_band": band, "count": int(sums.values.get("count", 0))}
            _explain(row, sums, explain, sources)
            beneficiaries.append(row)
    method_people = _rollup(people, (0,))
    by_method = []
    for (method,), sums in sorted(_rollup(sessions, (0,)).items()):
        row = {"method": method, "sessions": int(sums.values["count"])}
        row["beneficiaries"] = int(method_people.get((method,), Sum()).values.get("count", 0))
        _explain(row, sums, explain, sources)
        by_method.append(row)
    admin_people = _rollup(people, (1, 2))
    by_admin = [
        {
            "admin1": key[0],
            "admin2": key[1],
            "sessions": int(sums.values["count"]),
            "beneficiaries": int(admin_people.get(key, Sum()).values.get("count", 0)),
        }
        for key, sums in sorted(_rollup(sessions, (1, 2)).items())
    ]
    return {
        "sessions": sum(r["sessions"] for r in by_method),
        "beneficiaries": beneficiaries,
        "by_method": by_method,
        "by_admin_area": by_admin,
        "totals": {"beneficiaries": sum(r["count"] for r in beneficiaries)},
    }


def _form_h(
    session: Session, scope: Scope, minimum: int, explain: bool, sources: dict[int, str]
) -> dict[str, Any]:
    casualties, by_outcome = casualty_rows(session, scope, minimum, explain, sources)
    totals = {"killed": 0, "injured": 0, "unknown": 0} | by_outcome
    return {
        "casualties": casualties,
        "survivors_assessed": survivors_assessed(session, scope),
        "referrals": referral_rows(session, scope, minimum),
        "totals": totals,
    }


def _rollup(
    folded: dict[tuple[str, ...], Sum], positions: tuple[int, ...]
) -> dict[tuple[str, ...], Sum]:
    """``folded`` summed again by the key parts at ``positions``."""
    rolled: dict[tuple[str, ...], Sum] = {}
    for key, sums in folded.items():
        target = rolled.setdefault(tuple(key[i] for i in positions), Sum())
        for name, value in sums.values.items():
            target.add(name, value)
        target.submissions |= sums.submissions
        target.hazard_areas |= sums.hazard_areas
    return rolled


def _explain(row: dict[str, Any], sums: Sum, explain: bool, sources: dict[int, str]) -> None:
    if explain:
        row["submissions"] = _named(sums.submissions, sources)


def _named(submission_ids: set[int], sources: dict[int, str]) -> list[Any]:
    """Placeholders filled with instanceIDs once every figure is computed (one query)."""
    for sid in submission_ids:
        sources.setdefault(sid, "")
    return sorted(submission_ids)


def tables(data: dict[str, Any]) -> list[Table]:
    f, g, h, i = data["form_f"], data["form_g"], data["form_h"], data["form_i"]
    return [
        Table(
            "form_f.contaminated_areas",
            "Form F: areas contaminated by cluster munition remnants (31 December)",
            "Form F",
            ["admin1", "admin2", "hazard_type", "status", "count", "area_m2", "area_km2"],
            f["contaminated_areas"],
        ),
        Table(
            "form_f.land_released",
            "Form F: land released in the year",
            "Form F",
            ["admin1", "admin2", "cancelled_m2", "reduced_m2", "cleared_m2", *_KM2],
            f["land_released"],
        ),
        Table(
            "form_f.destroyed",
            "Form F: submunitions and other remnants destroyed",
            "Form F",
            ["category", "model", "quantity"],
            f["destroyed"],
        ),
        Table("form_f.totals", "Form F: totals", "Form F", list(f["totals"]), [f["totals"]]),
        Table(
            "form_g.beneficiaries",
            f"Form G: risk education ({g['sessions']} sessions), beneficiaries by sex and age",
            "Form G",
            ["sex", "age_band", "count"],
            g["beneficiaries"],
        ),
        Table(
            "form_g.by_method",
            "Form G: by method",
            "Form G",
            ["method", "sessions", "beneficiaries"],
            g["by_method"],
        ),
        Table(
            "form_g.by_admin_area",
            "Form G: by admin area",
            "Form G",
            ["admin1", "admin2", "sessions", "beneficiaries"],
            g["by_admin_area"],
        ),
        Table(
            "form_h.casualties",
            "Form H: casualties in the year",
            "Form H",
            ["outcome", "sex", "age_group", "group", "count"],
            h["casualties"],
        ),
        Table(
            "form_h.referrals",
            f"Form H: referrals by need and status ({h['survivors_assessed']} survivors assessed)",
            "Form H",
            ["need", "status", "count"],
            h["referrals"],
        ),
        Table(
            "form_h.totals",
            "Form H: totals",
            "Form H",
            ["killed", "injured", "unknown"],
            [{**h["totals"]}],
        ),
        Table(
            "form_i.funding",
            "Form I: international cooperation and assistance",
            "Form I",
            ["donor", "iati_org_ref", "currency", "committed", "disbursed"],
            i["funding"],
        ),
    ]
