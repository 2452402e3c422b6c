"""The output arithmetic on plain records: scope, period ends, each report once."""

from __future__ import annotations

from collections import Counter
from datetime import date

from lxml import etree

from server.donors.outputs import FieldRecord, Scope, in_scope, read_report, total

SCOPE = Scope(
    start=date(2026, 1, 1),
    end=date(2026, 6, 30),
    hazard_areas=frozenset({"ha-1"}),
    activities=frozenset({"T-9"}),
    admin_areas=frozenset({"LA13"}),
)


def _record(key: str, on: date | None, **kwargs: object) -> FieldRecord:
    return FieldRecord(key=key, form_id="clearance_report", on=on, **kwargs)  # type: ignore[arg-type]


def test_a_record_is_in_scope_by_area_activity_or_place_inside_the_period() -> None:
    inside = date(2026, 3, 1)
    assert in_scope(_record("a", inside, hazard_area="ha-1"), SCOPE)
    assert in_scope(_record("b", inside, task_id="T-9"), SCOPE)
    assert in_scope(_record("c", inside, admin=("LA13", "LA1301")), SCOPE)
    assert not in_scope(_record("d", inside, hazard_area="ha-2", admin=("LA09",)), SCOPE)
    assert in_scope(_record("e", date(2026, 1, 1), hazard_area="ha-1"), SCOPE)
    assert in_scope(_record("f", date(2026, 6, 30), hazard_area="ha-1"), SCOPE)
    assert not in_scope(_record("g", date(2026, 7, 1), hazard_area="ha-1"), SCOPE)
    assert not in_scope(_record("h", None, hazard_area="ha-1"), SCOPE)
    assert not in_scope(_record("i", inside), Scope(start=SCOPE.start, end=SCOPE.end))


def test_a_report_counts_once_in_a_total() -> None:
    one = _record("x", date(2026, 2, 1), cleared_m2=100.0, destroyed=Counter({("cmr", "m77"): 2}))
    other = _record("y", date(2026, 2, 2), cancelled_m2=40.0)
    out = total([one, other, one])
    assert (out.reports, out.cleared_m2, out.released_m2) == (2, 100.0, 140.0)
    assert out.to_json()["devices_destroyed"] == 2


def test_only_devices_destroyed_in_situ_count_and_held_ones_keep_their_tag() -> None:
    root = etree.fromstring(
        b"<data><date_of_information>2026-03-01</date_of_information><hazard_area>ha-1"
        b"</hazard_area><land_released><area_reduced_asset_m2>5</area_reduced_asset_m2>"
        b"<area_reduced_no_asset_m2>7.5</area_reduced_no_asset_m2></land_released>"
        b"<devices><device_category>cmr</device_category><device_model>m42</device_model>"
        b"<quantity>4</quantity><disposal>destroyed_in_situ</disposal></devices>"
        b"<devices><device_category>cmr</device_category><device_model>m77</device_model>"
        b"<quantity>3</quantity><disposal>removed_for_destruction</disposal>"
        b"<holding_ref>EO-1</holding_ref></devices><meta><instanceID>u1</instanceID></meta></data>"
    )
    (record,) = read_report("clearance_report", "u1", root, {"ha-1": ("LA09", "LA0901")})
    assert record.reduced_m2 == 12.5
    assert record.destroyed == Counter({("cmr", "m42"): 4})
    assert record.holding_refs == ("EO-1",)
    assert record.admin == ("LA09", "LA0901")
