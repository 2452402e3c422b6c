"""The summary kept at intake (report_sums, report_area_states; ADR 0017) equals a
recomputation from the facts after every path that changes facts: intake, an edit replacing a
report's facts, a review decision, a hazard report moving an area's place, `reports
rebuild-facts`. And a figure read from the summary equals the same figure summed from the facts
(``explain`` reads the facts), with and without unapproved reports, for whole and partial
months."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from click.testing import CliRunner
from sqlalchemy import delete, select

from server.cli import main as cli_main
from server.reports.models import ReportAreaState, ReportFact, ReportItem, ReportSum
from server.reports.outputs import Scope, counted, facts_counted, land_released
from tests.reports.conftest import HA, Coalition, _area, device
from tests.reports.test_outputs_and_refusals import _env

Key = tuple[Any, ...]


def _expected(session: Any, project_id: int) -> tuple[dict[Key, list[float]], set[Key]]:
    """The summary and the area states, recomputed in Python from the facts."""
    sums: dict[Key, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0, 0])
    facts = session.scalars(select(ReportFact).where(ReportFact.project_id == project_id)).all()
    by_id = {f.id: f for f in facts}

    def key(f: ReportFact) -> Key:
        return (
            f.fact_date.replace(day=1), f.approved, f.kind, f.organisation or "",
            f.admin1 or "", f.admin2 or "", f.hazard_area is not None, f.eore_method or "",
        )  # fmt: skip

    for f in facts:
        row = sums[(*key(f), "", "", "", "", "", "", "")]
        row[0] += 1
        row[1] += f.cancelled_m2
        row[2] += f.reduced_m2
        row[3] += f.cleared_m2
    items = session.scalars(select(ReportItem).where(ReportItem.fact_id.in_(list(by_id)))).all()
    for i in items:
        item = (i.kind, i.category, i.model, i.sex, i.age, i.grp, i.outcome)
        row = sums[(*key(by_id[i.fact_id]), *item)]
        row[4] += 1
        row[5] += i.quantity
    states: set[Key] = set()
    areas = {f.hazard_area for f in facts if f.hazard_area}
    for area in areas:
        mine = [f for f in facts if f.hazard_area == area]
        named = [f.fact_date for f in mine if "cmr" in (f.contamination or "")]
        for approved in (False, True):
            counted_ = [f for f in mine if f.status is not None and (f.approved or not approved)]
            latest = max(counted_, key=lambda f: (f.fact_date, f.id), default=None)
            fact_id = latest.id if latest else None
            day = (latest.fact_date - date(1970, 1, 1)).days if latest else 0
            key = day * 2**32 + fact_id if fact_id else None
            states.add((area, approved, key, fact_id, min(named) if named else None))
    return dict(sums), states


def _kept(session: Any, project_id: int) -> tuple[dict[Key, list[float]], set[Key]]:
    s = ReportSum
    sums: dict[Key, list[float]] = {}
    for r in session.scalars(select(s).where(s.project_id == project_id)):
        values = [r.reports, r.cancelled_m2, r.reduced_m2, r.cleared_m2, r.items, r.quantity]
        if r.reports == 0 and r.items == 0:
            # What was taken away entirely leaves a row of zeros, which counts nothing.
            assert [round(v, 6) for v in values] == [0] * 6
            continue
        item = (r.item_kind, r.category, r.model, r.sex, r.age, r.grp, r.outcome)
        sums[
            (r.month, r.approved, r.kind, r.organisation, r.admin1, r.admin2, r.on_area,
             r.eore_method, *item)
        ] = values  # fmt: skip
    st = ReportAreaState
    states = {
        (r.hazard_area, r.approved, r.key, r.fact_id, r.cmr_since)
        for r in session.scalars(select(st).where(st.project_id == project_id))
    }
    return sums, states


def _session(c: Coalition) -> Any:
    return c.client.application.extensions["fieldsync"].session_factory()


def assert_summary_is_the_facts(c: Coalition) -> None:
    with _session(c) as session:
        want_sums, want_states = _expected(session, c.project.id)
        got_sums, got_states = _kept(session, c.project.id)
    assert want_sums, "no facts to compare"
    assert {k: [round(v, 6) for v in vs] for k, vs in got_sums.items()} == {
        k: [round(v, 6) for v in vs] for k, vs in want_sums.items()
    }
    assert got_states == want_states


def test_the_summary_follows_every_change_to_the_facts(coalition: Coalition) -> None:
    c = coalition
    # Intake and approval of the year's reports (clearance reports placed by their area's
    # hazard report).
    assert_summary_is_the_facts(c)

    # A late hazard report moves HA-0004 (and the facts of its clearance) to another district.
    moved = _area(4, "HA-0004", "sha", "suspected", "ap_mine", 6000)
    moved |= {"admin1_pcode": "LA09", "admin2_pcode": "LA0902", "admin_area": "LA0902"}
    c.send("ha4 resurvey", "hazard_report", {"organisation": "HALO", "report_mode": "new_area"},
           entity=HA[4], values=moved, date="2026-06-01")  # fmt: skip
    assert_summary_is_the_facts(c)
    with _session(c) as session:
        places = set(
            session.execute(
                select(ReportFact.admin2).where(ReportFact.hazard_area == HA[4])
            ).scalars()
        )
    assert places == {"LA0902"}

    # An edit replaces a report's facts (other m², other devices, another month).
    c.send(
        "ha2 clearance mag edited", "clearance_report",
        {"organisation": "MAG", "task_id": "T-2", "hazard_area": HA[2], "method": "clearance",
         "area_cleared_m2": "7000", "area_cancelled_m2": "0", "area_reduced_asset_m2": "0",
         "area_reduced_no_asset_m2": "0", "area_adjustment_m2": "0"},
        entity=HA[2], date="2026-05-20", edit_of=c.sent["ha2 clearance mag"],
        values={"status": "in_clearance", "remaining_area_m2": "8000", "hazard_type": "cha",
                "contamination_types": "cmr uxo"},
        repeats={"devices": [device("cmr", "blu_26", 6)]},
    )  # fmt: skip
    with _session(c) as session:
        edited = session.scalar(
            select(ReportFact.cleared_m2).where(ReportFact.fact_date == date(2026, 5, 20))
        )
    assert edited == 7000.0
    assert_summary_is_the_facts(c)

    # Review decisions flip what counts as approved, both ways.
    c.review("clearance_report", c.sent["ha1 clearance unapproved"], "approved")
    assert_summary_is_the_facts(c)
    c.review("clearance_report", c.sent["ha1 clearance unapproved"], "rejected")
    c.review("eore_session", c.sent["eore 1"], "has_issues")
    assert_summary_is_the_facts(c)

    # Rebuilding recomputes a summary that went wrong.
    with _session(c) as session:
        session.execute(delete(ReportSum))
        session.execute(delete(ReportAreaState))
        session.commit()
    result = CliRunner().invoke(
        cli_main,
        ["reports", "rebuild-facts", "--project", str(c.project.id)],
        env=_env(c.client.application),
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert_summary_is_the_facts(c)


SCOPES = [
    (date(2026, 1, 1), date(2026, 12, 31)),  # whole months only
    (date(2026, 1, 15), date(2026, 7, 10)),  # days before and after the whole months
    (date(2026, 6, 5), date(2026, 6, 25)),  # within a month: facts only
    (date(2025, 1, 1), date(2027, 12, 31)),
]
FOLDS: list[tuple[str, Any]] = [
    ("land by place", lambda s, sc, e: land_released(s, sc, ("admin1", "admin2"), explain=e)),
    ("land by operator", lambda s, sc, e: land_released(s, sc, ("operator", "activity"),
                                                        explain=e)),
    ("destroyed", lambda s, sc, e: counted(s, sc, "destroyed", ("category", "model"),
                                           explain=e)),
    ("eore people", lambda s, sc, e: counted(s, sc, "eore", ("method", "admin2", "sex", "age"),
                                             explain=e)),
    ("casualties", lambda s, sc, e: counted(s, sc, "casualty", ("outcome", "grp", "age", "sex"),
                                            explain=e)),
    ("land beneficiaries", lambda s, sc, e: counted(s, sc, "land_beneficiary",
                                                    ("operator", "sex", "age"), explain=e)),
    ("sessions", lambda s, sc, e: facts_counted(s, sc, ("eore",), ("method", "admin1"),
                                                explain=e)),
]  # fmt: skip


def test_figures_from_the_summary_equal_the_figures_from_the_facts(coalition: Coalition) -> None:
    c = coalition
    checked = 0
    with _session(c) as session:
        for start, end in SCOPES:
            for approved_only in (True, False):
                for admin, operator in ((None, None), (frozenset({"LA09"}), None),
                                        (None, "MAG")):  # fmt: skip
                    scope = Scope(c.project.id, start, end, approved_only, admin, operator)
                    for name, fold in FOLDS:
                        summed = {k: v.values for k, v in fold(session, scope, False).items()}
                        from_facts = {k: v.values for k, v in fold(session, scope, True).items()}
                        assert summed == from_facts, (name, scope)
                        checked += bool(summed)
    assert checked > 50  # most of them have figures
