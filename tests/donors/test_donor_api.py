"""Creating, reading and changing donors, agreements and transactions; refusals name the
field in problem+json."""

from __future__ import annotations

from typing import Any

import pytest

from tests.donors.conftest import Coalition


def _agreement(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "iati_identifier": "GB-GOV-1-2026-9",
        "title": "Clearance in Pek",
        "amount": 1000,
        "currency": "USD",
        "period_start": "2026-01-01",
        "period_end": "2026-12-31",
        "admin_areas": ["LA0901"],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def _refused(
    c: Coalition, method: str, path: str, body: dict[str, Any], status: int = 400
) -> dict[str, Any]:
    response = c.client.open(c.base + path, method=method, json=body, headers=c.coordinator.headers)
    assert response.status_code == status, response.get_json()
    assert response.content_type == "application/problem+json"
    return response.get_json()  # type: ignore[no-any-return]


@pytest.fixture
def uk(field_year: Coalition) -> Coalition:
    c = field_year
    c.donors["A"] = c.post("/donors", {"name": "UK", "iati_org_ref": "GB-GOV-1"})["id"]
    return c


@pytest.mark.parametrize(
    ("ref", "ok"),
    [
        ("GB-GOV-1", True),
        ("XM-DAC-41114", True),
        ("XI-IATI-EC_ECHO", True),
        ("GB-COH-01234567", True),
        ("GBGOV1", False),
        ("gb-gov-1", False),
        ("GB-GOV", False),
        ("GB GOV 1", False),
        ("XM-DAC-", False),
    ],
)
def test_the_iati_organisation_identifier_must_have_its_form(
    field_year: Coalition, ref: str, ok: bool
) -> None:
    c = field_year
    response = c.client.post(
        f"{c.base}/donors",
        json={"name": "Donor", "iati_org_ref": ref},
        headers=c.coordinator.headers,
    )
    if ok:
        assert response.status_code == 201
        assert response.get_json()["iati_org_ref"] == ref
    else:
        assert response.status_code == 400
        body = response.get_json()
        assert body["code"] == "request.invalid"
        assert list(body["errors"]) == ["iati_org_ref"]
        assert "IATI organisation identifier" in body["errors"]["iati_org_ref"][0]


def test_a_donor_is_recorded_once_per_identifier(uk: Coalition) -> None:
    body = _refused(uk, "POST", "/donors", {"name": "UK again", "iati_org_ref": "GB-GOV-1"}, 409)
    assert body["code"] == "donor.exists"
    assert body["field"] == "iati_org_ref"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"amount": -1}, "amount", "negative"),
        ({"amount": "lots"}, "amount", "number"),
        ({"currency": "XYZ"}, "currency", "ISO 4217"),
        ({"currency": "usd"}, "currency", "ISO 4217"),
        ({"iati_identifier": "XM-DAC-41114-1"}, "iati_identifier", "GB-GOV-1-"),
        ({"iati_identifier": "GB-GOV-1-"}, "iati_identifier", "identifier"),
        ({"period_end": "2025-12-31"}, "period_end", "before"),
        ({"period_start": "2026-02-30"}, "period_start", "date"),
        ({"admin_areas": ["LA99"]}, "admin_areas", "gazetteer"),
        ({"admin_areas": ["Pek"]}, "admin_areas", "P-code"),
        ({"hazard_areas": ["HA-9999"]}, "hazard_areas", "HA-9999"),
        ({"recipient_country": "Laos"}, "recipient_country", "ISO 3166"),
        ({"participating_orgs": [{"name": "NPA", "role": 5}]}, "participating_orgs", "role"),
        ({"participating_orgs": [{"name": "NPA", "role": 4, "iati_org_ref": "NPA"}]},
         "participating_orgs", "IATI organisation identifier"),
        ({"title": None}, "title", "required"),
        ({"colour": "red"}, "colour", "Unknown"),
    ],
)  # fmt: skip
def test_an_agreement_refusal_names_the_field(
    uk: Coalition, changes: dict[str, Any], field: str, words: str
) -> None:
    body = _refused(uk, "POST", f"/donors/{uk.donors['A']}/agreements", _agreement(**changes))
    assert body["code"] == "request.invalid"
    assert field in body["errors"], body
    assert field in body["detail"]
    assert words in str(body["errors"][field])
    listed = uk.client.get(
        f"{uk.base}/donors/{uk.donors['A']}/agreements", headers=uk.coordinator.headers
    )
    assert listed.get_json() == []  # nothing was stored


def test_agreements_are_created_read_and_changed(uk: Coalition) -> None:
    c = uk
    a = c.donors["A"]
    made = c.post(
        f"/donors/{a}/agreements",
        _agreement(
            hazard_areas=["HA-0001", c.areas["HA-0002"]],
            activities=["T-01", "T-01"],
            participating_orgs=[{"name": "NPA", "role": 4, "iati_org_ref": "NO-BRC-971277882"}],
        ),
    )
    assert made["hazard_areas"] == [c.areas["HA-0001"], c.areas["HA-0002"]]  # HA code resolved
    assert made["activities"] == ["T-01"]
    assert made["amount"] == 1000.0
    assert made["participating_orgs"][0]["role_name"] == "implementing"
    path = f"{c.base}/donors/{a}/agreements/{made['id']}"
    assert c.client.get(path, headers=c.coordinator.headers).get_json() == made
    changed = c.client.patch(
        path,
        json={"amount": "2500.50", "title": "Clearance in Pek and Kham"},
        headers=c.coordinator.headers,
    ).get_json()
    assert (changed["amount"], changed["title"]) == (2500.5, "Clearance in Pek and Kham")
    assert changed["participating_orgs"] == made["participating_orgs"]  # kept
    assert changed["hazard_areas"] == made["hazard_areas"]
    refused = _refused(c, "PATCH", path.removeprefix(c.base), {"currency": "EURO"})
    assert list(refused["errors"]) == ["currency"]
    assert c.client.get(path, headers=c.coordinator.headers).get_json()["currency"] == "USD"
    twin = _refused(c, "POST", f"/donors/{a}/agreements", _agreement(), 409)
    assert (twin["code"], twin["field"]) == ("donor.agreement_exists", "iati_identifier")


def test_transactions_are_checked_created_and_changed(uk: Coalition) -> None:
    c = uk
    a = c.donors["A"]
    agreement = c.post(f"/donors/{a}/agreements", _agreement(currency="GBP"))["id"]
    path = f"/donors/{a}/agreements/{agreement}/transactions"
    for body, field in (
        ({"type": "gift", "date": "2026-03-01", "value": 10}, "type"),
        ({"type": 1, "date": "2026-03-01", "value": 10}, "type"),
        ({"type": "disbursement", "date": "2026-03-01", "value": -10}, "value"),
        (
            {"type": "disbursement", "date": "2026-03-01", "value": 10, "currency": "ABC"},
            "currency",
        ),
        ({"type": "disbursement", "value": 10}, "date"),
    ):
        refused = _refused(c, "POST", path, body)
        assert list(refused["errors"]) == [field], body
    made = c.post(path, {"type": 3, "date": "2026-03-01", "value": "10.25"})
    assert made["type"] == "disbursement"
    assert made["type_code"] == 3
    assert (made["currency"], made["value_date"], made["value"]) == ("GBP", "2026-03-01", 10.25)
    changed = c.client.patch(
        f"{c.base}{path}/{made['id']}",
        json={"type": "commitment", "value_date": "2026-03-31"},
        headers=c.coordinator.headers,
    ).get_json()
    assert (changed["type"], changed["value_date"], changed["date"]) == (
        "commitment",
        "2026-03-31",
        "2026-03-01",
    )
    listed = c.client.get(c.base + path, headers=c.coordinator.headers).get_json()
    assert [t["id"] for t in listed] == [made["id"]]


def test_donors_are_listed_read_and_changed(uk: Coalition) -> None:
    c = uk
    path = f"{c.base}/donors/{c.donors['A']}"
    changed = c.client.patch(
        path, json={"name": "United Kingdom FCDO", "org_type": "10"}, headers=c.coordinator.headers
    )
    assert changed.status_code == 200
    assert changed.get_json()["name"] == "United Kingdom FCDO"
    bad = _refused(c, "PATCH", f"/donors/{c.donors['A']}", {"iati_org_ref": "UK"})
    assert list(bad["errors"]) == ["iati_org_ref"]
    listed = c.client.get(f"{c.base}/donors", headers=c.coordinator.headers).get_json()
    assert [(d["name"], d["iati_org_ref"], d["org_type"]) for d in listed] == [
        ("United Kingdom FCDO", "GB-GOV-1", "10")
    ]


def test_donor_users_are_linked_listed_and_unlinked(uk: Coalition) -> None:
    c = uk
    user = c.factories.user()
    base = f"/donors/{c.donors['A']}/users"
    assert list(_refused(c, "POST", base, {"email": "nobody@example.org"})["errors"]) == ["email"]
    linked = c.post(base, {"email": user.email})
    assert linked["user_id"] == user.id
    listed = c.client.get(c.base + base, headers=c.coordinator.headers).get_json()
    assert [u["email"] for u in listed] == [user.email]
    donor_user = c.factories.login(user)
    assert c.client.get(f"{c.base}/donors", headers=donor_user.headers).status_code == 200
    gone = c.client.delete(f"{c.base}{base}/{user.id}", headers=c.coordinator.headers)
    assert gone.status_code == 204
    assert c.client.get(f"{c.base}/donors", headers=donor_user.headers).status_code == 404
