"""The donor report and Form I against figures worked out by hand from the table in
conftest.py, over real HTTP; a donor's users see their own donor only."""

from __future__ import annotations

import csv
import io
from typing import Any

import requests

from server.accounts.models import Role
from server.donors.report import donors_by_hazard_area, form_i_funding
from tests.conftest import LiveServer
from tests.donors.conftest import Coalition
from tests.factories import LoggedIn

BANDS = ("0-9", "10-17", "18-45", "46+")


def _beneficiaries(**cells: int) -> list[dict[str, Any]]:
    return [
        {"sex": sex, "age_band": band, "count": cells.get(f"{sex[0]}{band}", 0)}
        for band in BANDS
        for sex in ("female", "male")
    ]


def _outputs(
    cancelled: float,
    reduced: float,
    cleared: float,
    destroyed: list[tuple[str, str, int]],
    sessions: int,
    beneficiaries: list[dict[str, Any]],
    reports: int,
) -> dict[str, Any]:
    released = cancelled + reduced + cleared
    return {
        "cancelled_m2": cancelled,
        "reduced_m2": reduced,
        "cleared_m2": cleared,
        "released_m2": released,
        "released_km2": round(released / 1e6, 6),
        "devices_destroyed": sum(q for _c, _m, q in destroyed),
        "destroyed": [{"category": c, "model": m, "quantity": q} for c, m, q in destroyed],
        "eore_sessions": sessions,
        "people_reached": sum(b["count"] for b in beneficiaries),
        "beneficiaries": beneficiaries,
        "reports": reports,
    }


# A1: HA-0001 and HA-0002, 2026: hz1, hz2, c1, c2, k1, d1 (placed where c1 found the item).
A1 = _outputs(
    100 + 250,
    200 + 50,
    1000 + 2000 + 500,
    [("cmr", "blu_26", 3), ("cmr", "blu_61", 1), ("uxo", "projectile_105", 2)],
    0,
    _beneficiaries(),
    6,
)
# A2: admin area LA0901, first half of 2026: hz1, c1, d1, e1 (k1 is dated 1 July).
E1 = _beneficiaries(**{"f0-9": 5, "m0-9": 4, "f18-45": 10, "m46+": 3})
A2 = _outputs(100, 250, 1000, [("cmr", "blu_26", 3), ("cmr", "blu_61", 1)], 1, E1, 4)
# A's total: each report once (hz1, c1, d1 are in both): hz1, hz2, c1, c2, k1, d1, e1.
A_TOTAL = _outputs(
    350,
    250,
    3500,
    [("cmr", "blu_26", 3), ("cmr", "blu_61", 1), ("uxo", "projectile_105", 2)],
    1,
    E1,
    7,
)
# B1: task T-03 or province LA13: hz3 (on HA-0003, in LA13), c3, e2; c5 is not approved.
E2 = _beneficiaries(**{"f10-17": 7, "m10-17": 8})
B1 = _outputs(0, 300, 5000, [], 1, E2, 3)


def _get(server: LiveServer, who: LoggedIn, path: str) -> requests.Response:
    return requests.get(server.url + path, headers=who.headers, timeout=30)


def test_the_donor_report_has_the_hand_computed_figures_over_http(
    coalition: Coalition, live_server: LiveServer
) -> None:
    c = coalition
    response = _get(live_server, c.coordinator, f"{c.base}/reports/donors/{c.donors['A']}")
    assert response.status_code == 200
    report = response.json()
    assert report["donor"] == {
        "id": c.donors["A"],
        "name": "United Kingdom FCDO",
        "iati_org_ref": "GB-GOV-1",
    }
    assert report["approved_only"] is True
    assert [a["iati_identifier"] for a in report["agreements"]] == [
        "GB-GOV-1-MA-2026",
        "GB-GOV-1-EORE-2026",
    ]
    assert report["agreements"][0]["outputs"] == A1
    assert report["agreements"][1]["outputs"] == A2
    assert report["totals"] == A_TOTAL
    assert report["agreements"][0]["funding"] == [
        {
            "currency": "USD",
            "commitment": 600000.0,
            "disbursement": 350000.0,
            "expenditure": 90000.0,
        }
    ]
    assert report["funding"] == [
        {"currency": "GBP", "commitment": 80000.0, "disbursement": 40000.0, "expenditure": 0.0},
        {
            "currency": "USD",
            "commitment": 600000.0,
            "disbursement": 350000.0,
            "expenditure": 90000.0,
        },
    ]
    b = _get(live_server, c.coordinator, f"{c.base}/reports/donors/{c.donors['B']}").json()
    assert [a["outputs"] for a in b["agreements"]] == [B1]
    assert b["totals"] == B1


def test_explain_lists_the_reports_behind_each_figure(coalition: Coalition) -> None:
    c = coalition
    report = c.client.get(
        f"{c.base}/reports/donors/{c.donors['B']}?explain=1", headers=c.coordinator.headers
    ).get_json()
    sources = report["agreements"][0]["sources"]
    assert sorted(s["instance_id"] for s in sources) == sorted(
        c.instances[k] for k in ("hz3", "c3", "e2")
    )
    c3 = next(s for s in sources if s["instance_id"] == c.instances["c3"])
    assert c3 == {
        "form": "clearance_report",
        "instance_id": c.instances["c3"],
        "item": None,
        "date": "2026-06-15",
        "hazard_area": c.areas["HA-0003"],
        "task_id": "T-03",
        "admin_areas": ["LA13", "LA1301"],
    }


def test_reports_not_yet_approved_count_only_when_asked(coalition: Coalition) -> None:
    c = coalition
    report = c.client.get(
        f"{c.base}/reports/donors/{c.donors['B']}?approved_only=false",
        headers=c.coordinator.headers,
    ).get_json()
    outputs = report["agreements"][0]["outputs"]
    assert report["approved_only"] is False
    assert outputs["cleared_m2"] == 5000 + 777
    assert outputs["destroyed"] == [{"category": "uxo", "model": "projectile_105", "quantity": 9}]
    assert outputs["reports"] == 4


def test_a_year_cuts_the_periods_and_the_funding(coalition: Coalition) -> None:
    c = coalition
    report = c.client.get(
        f"{c.base}/reports/donors/{c.donors['A']}?year=2025", headers=c.coordinator.headers
    ).get_json()
    assert report["year"] == 2025
    assert report["totals"]["reports"] == 0  # c4 (2025) is outside both agreements' periods
    assert report["funding"] == [
        {"currency": "USD", "commitment": 100000.0, "disbursement": 0.0, "expenditure": 0.0}
    ]


def test_the_csv_has_a_row_per_agreement_and_the_total(coalition: Coalition) -> None:
    c = coalition
    response = c.client.get(
        f"{c.base}/reports/donors/{c.donors['A']}.csv", headers=c.coordinator.headers
    )
    assert response.status_code == 200
    assert response.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["agreement"] for r in rows] == ["GB-GOV-1-MA-2026", "GB-GOV-1-EORE-2026", "total"]
    for row, expected in zip(rows, (A1, A2, A_TOTAL), strict=True):
        assert row["donor"] == "United Kingdom FCDO"
        assert float(row["released_m2"]) == expected["released_m2"]
        assert float(row["cleared_m2"]) == expected["cleared_m2"]
        assert int(row["devices_destroyed"]) == expected["devices_destroyed"]
        assert int(row["people_reached"]) == expected["people_reached"]
        assert int(row["reports"]) == expected["reports"]
    same = c.client.get(
        f"{c.base}/reports/donors/{c.donors['A']}?format=csv", headers=c.coordinator.headers
    )
    assert same.get_data(as_text=True) == response.get_data(as_text=True)


def test_form_i_rows_per_donor_and_currency_for_the_year(coalition: Coalition) -> None:
    c = coalition
    with c.factories.session() as session:
        assert form_i_funding(session, c.project.id, 2026) == [
            {"donor": "UNDP", "iati_org_ref": "XM-DAC-41114", "currency": "USD",
             "committed": 300000.0, "disbursed": 120000.0},
            {"donor": "United Kingdom FCDO", "iati_org_ref": "GB-GOV-1", "currency": "GBP",
             "committed": 80000.0, "disbursed": 40000.0},
            {"donor": "United Kingdom FCDO", "iati_org_ref": "GB-GOV-1", "currency": "USD",
             "committed": 500000.0, "disbursed": 350000.0},
        ]  # fmt: skip
        assert form_i_funding(session, c.project.id, 2025) == [
            {"donor": "United Kingdom FCDO", "iati_org_ref": "GB-GOV-1", "currency": "USD",
             "committed": 100000.0, "disbursed": 0.0},
        ]  # fmt: skip
        assert form_i_funding(session, c.project.id, 2027) == [
            {"donor": "UNDP", "iati_org_ref": "XM-DAC-41114", "currency": "USD",
             "committed": 0.0, "disbursed": 50000.0},
        ]  # fmt: skip
        assert form_i_funding(session, c.project.id, 2024) == []


def _donor_user(c: Coalition, donor: str, role: Role | None = None) -> LoggedIn:
    user = c.factories.user(c.project if role else None, role)
    response = c.client.post(
        f"{c.base}/donors/{c.donors[donor]}/users",
        json={"email": user.email},
        headers=c.coordinator.headers,
    )
    assert response.status_code == 201
    return c.factories.login(user)


def test_a_donor_user_reads_only_its_own_donor_over_http(
    coalition: Coalition, live_server: LiveServer
) -> None:
    c = coalition
    a_user = _donor_user(c, "A")
    b_user = _donor_user(c, "B", Role.VIEWER)  # a role in the project widens nothing
    a, b = c.donors["A"], c.donors["B"]

    own = _get(live_server, a_user, f"{c.base}/reports/donors/{a}")
    assert own.status_code == 200
    assert own.json()["totals"] == A_TOTAL
    assert [d["id"] for d in _get(live_server, a_user, f"{c.base}/donors").json()] == [a]
    assert [d["id"] for d in _get(live_server, b_user, f"{c.base}/donors").json()] == [b]
    for path in (
        f"/reports/donors/{b}",
        f"/reports/donors/{b}.csv",
        f"/donors/{b}",
        f"/donors/{b}/agreements",
        f"/donors/{b}/agreements/{c.agreements['B1']}",
        f"/donors/{b}/agreements/{c.agreements['B1']}/transactions",
        f"/donors/{b}/iati.xml",
        f"/donors/{b}/agreements/{c.agreements['B1']}/iati.xml",
    ):
        refused = _get(live_server, a_user, c.base + path)
        assert refused.status_code == 404, path
        assert refused.headers["Content-Type"].startswith("application/problem+json")
        assert refused.json()["code"] == "not_found"
        assert "released" not in refused.text
    # B's agreement reached through A's URL is not found either.
    crossed = _get(live_server, a_user, f"{c.base}/donors/{a}/agreements/{c.agreements['B1']}")
    assert crossed.status_code == 404
    assert _get(live_server, b_user, f"{c.base}/reports/donors/{a}").status_code == 404

    change = requests.patch(
        f"{live_server.url}{c.base}/donors/{a}",
        json={"name": "x"},
        headers=a_user.headers,
        timeout=30,
    )
    assert change.status_code == 403
    assert change.json()["code"] == "donor.read_only"


def test_who_is_neither_a_donor_user_nor_in_the_project_sees_nothing(
    coalition: Coalition,
) -> None:
    c = coalition
    stranger = c.factories.login(c.factories.user())
    response = c.client.get(f"{c.base}/reports/donors/{c.donors['A']}", headers=stranger.headers)
    assert response.status_code == 404
    viewer = c.factories.logged_in(c.project, Role.VIEWER)
    assert (
        c.client.get(f"{c.base}/reports/donors/{c.donors['A']}", headers=viewer.headers).status_code
        == 200
    )
    made = c.client.post(
        f"{c.base}/donors",
        json={"name": "ECHO", "iati_org_ref": "XI-IATI-EC_ECHO"},
        headers=viewer.headers,
    )
    assert made.status_code == 403
    assert made.get_json()["code"] == "auth.forbidden"
    unauthenticated = c.client.get(f"{c.base}/donors")
    assert unauthenticated.status_code == 401


def test_report_query_refusals_name_the_parameter(coalition: Coalition) -> None:
    c = coalition
    base = f"{c.base}/reports/donors/{c.donors['A']}"
    for query, name in (
        ("year=twenty", "year"),
        ("year=1850", "year"),
        ("province=LA09", "province"),
        ("format=pdf", "format"),
    ):
        response = c.client.get(f"{base}?{query}", headers=c.coordinator.headers)
        assert response.status_code == 400, query
        body = response.get_json()
        assert body["code"] == "request.invalid"
        assert name in body["errors"], query
    missing = c.client.get(f"{c.base}/reports/donors/999999", headers=c.coordinator.headers)
    assert missing.status_code == 404


def test_the_who_what_where_donor_column_names_the_funding_donor(coalition: Coalition) -> None:
    # A1 names HA-0001 and A2 covers its district (LA0901): the United Kingdom; B1 covers
    # Savannakhet (LA13) and tasking order T-03: UNDP. Risk education is about no hazard area.
    c = coalition
    response = c.client.get(
        f"{c.base}/reports/who-what-where?year=2026", headers=c.coordinator.headers
    )
    assert response.status_code == 200, response.get_json()
    donors = {
        (row["activity"], row["admin1"], row["admin2"]): row["donor"]
        for row in response.get_json()["rows"]
    }
    assert donors[("clearance", "LA09", "LA0901")] == "United Kingdom FCDO"
    assert donors[("completion", "LA09", "LA0901")] == "United Kingdom FCDO"
    assert donors[("clearance", "LA13", "LA1301")] == "UNDP"
    assert donors[("eore", "LA09", "LA0901")] == ""
    with c.factories.session() as session:
        by_area = donors_by_hazard_area(session, c.project.id)
    assert by_area[c.areas["HA-0001"]] == ["United Kingdom FCDO"]
    assert by_area[c.areas["HA-0003"]] == ["UNDP"]
