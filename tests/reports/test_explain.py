"""``explain=1`` names the submissions behind the figures of every report that has figures
from submissions: the Monitor's and strategy progress here (Article 7's in test_figures.py),
the 3W matrix's rows; and the figures themselves do not change with it."""

from __future__ import annotations

from typing import Any

from tests.reports.conftest import Coalition

CMR_AREA_REPORTS = [
    "ha1 new", "ha2 new", "ha3 new", "ha1 resurvey", "ha2 ts", "ha2 clearance mag",
    "ha2 clearance halo", "ha3 completion", "ha5 clearance",
]  # fmt: skip
AREA_REPORTS = [*CMR_AREA_REPORTS, "ha4 new", "ha4 clearance"]


def _without_submissions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_submissions(v) for k, v in node.items() if k != "submissions"}
    if isinstance(node, list):
        return [_without_submissions(v) for v in node]
    return node


def test_every_report_names_the_submissions_behind_its_figures(coalition: Coalition) -> None:
    c = coalition

    def named(*names: str) -> list[str]:
        return sorted(c.sent[n] for n in names)

    plain = c.get("/reports/monitor?year=2026").get_json()
    explained = c.get("/reports/monitor?year=2026&explain=1").get_json()
    land = explained["land_released"]
    assert land["cmr"]["submissions"] == named(*CMR_AREA_REPORTS)
    assert land["all"]["submissions"] == named(*AREA_REPORTS)
    assert [(d["category"], d["submissions"]) for d in explained["devices_destroyed"]] == [
        ("ap_mine", named("ha4 clearance")),
        ("cmr", named("ha2 ts", "ha2 clearance mag", "eod spot", "ha5 clearance")),
        ("uxo", named("eod later")),
    ]
    assert explained["casualties"]["submissions"] == named("accident 1", "accident 2")
    assert "submissions" not in plain["land_released"]["cmr"]
    skip = ("generated_at", "filters")
    assert {k: v for k, v in _without_submissions(explained).items() if k not in skip} == {
        k: v for k, v in plain.items() if k not in skip
    }
    csv = c.get("/reports/monitor?year=2026&explain=1&format=csv")
    assert csv.status_code == 200
    assert "# table: casualties" in csv.get_data(as_text=True)

    headers = c.coordinator.headers
    for body in (
        {"label": "Release", "metric": "released_m2", "target_value": 50000,
         "start_date": "2026-01-01", "target_date": "2027-12-31"},
        {"label": "Close in Sekong", "metric": "areas_closed", "target_value": 3,
         "start_date": "2026-01-01", "target_date": "2026-12-31", "admin_pcode": "LA15"},
    ):  # fmt: skip
        made = c.client.post(c.api("/reports/strategy/targets"), json=body, headers=headers)
        assert made.status_code == 201, made.data
    plain = c.get("/reports/strategy?as_of=2026-12-31").get_json()
    released, closed = c.get("/reports/strategy?as_of=2026-12-31&explain=1").get_json()["targets"]
    assert released["submissions"] == named(*AREA_REPORTS)
    assert closed["submissions"] == named("ha3 completion")
    assert _without_submissions([released, closed]) == plain["targets"]
    assert "submissions" not in plain["targets"][0]

    rows = c.get("/reports/who-what-where?year=2026&explain=1").get_json()["rows"]
    by_key = {(r["operator"], r["activity"], r["admin2"]): r["submissions"] for r in rows}
    assert by_key[("MAG", "clearance", "LA0902")] == named("ha2 clearance mag")
    assert by_key[("NPA", "eore", "LA1501")] == named("eore 2")
