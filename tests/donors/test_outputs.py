"""The one rule book (ADR 0018) on the reporting tables: what a device row counts, where a later
destruction is placed whichever report arrives first, and the OR of an agreement's criteria."""

from __future__ import annotations

from datetime import date

from lxml import etree
from sqlalchemy import select

from server.db import transaction
from server.donors.outputs import Scope, compute_outputs
from server.reports import facts
from server.reports.extract import extract
from server.reports.models import ReportFact
from tests.donors.conftest import Coalition, _clearance, _device
from tests.reports.test_summary import assert_summary_is_the_facts


def test_a_device_row_with_a_blank_quantity_is_one_device_and_a_held_one_keeps_its_tag() -> None:
    root = etree.fromstring(
        b"<data><date_of_information>2026-03-01</date_of_information><hazard_area>ha-1"
        b"</hazard_area><method>clearance</method><land_released><area_reduced_asset_m2>5"
        b"</area_reduced_asset_m2><area_reduced_no_asset_m2>7.5</area_reduced_no_asset_m2>"
        b"</land_released>"
        b"<devices><device_category>cmr</device_category><device_model>m42</device_model>"
        b"<quantity></quantity><disposal>destroyed_in_situ</disposal></devices>"
        b"<devices><device_category>cmr</device_category><device_model>m77</device_model>"
        b"<quantity>0</quantity><disposal>destroyed_in_situ</disposal></devices>"
        b"<devices><device_category>cmr</device_category><device_model>m77</device_model>"
        b"<quantity>3</quantity><disposal>removed_for_destruction</disposal>"
        b"<holding_ref>EO-1</holding_ref></devices><meta><instanceID>u1</instanceID></meta></data>"
    )
    fact = extract("clearance_report", root)
    assert fact is not None
    assert fact.reduced_m2 == 12.5
    # m42: blank -> 1 (the form asks for at least one); m77 "0": as given, nothing.
    assert [(i.kind, i.model, i.item_key, i.quantity) for i in fact.items] == [
        ("destroyed", "m42", "", 1),
        ("held", "m77", "EO-1", 0),
    ]


def test_a_report_names_its_village_for_an_agreement_scoped_by_one() -> None:
    root = etree.fromstring(
        b"<data><date_of_information>2026-03-01</date_of_information><admin1>LA09</admin1>"
        b"<admin2>LA0901</admin2><admin3>LA090105</admin3><girls_0_9>3</girls_0_9>"
        b"<meta><instanceID>u2</instanceID></meta></data>"
    )
    fact = extract("eore_session", root)
    assert fact is not None
    assert (fact.admin1, fact.admin2, fact.admin3) == ("LA09", "LA0901", "LA090105")


def test_a_later_destruction_is_placed_where_found_whichever_arrives_first(
    field_year: Coalition,
) -> None:
    c = field_year
    # d1 (in the fixture) destroyed EO-TAG00001, found by c1 on HA-0001 (LA09/LA0901).
    with c.factories.session() as session:
        d1 = session.execute(
            select(ReportFact.hazard_area, ReportFact.admin1, ReportFact.admin2).where(
                ReportFact.project_id == c.project.id, ReportFact.kind == "eod_destruction"
            )
        ).one()
    assert tuple(d1) == (c.areas["HA-0001"], "LA09", "LA0901")
    # A destruction that arrives before the report that found its item: unplaced, then placed
    # when the clearance report comes (HA-0003, LA13/LA1301).
    c.receive(
        "d2",
        "eod_report",
        {
            "date_of_information": "2026-09-02",
            "organisation": "NPA",
            "task_id": "T-77",
            "report_type": "later_destruction",
            "destruction_date": "2026-09-02",
        },
        repeats={
            "devices": [],
            "destroyed_items": [
                {
                    "destroyed_item_id": "item-2",
                    "destroyed_holding_ref": "EO-TAG00002",
                    "destroyed_category": "uxo",
                    "destroyed_model": "mortar_60",
                    "destroyed_quantity": 2,
                    "destruction_method": "demolition",
                }
            ],
        },
    )

    def d2_place() -> tuple[object, ...]:
        with c.factories.session() as session:
            return tuple(
                session.execute(
                    select(ReportFact.hazard_area, ReportFact.admin1, ReportFact.admin2)
                    .where(ReportFact.project_id == c.project.id)
                    .where(ReportFact.kind == "eod_destruction", ReportFact.task_id == "T-77")
                ).one()
            )

    assert d2_place() == (None, None, None)
    assert_summary_is_the_facts(c)
    _clearance(
        c,
        "c6",
        "HA-0003",
        "T-06",
        "2026-08-20",
        (0, 0, 0, 10),
        [_device("uxo", "mortar_60", 2, "removed_for_destruction", "EO-TAG00002")],
    )
    assert d2_place() == (c.areas["HA-0003"], "LA13", "LA1301")
    # The reports' summary moved it too: it equals a recomputation from the facts.
    assert_summary_is_the_facts(c)
    # Rebuilding the tables from the stored XML keeps the placement.
    with transaction(c.factories.runtime.session_factory) as session:
        assert facts.rebuild(session, c.project.id) > 0
    assert d2_place() == (c.areas["HA-0003"], "LA13", "LA1301")
    with c.factories.session() as session:
        (hz3_scope,), together = compute_outputs(
            session,
            c.project.id,
            [Scope(date(2026, 9, 1), date(2026, 9, 30), admin_areas=frozenset({"LA1301"}))],
        )
    # Only d2 is dated in September: its 2 mortar bombs count in the district they came from.
    assert hz3_scope.to_json()["destroyed"] == [
        {"category": "uxo", "model": "mortar_60", "quantity": 2}
    ]
    assert (hz3_scope.reports, together.reports) == (1, 1)


def test_an_agreement_counts_a_report_once_when_it_meets_several_criteria(
    field_year: Coalition,
) -> None:
    c = field_year
    # c1 is on HA-0001, under T-01 and in LA0901: three reasons, one report; c3 only by task.
    both = Scope(
        date(2026, 3, 1),
        date(2026, 6, 30),
        hazard_areas=frozenset({c.areas["HA-0001"]}),
        activities=frozenset({"T-01", "T-03"}),
        admin_areas=frozenset({"LA0901"}),
    )
    nothing = Scope(date(2026, 1, 1), date(2026, 12, 31))
    with c.factories.session() as session:
        (one, none), together = compute_outputs(
            session, c.project.id, [both, nothing], explain=True
        )
    # c1 (100 / 250 / 1000), d1 (T-01, 1 blu_61), c3 (0 / 300 / 5000); c5 is not approved.
    assert (one.reports, one.cancelled_m2, one.reduced_m2, one.cleared_m2) == (3, 100, 550, 6000)
    assert sorted(s["instance_id"] for s in one.sources) == sorted(
        c.instances[k] for k in ("c1", "d1", "c3")
    )
    d1 = next(s for s in one.sources if s["instance_id"] == c.instances["d1"])
    assert (d1["item"], d1["hazard_area"]) == ("EO-TAG00001", c.areas["HA-0001"])
    assert (none.reports, none.sources, together.reports) == (0, [], 3)
