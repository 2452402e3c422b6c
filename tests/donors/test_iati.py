"""The IATI 2.03 activity XML: well formed, elements in the schema's order, the right values."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from lxml import etree

from server.cli import main
from tests.donors.conftest import Coalition

# The xsd:sequence of iati-activity in the IATI 2.03 activities schema
# (iati-activities-schema.xsd, IATI/IATI-Schemas, version 2.03), in order.
IATI_ACTIVITY_SEQUENCE = (
    "iati-identifier",
    "reporting-org",
    "title",
    "description",
    "participating-org",
    "other-identifier",
    "activity-status",
    "activity-date",
    "contact-info",
    "activity-scope",
    "recipient-country",
    "recipient-region",
    "location",
    "sector",
    "country-budget-items",
    "humanitarian-scope",
    "policy-marker",
    "collaboration-type",
    "default-flow-type",
    "default-finance-type",
    "default-aid-type",
    "default-tied-status",
    "budget",
    "planned-disbursement",
    "capital-spend",
    "transaction",
    "document-link",
    "related-activity",
    "legacy-data",
    "conditions",
    "result",
    "crs-add",
    "fss",
)
# The same schema's sequences inside transaction, result, indicator and its period.
TRANSACTION_SEQUENCE = (
    "transaction-type",
    "transaction-date",
    "value",
    "description",
    "provider-org",
    "receiver-org",
    "disbursement-channel",
    "sector",
    "recipient-country",
    "recipient-region",
    "flow-type",
    "finance-type",
    "aid-type",
    "tied-status",
)
RESULT_SEQUENCE = ("title", "description", "document-link", "reference", "indicator")
INDICATOR_SEQUENCE = ("title", "description", "document-link", "reference", "baseline", "period")
PERIOD_SEQUENCE = ("period-start", "period-end", "target", "actual")
REQUIRED = ("iati-identifier", "reporting-org", "title", "description", "participating-org",
            "activity-status", "activity-date")  # fmt: skip


def assert_in_sequence(element: etree._Element, sequence: tuple[str, ...]) -> None:
    """Every child is in ``sequence``, and the children never go back in it."""
    names = [child.tag for child in element]
    unknown = [n for n in names if n not in sequence]
    assert unknown == [], f"{element.tag}: not in the schema's sequence: {unknown}"
    positions = [sequence.index(n) for n in names]
    assert positions == sorted(positions), f"{element.tag}: out of order: {names}"


def _xml(c: Coalition, path: str) -> etree._Element:
    response = c.client.get(c.base + path, headers=c.coordinator.headers)
    assert response.status_code == 200
    assert response.content_type.startswith("application/xml")
    return etree.fromstring(response.get_data())  # raises unless well formed


def test_the_order_check_catches_an_element_out_of_place() -> None:
    wrong = etree.fromstring(
        "<iati-activity><iati-identifier/><title/><reporting-org/></iati-activity>"
    )
    try:
        assert_in_sequence(wrong, IATI_ACTIVITY_SEQUENCE)
    except AssertionError:
        return
    raise AssertionError("an element out of order was not caught")


def test_the_donor_export_follows_the_schema_order(coalition: Coalition) -> None:
    c = coalition
    root = _xml(c, f"/donors/{c.donors['A']}/iati.xml")
    assert root.tag == "iati-activities"
    assert root.get("version") == "2.03"
    activities = root.findall("iati-activity")
    assert [a.findtext("iati-identifier") for a in activities] == [
        "GB-GOV-1-MA-2026",
        "GB-GOV-1-EORE-2026",
    ]
    for activity in activities:
        assert_in_sequence(activity, IATI_ACTIVITY_SEQUENCE)
        assert {child.tag for child in activity} >= set(REQUIRED)
        for transaction in activity.findall("transaction"):
            assert_in_sequence(transaction, TRANSACTION_SEQUENCE)
        for result in activity.findall("result"):
            assert_in_sequence(result, RESULT_SEQUENCE)
            for indicator in result.findall("indicator"):
                assert_in_sequence(indicator, INDICATOR_SEQUENCE)
                for period in indicator.findall("period"):
                    assert_in_sequence(period, PERIOD_SEQUENCE)


def test_the_activity_carries_the_agreement_and_its_outputs(coalition: Coalition) -> None:
    c = coalition
    root = _xml(c, f"/donors/{c.donors['A']}/agreements/{c.agreements['A1']}/iati.xml")
    (activity,) = root.findall("iati-activity")
    assert activity.get("default-currency") == "USD"
    assert activity.findtext("iati-identifier") == "GB-GOV-1-MA-2026"
    reporting = activity.find("reporting-org")
    assert reporting is not None
    assert (reporting.get("ref"), reporting.get("type")) == ("GB-GOV-1", "10")
    assert reporting.findtext("narrative") == "United Kingdom FCDO"
    assert activity.findtext("title/narrative") == (
        "Clearance of cluster munition remnants in Xiengkhuang"
    )
    assert activity.findtext("description/narrative") == (
        "Survey and clearance of two confirmed hazardous areas."
    )
    orgs = [
        (o.get("role"), o.get("ref"), o.findtext("narrative"))
        for o in activity.findall("participating-org")
    ]
    assert orgs == [
        ("1", "GB-GOV-1", "United Kingdom FCDO"),
        ("2", None, "National Regulatory Authority"),
        ("4", "NO-BRC-971277882", "Norwegian People's Aid"),
    ]
    status = activity.find("activity-status")
    assert status is not None and status.get("code") == "4"  # actual end 2026-11-30 has passed
    dates = [(d.get("type"), d.get("iso-date")) for d in activity.findall("activity-date")]
    assert dates == [
        ("1", "2026-01-01"),
        ("2", "2026-01-05"),
        ("3", "2026-12-31"),
        ("4", "2026-11-30"),
    ]
    sector = activity.find("sector")
    assert sector is not None
    assert (sector.get("code"), sector.get("vocabulary")) == ("15250", "1")
    assert sector.findtext("narrative") == "Removal of land mines and explosive remnants of war"
    transactions = [
        (
            t.find("transaction-type").get("code"),  # type: ignore[union-attr]
            t.find("transaction-date").get("iso-date"),  # type: ignore[union-attr]
            t.findtext("value"),
            t.find("value").get("currency"),  # type: ignore[union-attr]
            t.find("value").get("value-date"),  # type: ignore[union-attr]
        )
        for t in activity.findall("transaction")
    ]
    assert transactions == [
        ("2", "2025-12-01", "100000.00", "USD", "2025-12-01"),
        ("2", "2026-01-15", "500000.00", "USD", "2026-01-15"),
        ("3", "2026-03-01", "200000.00", "USD", "2026-03-01"),
        ("3", "2026-09-01", "150000.00", "USD", "2026-09-01"),
        ("4", "2026-10-01", "90000.00", "USD", "2026-10-01"),
    ]
    result = activity.find("result")
    assert result is not None and result.get("type") == "1"
    indicators = {
        i.findtext("title/narrative"): i.find("period/actual").get("value")  # type: ignore[union-attr]
        for i in result.findall("indicator")
    }
    assert indicators == {
        "Land released (m²): cancelled, reduced and cleared": "4100",
        "Explosive ordnance devices destroyed": "6",
        "People reached by explosive ordnance risk education": "0",
    }
    period = result.find("indicator/period")
    assert period is not None
    assert period.find("period-start").get("iso-date") == "2026-01-01"  # type: ignore[union-attr]
    assert period.find("period-end").get("iso-date") == "2026-12-31"  # type: ignore[union-attr]


def test_the_recipient_country_comes_from_the_p_codes(coalition: Coalition) -> None:
    c = coalition
    root = _xml(c, f"/donors/{c.donors['B']}/iati.xml")
    country = root.find("iati-activity/recipient-country")
    assert country is not None and country.get("code") == "LA"
    # A1 funds hazard areas only and names no country: no recipient-country is invented.
    a1 = _xml(c, f"/donors/{c.donors['A']}/agreements/{c.agreements['A1']}/iati.xml")
    assert a1.find("iati-activity/recipient-country") is None


def test_the_command_writes_the_same_activities(
    coalition: Coalition, app: Flask, tmp_path: Path
) -> None:
    c = coalition
    settings = app.extensions["fieldsync"].settings
    env = {"DATABASE_URL": settings.database_url, "FIELDSYNC_DATA_DIR": str(settings.data_dir)}
    out = tmp_path / "uk.xml"
    result = CliRunner().invoke(
        main,
        ["donors", "iati", "export", "GB-GOV-1", "--project", str(c.project.id), "--out", str(out)],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    from_cli = etree.fromstring(out.read_bytes())
    over_http = _xml(c, f"/donors/{c.donors['A']}/iati.xml")
    for element in (from_cli, over_http):
        element.attrib.pop("generated-datetime")
    assert etree.tostring(from_cli) == etree.tostring(over_http)
