"""Every figure of Forms F, G and H, the Monitor and the 3W matrix for the year in
tests/reports/conftest.py, computed by hand from the reports sent there, compared cell by cell.

How the expected tables were computed (2026, approved reports only, minimum cell size 5):

- Hazard areas on 31 December (latest approved report of the year or before): HA-0001
  suspected, 8,000 m² left after its re-survey cancelled 2,000 (its clearance of 3,000 m² is not
  approved); HA-0002 in clearance, 20,000 - 5,000 reduced - 10,000 - 1,000 cleared = 4,000;
  HA-0003 cleared at completion, HA-0005 cleared in October; HA-0004 has no cluster munition
  remnants, so it is not in Form F (its 2,000 m² cleared count in the Monitor's "all").
- Destroyed: BLU-26 3 (TS) + 4 (clearance) + 2 (EOD spot task) = 9; BLU-97 5; M77 2; a failed
  cluster munition 1 (a remnant, not a submunition); PMN 2; the 60 mm mortar bomb removed by the
  TS counts once, when the later-destruction report destroys it; the RPG handed over does not.
  Submunitions 9 + 5 + 2 = 16.
- Risk education: the November session is not approved; the two others hold 50 and 42 people.
- Casualties: accident 1 (April) 6, accident 2 (July) 5; the one of 30 December 2025 is not in
  2026. Only "injured, male, adult, civilian" (3 + 2) reaches 5.
"""

from __future__ import annotations

from typing import Any

from tests.reports.conftest import HA, Coalition


def _no_cells_of(rows: list[dict[str, Any]], *drop: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in drop} for row in rows]


SUPPRESSED = {"count": None, "suppressed": True}

CONTAMINATED = [
    {"admin1": "LA09", "admin2": "LA0901", "hazard_type": "sha", "status": "suspected",
     "count": 1, "area_m2": 8000.0, "area_km2": 0.008},
    {"admin1": "LA09", "admin2": "LA0902", "hazard_type": "cha", "status": "in_clearance",
     "count": 1, "area_m2": 4000.0, "area_km2": 0.004},
]  # fmt: skip
RELEASED = [
    {"admin1": "LA09", "admin2": "LA0901", "cancelled_m2": 2000.0, "reduced_m2": 0.0,
     "cleared_m2": 3000.0, "cancelled_km2": 0.002, "reduced_km2": 0.0, "cleared_km2": 0.003},
    {"admin1": "LA09", "admin2": "LA0902", "cancelled_m2": 0.0, "reduced_m2": 5000.0,
     "cleared_m2": 11000.0, "cancelled_km2": 0.0, "reduced_km2": 0.005, "cleared_km2": 0.011},
    {"admin1": "LA15", "admin2": "LA1501", "cancelled_m2": 1000.0, "reduced_m2": 0.0,
     "cleared_m2": 4000.0, "cancelled_km2": 0.001, "reduced_km2": 0.0, "cleared_km2": 0.004},
]  # fmt: skip
DESTROYED = [
    {"category": "ap_mine", "model": "pmn", "quantity": 2},
    {"category": "cmr", "model": "blu_26", "quantity": 9},
    {"category": "cmr", "model": "blu_97", "quantity": 5},
    {"category": "cmr", "model": "failed_cm", "quantity": 1},
    {"category": "cmr", "model": "m77", "quantity": 2},
    {"category": "uxo", "model": "mortar_60", "quantity": 1},
]
F_TOTALS = {
    "contaminated_areas": 2,
    "contaminated_area_m2": 12000.0,
    "cancelled_m2": 3000.0,
    "reduced_m2": 5000.0,
    "cleared_m2": 18000.0,
    "submunitions_destroyed": 16,
    "devices_destroyed": 20,
}
BENEFICIARIES = [
    ("female", "0-9", 5), ("female", "10-17", 27), ("female", "18-45", 10), ("female", "46+", 3),
    ("male", "0-9", 6), ("male", "10-17", 30), ("male", "18-45", 9), ("male", "46+", 2),
]  # fmt: skip
CASUALTIES = [
    ("injured", "female", "adult", "civilian", SUPPRESSED),
    ("injured", "male", "adult", "civilian", {"count": 5}),
    ("injured", "male", "adult", "deminer", SUPPRESSED),
    ("injured", "male", "child", "civilian", SUPPRESSED),
    ("killed", "male", "adult", "military", SUPPRESSED),
    ("killed", "male", "child", "civilian", SUPPRESSED),
    ("unknown", "unknown", "unknown", "civilian", SUPPRESSED),
]
REFERRALS = [
    ("livelihood", "open"), ("medical", "completed"), ("medical", "in_progress"),
    ("prosthesis", "open"),
]  # fmt: skip


def test_article7_every_cell_of_forms_f_g_h_and_i(coalition: Coalition) -> None:
    answer = coalition.get("/reports/article7?year=2026")
    assert answer.status_code == 200, answer.data
    report = answer.get_json()
    assert (report["year"], report["approved_only"]) == (2026, True)
    assert report["generated_at"]
    f = report["form_f"]
    assert f["contaminated_areas"] == CONTAMINATED
    assert f["land_released"] == RELEASED
    assert f["destroyed"] == DESTROYED
    assert f["totals"] == F_TOTALS

    g = report["form_g"]
    assert g["sessions"] == 2
    assert g["beneficiaries"] == [
        {"sex": s, "age_band": b, "count": n} for s, b, n in BENEFICIARIES
    ]
    assert g["totals"] == {"beneficiaries": 92}
    assert g["by_method"] == [
        {"method": "face_to_face", "sessions": 1, "beneficiaries": 50},
        {"method": "school_lesson", "sessions": 1, "beneficiaries": 42},
    ]
    assert g["by_admin_area"] == [
        {"admin1": "LA09", "admin2": "LA0901", "sessions": 1, "beneficiaries": 50},
        {"admin1": "LA15", "admin2": "LA1501", "sessions": 1, "beneficiaries": 42},
    ]

    h = report["form_h"]
    assert h["casualties"] == [
        {"outcome": o, "sex": s, "age_group": a, "group": grp, **count}
        for o, s, a, grp, count in CASUALTIES
    ]
    assert h["survivors_assessed"] == 2
    assert h["referrals"] == [{"need": n, "status": s, **SUPPRESSED} for n, s in REFERRALS]
    assert h["totals"] == {"killed": 2, "injured": 8, "unknown": 1}
    # Survivors only as aggregates: nothing personal, no code, anywhere in the report.
    text = answer.get_data(as_text=True)
    assert "SV-000" not in text and "Not In Any Report" not in text

    # Form I comes from the donor package; without it, the key holds an empty list.
    assert isinstance(report["form_i"]["funding"], list)


def test_every_report_or_only_the_approved_ones(coalition: Coalition) -> None:
    everything = coalition.get("/reports/article7?year=2026&approved_only=false").get_json()
    assert everything["approved_only"] is False
    f = everything["form_f"]
    # HA-0001's unapproved clearance now counts: 3,000 m² more cleared in Pek, 5,000 m² left.
    assert f["contaminated_areas"][0] == {
        "admin1": "LA09", "admin2": "LA0901", "hazard_type": "sha", "status": "in_clearance",
        "count": 1, "area_m2": 5000.0, "area_km2": 0.005,
    }  # fmt: skip
    assert f["land_released"][0]["cleared_m2"] == 6000.0
    assert f["totals"]["cleared_m2"] == 21000.0
    assert everything["form_g"]["sessions"] == 3
    assert everything["form_g"]["totals"] == {"beneficiaries": 102}

    # The project's own default: every report; the query still overrides it.
    admin = coalition.client.put(
        coalition.api("/reports/settings"),
        json={"approved_only": False, "min_cell_size": 1},
        headers=coalition.admin.headers,
    )
    assert admin.status_code == 200, admin.data
    default = coalition.get("/reports/article7?year=2026").get_json()
    assert default["approved_only"] is False and default["form_g"]["sessions"] == 3
    strict = coalition.get("/reports/article7?year=2026&approved_only=true").get_json()
    assert strict["form_g"]["sessions"] == 2
    # A minimum cell size of 1 shows every count.
    assert strict["form_h"]["referrals"] == [
        {"need": n, "status": s, "count": 1} for n, s in REFERRALS
    ]
    assert [c["count"] for c in strict["form_h"]["casualties"]] == [1, 5, 1, 1, 1, 1, 1]


def test_explain_names_the_submissions_behind_each_figure(coalition: Coalition) -> None:
    report = coalition.get("/reports/article7?year=2026&explain=1").get_json()
    sent = coalition.sent
    pek, kham, _sekong = report["form_f"]["land_released"]
    assert pek["submissions"] == sorted(
        [sent["ha1 resurvey"], sent["ha1 new"], sent["ha5 clearance"]]
    )
    assert kham["submissions"] == sorted(
        [sent["ha2 new"], sent["ha2 ts"], sent["ha2 clearance mag"], sent["ha2 clearance halo"]]
    )
    areas = report["form_f"]["contaminated_areas"]
    assert [a["hazard_areas"] for a in areas] == [["HA-0001"], ["HA-0002"]]
    assert areas[1]["submissions"] == [sent["ha2 clearance halo"]]
    blu26 = report["form_f"]["destroyed"][1]
    assert blu26["submissions"] == sorted(
        [sent["ha2 ts"], sent["ha2 clearance mag"], sent["eod spot"]]
    )
    # A suppressed cell names nobody.
    casualties = report["form_h"]["casualties"]
    assert "submissions" not in casualties[0]
    assert casualties[1]["submissions"] == sorted([sent["accident 1"], sent["accident 2"]])


def test_monitor_figures(coalition: Coalition) -> None:
    answer = coalition.get("/reports/monitor?year=2026")
    assert answer.status_code == 200, answer.data
    m = answer.get_json()
    assert m["land_released"] == {
        "cmr": {"cancelled_m2": 3000.0, "cancelled_km2": 0.003, "reduced_m2": 5000.0,
                "reduced_km2": 0.005, "cleared_m2": 18000.0, "cleared_km2": 0.018,
                "released_m2": 26000.0, "released_km2": 0.026},
        "all": {"cancelled_m2": 3000.0, "cancelled_km2": 0.003, "reduced_m2": 5000.0,
                "reduced_km2": 0.005, "cleared_m2": 20000.0, "cleared_km2": 0.02,
                "released_m2": 28000.0, "released_km2": 0.028},
    }  # fmt: skip
    assert m["submunitions_destroyed"] == 16
    assert m["devices_destroyed"] == [
        {"category": "ap_mine", "quantity": 2},
        {"category": "cmr", "quantity": 17},
        {"category": "uxo", "quantity": 1},
    ]
    assert m["casualties"] == {
        "total": 11, "killed": 2, "injured": 8, "unknown": 1,
        "civilian": {"count": 9}, "deminer": SUPPRESSED, "military": SUPPRESSED,
        "group_unknown": {"count": 0}, "children": SUPPRESSED, "adults": {"count": 8},
        "age_unknown": SUPPRESSED, "female": SUPPRESSED, "male": {"count": 9},
        "sex_unknown": SUPPRESSED,
    }  # fmt: skip


Z = {"cancelled_m2": 0.0, "reduced_m2": 0.0, "cleared_m2": 0.0}
NO_EORE = {f"eore_{s}_{b}": 0 for s in ("female", "male") for b in ("0-9", "10-17", "18-45", "46+")}
NO_LAND = {f"land_{s}_{a}": 0 for s, a in (("female", "adult"), ("male", "adult"),
                                             ("female", "child"), ("male", "child"))}  # fmt: skip


def _row(
    op: str, act: str, a1: str, a2: str, status: str, areas: int, reports: int, **kw: Any
) -> dict[str, Any]:
    row = {"operator": op, "activity": act, "admin1": a1, "admin2": a2, "period": "2026"}
    row |= {"status": status, "hazard_areas": areas, "reports": reports, **Z}
    row |= {k: v for k, v in kw.items() if k in Z}
    released = sum(row[k] for k in Z)
    row |= {"released_m2": released, "released_km2": round(released / 1e6, 6)}
    row |= {"devices_destroyed": kw.get("devices", 0), **NO_EORE, **NO_LAND, "donor": ""}
    row |= {k: v for k, v in kw.items() if k.startswith(("eore_", "land_"))}
    return row


WHO_WHAT_WHERE = [
    _row("HALO", "clearance", "LA09", "LA0902", "ongoing", 1, 1, cleared_m2=1000.0),
    _row("HALO", "clearance", "LA15", "LA1501", "ongoing", 1, 1, cleared_m2=2000.0, devices=2),
    _row("HALO", "completion", "LA15", "LA1501", "completed", 1, 1, cancelled_m2=1000.0,
         cleared_m2=4000.0, land_female_adult=3, land_male_adult=4, land_female_child=2,
         land_male_child=1),
    _row("HALO", "nts", "LA15", "LA1501", "ongoing", 2, 2),
    _row("MAG", "clearance", "LA09", "LA0902", "ongoing", 1, 1, cleared_m2=10000.0, devices=7),
    _row("MAG", "eod_destruction", "", "", "completed", 0, 1, devices=1),
    _row("MAG", "eore", "LA09", "LA0901", "completed", 0, 1, **{
        "eore_female_0-9": 5, "eore_male_0-9": 6, "eore_female_10-17": 7, "eore_male_10-17": 8,
        "eore_female_18-45": 10, "eore_male_18-45": 9, "eore_female_46+": 3, "eore_male_46+": 2}),
    _row("MAG", "nts", "LA09", "LA0901", "ongoing", 1, 2, cancelled_m2=2000.0),
    _row("MAG", "nts", "LA09", "LA0902", "ongoing", 1, 1),
    _row("MAG", "ts", "LA09", "LA0902", "ongoing", 1, 1, reduced_m2=5000.0, devices=3),
    _row("NPA", "clearance", "LA09", "LA0901", "completed", 1, 1, cleared_m2=3000.0, devices=5),
    _row("NPA", "eod_spot", "LA15", "LA1501", "completed", 0, 1, devices=2),
    _row("NPA", "eore", "LA15", "LA1501", "completed", 0, 1, **{
        "eore_female_10-17": 20, "eore_male_10-17": 22}),
]  # fmt: skip


def test_who_what_where_matrix_and_its_overlap(coalition: Coalition) -> None:
    answer = coalition.get("/reports/who-what-where?year=2026")
    assert answer.status_code == 200, answer.data
    matrix = answer.get_json()
    assert (matrix["period"], matrix["from"], matrix["to"]) == ("2026", "2026-01-01", "2026-12-31")
    assert len(matrix["rows"]) == len(WHO_WHAT_WHERE)
    for got, expected in zip(matrix["rows"], WHO_WHAT_WHERE, strict=True):
        assert got == expected
    # MAG and HALO both cleared on HA-0002 in 2026: the one overlap.
    assert matrix["overlaps"] == [
        {"type": "two_operators_one_area", "hazard_area": HA[2], "ha_code": "HA-0002",
         "admin1": "LA09", "admin2": "LA0902", "operators": ["HALO", "MAG"],
         "submissions": sorted([coalition.sent["ha2 ts"], coalition.sent["ha2 clearance mag"],
                                coalition.sent["ha2 clearance halo"]]),
         "from_taskings": False},
    ]  # fmt: skip

    # By operator and admin area, over a quarter.
    q3 = coalition.get("/reports/who-what-where?quarter=2026-Q3&operator=HALO&admin=LA09")
    assert q3.status_code == 200, q3.data
    rows = q3.get_json()["rows"]
    assert [(r["operator"], r["activity"], r["admin2"], r["period"]) for r in rows] == [
        ("HALO", "clearance", "LA0902", "2026-Q3")
    ]
    assert rows[0]["cleared_m2"] == 1000.0

    # Taskings: HALO is tasked on HA-0003 and HA-0004 only, MAG on HA-0001 and HA-0002.
    for operator, n in (("HALO", 3), ("HALO", 4), ("MAG", 1), ("MAG", 2)):
        made = coalition.client.post(
            coalition.api("/reports/taskings"),
            json={"operator": operator, "hazard_area": HA[n], "start_date": "2026-01-01",
                  "end_date": "2026-12-31", "task_id": f"T-{n}"},
            headers=coalition.coordinator.headers,
        )  # fmt: skip
        assert made.status_code == 201, made.data
    overlaps = coalition.get("/reports/who-what-where?year=2026").get_json()["overlaps"]
    assert [(o["type"], o["ha_code"], o["operators"]) for o in overlaps] == [
        ("two_operators_one_area", "HA-0002", ["HALO", "MAG"]),
        ("outside_tasking", "HA-0002", ["HALO"]),
    ]
    assert overlaps[1]["submissions"] == [coalition.sent["ha2 clearance halo"]]
    assert overlaps[1]["date"] == "2026-07-05"


def test_strategy_targets_progress_and_projection(coalition: Coalition) -> None:
    headers = coalition.coordinator.headers
    for body in (
        {"label": "Release 50,000 m²", "metric": "released_m2", "target_value": 50000,
         "start_date": "2026-01-01", "target_date": "2027-12-31"},
        {"label": "Close 3 areas in Sekong", "metric": "areas_closed", "target_value": 3,
         "start_date": "2026-01-01", "target_date": "2026-12-31", "admin_pcode": "LA15"},
    ):  # fmt: skip
        assert coalition.client.post(coalition.api("/reports/strategy/targets"), json=body,
                                     headers=headers).status_code == 201  # fmt: skip
    targets = coalition.get("/reports/strategy?as_of=2026-12-31").get_json()["targets"]
    released, closed = targets
    # 28,000 m² in 365 days (76.7123 a day); 22,000 m² left take 287 more days.
    assert {k: released[k] for k in ("achieved", "percent", "rate_per_day")} == {
        "achieved": 28000.0,
        "percent": 56.0,
        "rate_per_day": 76.7123,
    }
    assert (released["projected_completion"], released["on_track"]) == ("2027-10-14", True)
    # HA-0003 closed in Sekong; at one a year, two more take until 30 December 2028.
    assert (closed["achieved"], closed["percent"]) == (1.0, 33.33)
    assert (closed["projected_completion"], closed["on_track"]) == ("2028-12-30", False)
    # Refused with the field named.
    bad = coalition.client.post(
        coalition.api("/reports/strategy/targets"),
        json={"label": "x", "metric": "hectares", "target_value": -1,
              "start_date": "2026-01-01", "target_date": "2025-01-01"},
        headers=headers,
    )  # fmt: skip
    assert bad.status_code == 400
    assert set(bad.get_json()["errors"]) == {"metric", "target_value"}
