"""IATI 2.03 activity XML of a donor's funding agreements, one ``iati-activity`` each.

Elements follow the order of the ``xsd:sequence`` of ``iati-activity`` in the IATI 2.03
activities schema (iati-identifier, reporting-org, title, description, participating-org,
activity-status, activity-date, recipient-country, sector, transaction, result), and inside
``transaction`` and ``result`` the order of theirs. The donor is the reporting organisation;
the outputs in ``result`` come from :func:`server.donors.outputs.compute_outputs`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from lxml import etree
from sqlalchemy.orm import Session

from server.db import utcnow
from server.donors import codes, service
from server.donors.codes import ActivityDateType, ActivityStatus, OrgRole
from server.donors.models import Donor, FundingAgreement, FundingTransaction, ParticipatingOrg
from server.donors.outputs import Outputs, compute_outputs
from server.donors.report import scope_of

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# (indicator title, how it is read off the outputs)
INDICATORS = (
    ("Land released (m²): cancelled, reduced and cleared", lambda o: round(o.released_m2, 2)),
    ("Explosive ordnance devices destroyed", lambda o: sum(o.destroyed.values())),
    (
        "People reached by explosive ordnance risk education",
        lambda o: sum(o.beneficiaries.values()),
    ),
)


def activities_xml(
    session: Session,
    project_id: int,
    donor: Donor,
    agreements: list[FundingAgreement],
    *,
    today: date | None = None,
) -> bytes:
    """``<iati-activities version="2.03">`` with one activity per agreement, UTF-8 encoded."""
    today = today or utcnow().date()
    root = etree.Element("iati-activities", version="2.03", **{"generated-datetime": _now()})
    computed, _together = compute_outputs(session, project_id, [scope_of(a) for a in agreements])
    for agreement, outputs in zip(agreements, computed, strict=True):
        root.append(
            _activity(
                donor,
                agreement,
                service.orgs_of(session, agreement),
                service.transactions_of(session, [agreement.id]),
                outputs,
                today,
            )
        )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _activity(
    donor: Donor,
    agreement: FundingAgreement,
    orgs: list[ParticipatingOrg],
    transactions: list[FundingTransaction],
    outputs: Outputs,
    today: date,
) -> etree._Element:
    activity = etree.Element(
        "iati-activity",
        {
            XML_LANG: "en",
            "default-currency": agreement.currency,
            "last-updated-datetime": agreement.updated_at.replace(microsecond=0).isoformat(),
            "hierarchy": "1",
        },
    )
    _text(activity, "iati-identifier", agreement.iati_identifier)
    reporting = _sub(activity, "reporting-org", ref=donor.iati_org_ref, type=donor.org_type)
    _narrative(reporting, donor.name)
    _narrative(_sub(activity, "title"), agreement.title)
    _narrative(_sub(activity, "description", type="1"), agreement.description or agreement.title)
    for name, ref, role, org_type in _participants(donor, orgs):
        _narrative(
            _sub(activity, "participating-org", ref=ref, type=org_type, role=str(role)), name
        )
    _sub(activity, "activity-status", code=str(int(_status(agreement, today))))
    for kind, moment in _dates(agreement, outputs, today):
        _sub(activity, "activity-date", type=str(int(kind)), **{"iso-date": moment.isoformat()})
    country = _country(agreement)
    if country:
        _sub(activity, "recipient-country", code=country, percentage="100")
    sector = _sub(activity, "sector", code=codes.SECTOR_CODE, vocabulary=codes.SECTOR_VOCABULARY)
    _narrative(sector, codes.SECTOR_NAME)
    for row in transactions:
        _transaction(activity, row)
    _result(activity, agreement, outputs)
    return activity


def _participants(donor: Donor, orgs: list[ParticipatingOrg]) -> list[tuple[str, str, int, str]]:
    """The agreement's organisations; the donor is a funding organisation unless listed."""
    listed = [(o.name, o.iati_org_ref, o.role, o.org_type) for o in orgs]
    donor_funds = any(
        role == OrgRole.FUNDING and (ref == donor.iati_org_ref or name == donor.name)
        for name, ref, role, _t in listed
    )
    if not donor_funds:
        listed.insert(0, (donor.name, donor.iati_org_ref, int(OrgRole.FUNDING), donor.org_type))
    return sorted(listed, key=lambda o: o[2])


def _status(agreement: FundingAgreement, today: date) -> ActivityStatus:
    if agreement.actual_end is not None and agreement.actual_end <= today:
        return ActivityStatus.CLOSED
    if today < agreement.period_start:
        return ActivityStatus.PIPELINE
    if today <= agreement.period_end:
        return ActivityStatus.IMPLEMENTATION
    return ActivityStatus.FINALISATION


def _dates(
    agreement: FundingAgreement, outputs: Outputs, today: date
) -> list[tuple[ActivityDateType, date]]:
    """Planned start and end are the agreement's period; the actual start is the one recorded,
    else the date of the first report the agreement funds; the actual end only once recorded."""
    out = [(ActivityDateType.PLANNED_START, agreement.period_start)]
    started = agreement.actual_start or outputs.first_date
    if started is not None and started <= today:
        out.append((ActivityDateType.ACTUAL_START, started))
    out.append((ActivityDateType.PLANNED_END, agreement.period_end))
    if agreement.actual_end is not None and agreement.actual_end <= today:
        out.append((ActivityDateType.ACTUAL_END, agreement.actual_end))
    return out


def _country(agreement: FundingAgreement) -> str:
    if agreement.recipient_country:
        return agreement.recipient_country
    prefixes = {p[:2] for p in agreement.admin_areas}
    return prefixes.pop() if len(prefixes) == 1 else ""


def _transaction(activity: etree._Element, row: FundingTransaction) -> None:
    element = _sub(activity, "transaction")
    _sub(element, "transaction-type", code=str(row.transaction_type))
    _sub(element, "transaction-date", **{"iso-date": row.transaction_date.isoformat()})
    value = _sub(
        element, "value", currency=row.currency, **{"value-date": row.value_date.isoformat()}
    )
    value.text = f"{row.value:.2f}"
    if row.description:
        _narrative(_sub(element, "description"), row.description)


def _result(activity: etree._Element, agreement: FundingAgreement, outputs: Outputs) -> None:
    result = _sub(activity, "result", type="1", **{"aggregation-status": "1"})
    _narrative(_sub(result, "title"), "Land released and explosive ordnance destroyed")
    for title, read in INDICATORS:
        indicator = _sub(result, "indicator", measure="1", ascending="1")
        _narrative(_sub(indicator, "title"), title)
        period = _sub(indicator, "period")
        _sub(period, "period-start", **{"iso-date": agreement.period_start.isoformat()})
        _sub(period, "period-end", **{"iso-date": agreement.period_end.isoformat()})
        _sub(period, "actual", value=_number(read(outputs)))


def _sub(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, tag, {k: v for k, v in attributes.items() if v})


def _text(parent: etree._Element, tag: str, text: str) -> None:
    _sub(parent, tag).text = text


def _narrative(parent: etree._Element, text: str) -> None:
    _sub(parent, "narrative").text = text


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def _now() -> str:
    return utcnow().replace(microsecond=0).isoformat()
