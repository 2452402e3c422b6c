"""The donor report (outputs of what a donor funded) and Form I of the Article 7 report.

Both read the agreements and transactions of :mod:`server.donors.models`; the outputs come from
:func:`server.donors.outputs.compute_outputs`, the one place they are computed.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import utcnow
from server.donors import service
from server.donors.codes import TransactionType
from server.donors.models import Donor, FundingAgreement, FundingTransaction
from server.donors.outputs import Scope, compute_outputs
from server.donors.render import money
from server.projects.models import Project
from server.reports.document import Report as Document
from server.reports.document import Table
from server.reports.models import ReportFact, ReportSettings
from server.reports.outputs import AnyOf
from server.reports.render import RENDERERS


def form_i_funding(session: Session, project_id: int, year: int) -> list[dict[str, Any]]:
    """Form I (national resources and international cooperation): funds by donor and currency.

    One row per donor and currency with transactions dated in ``year`` (1 January to
    31 December): ``committed`` sums the commitments (IATI type 2), ``disbursed`` the
    disbursements (type 3); expenditure is the implementer's and is not counted. Amounts stay in
    their currency (never converted). Rows are ordered by donor name, then currency.
    """
    rows = session.execute(
        select(
            Donor.name,
            Donor.iati_org_ref,
            FundingTransaction.currency,
            FundingTransaction.transaction_type,
            FundingTransaction.value,
        )
        .join(FundingAgreement, FundingAgreement.donor_id == Donor.id)
        .join(FundingTransaction, FundingTransaction.agreement_id == FundingAgreement.id)
        .where(
            Donor.project_id == project_id,
            FundingTransaction.transaction_date >= date(year, 1, 1),
            FundingTransaction.transaction_date <= date(year, 12, 31),
        )
    )
    sums: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(
        lambda: {"committed": Decimal(0), "disbursed": Decimal(0)}
    )
    for name, ref, currency, kind, value in rows:
        cell = sums[(name, ref, currency)]
        if kind == TransactionType.COMMITMENT:
            cell["committed"] += value
        elif kind == TransactionType.DISBURSEMENT:
            cell["disbursed"] += value
        # touched either way: a donor with only expenditure in the year still has its row
    return [
        {
            "donor": name,
            "iati_org_ref": ref,
            "currency": currency,
            "committed": money(cell["committed"]),
            "disbursed": money(cell["disbursed"]),
        }
        for (name, ref, currency), cell in sorted(sums.items())
    ]


def donors_by_hazard_area(session: Session, project_id: int) -> dict[str, list[str]]:
    """The donors (by name, sorted) funding each hazard area (by entity id), for the donor column
    of the 3W/4W matrix: an agreement funds the areas it names, the areas placed in one of its
    admin areas and the areas some report under one of its activities is about (the donor
    report's scope rules, without the period: the matrix's period is its own)."""
    funded: dict[str, set[str]] = defaultdict(set)
    f = ReportFact
    rows = session.execute(
        select(Donor.name, FundingAgreement)
        .join(FundingAgreement, FundingAgreement.donor_id == Donor.id)
        .where(Donor.project_id == project_id)
    )
    for name, agreement in rows:
        for area in agreement.hazard_areas:
            funded[area].add(name)
        if not (agreement.admin_areas or agreement.activities):
            continue
        # The donor report's scope rule without the hazard areas named (added above).
        wanted = AnyOf(
            activities=frozenset(agreement.activities),
            admin_areas=frozenset(agreement.admin_areas),
        ).condition(f)
        for reported in session.scalars(
            select(f.hazard_area)
            .where(f.project_id == project_id, f.hazard_area.is_not(None), wanted)
            .distinct()
        ):
            funded[str(reported)].add(name)
    return {area: sorted(names) for area, names in funded.items()}


def scope_of(agreement: FundingAgreement, year: int | None = None) -> Scope:
    """The agreement's scope; with ``year``, its period cut to that calendar year."""
    start, end = agreement.period_start, agreement.period_end
    if year is not None:
        start, end = max(start, date(year, 1, 1)), min(end, date(year, 12, 31))
    return Scope(
        start=start,
        end=end,
        hazard_areas=frozenset(agreement.hazard_areas),
        activities=frozenset(agreement.activities),
        admin_areas=frozenset(agreement.admin_areas),
    )


def donor_report(
    session: Session,
    project_id: int,
    donor: Donor,
    *,
    year: int | None = None,
    approved_only: bool = True,
    explain: bool = False,
) -> dict[str, Any]:
    """The outputs of each of the donor's agreements, the donor's total (a report funded by two
    of its agreements counted once), and its funding by currency."""
    agreements = service.list_agreements(session, [donor.id])
    computed, together = compute_outputs(
        session,
        project_id,
        [scope_of(a, year) for a in agreements],
        approved_only=approved_only,
        explain=explain,
    )
    funding = _funding(session, agreements, year)
    items = []
    for agreement, outputs in zip(agreements, computed, strict=True):
        item: dict[str, Any] = {
            "id": agreement.id,
            "iati_identifier": agreement.iati_identifier,
            "title": agreement.title,
            "amount": money(agreement.amount),
            "currency": agreement.currency,
            "period_start": agreement.period_start.isoformat(),
            "period_end": agreement.period_end.isoformat(),
            "scope": {
                "hazard_areas": list(agreement.hazard_areas),
                "activities": list(agreement.activities),
                "admin_areas": list(agreement.admin_areas),
            },
            "outputs": outputs.to_json(),
            "funding": funding.get(agreement.id, []),
        }
        if explain:
            item["sources"] = outputs.sources
        items.append(item)
    return {
        "donor": {"id": donor.id, "name": donor.name, "iati_org_ref": donor.iati_org_ref},
        "year": year,
        "approved_only": approved_only,
        "generated_at": utcnow().isoformat(),
        "agreements": items,
        "totals": together.to_json(),
        "funding": _funding_total(funding),
    }


def _funding(
    session: Session, agreements: list[FundingAgreement], year: int | None
) -> dict[int, list[dict[str, Any]]]:
    sums: dict[tuple[int, str], dict[str, Decimal]] = defaultdict(
        lambda: {t.name.lower(): Decimal(0) for t in TransactionType}
    )
    for row in service.transactions_of(session, [a.id for a in agreements], year):
        sums[(row.agreement_id, row.currency)][
            TransactionType(row.transaction_type).name.lower()
        ] += row.value
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for (agreement_id, currency), cell in sorted(sums.items()):
        out[agreement_id].append({"currency": currency, **{k: money(v) for k, v in cell.items()}})
    return out


def _funding_total(per_agreement: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for rows in per_agreement.values():
        for row in rows:
            for key, value in row.items():
                if key != "currency":
                    sums[row["currency"]][key] += value
    return [
        {"currency": c, **{k: round(v, 2) for k, v in cell.items()}}
        for c, cell in sorted(sums.items())
    ]


CSV_COLUMNS = (
    "agreement",
    "title",
    "period_start",
    "period_end",
    "cancelled_m2",
    "reduced_m2",
    "cleared_m2",
    "released_m2",
    "devices_destroyed",
    "eore_sessions",
    "people_reached",
    "reports",
)


def donor_report_csv(report: dict[str, Any]) -> str:
    """One row per agreement and a ``total`` row (the donor's total, each report once)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["donor", "iati_org_ref", *CSV_COLUMNS])
    donor = report["donor"]
    rows = [
        (a["iati_identifier"], a["title"], a["period_start"], a["period_end"], a["outputs"])
        for a in report["agreements"]
    ]
    rows.append(("total", "", "", "", report["totals"]))
    for identifier, title, start, end, out in rows:
        writer.writerow(
            [
                _safe(donor["name"]),
                donor["iati_org_ref"],
                identifier,
                _safe(title),
                start,
                end,
                *(out[k] for k in CSV_COLUMNS[4:]),
            ]
        )
    return buffer.getvalue()


def _safe(text: str) -> str:
    """Text a spreadsheet would not run as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- the printable and spreadsheet formats ------------------------------------------------------

FORMATS = ("json", "csv", "xlsx", "html")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}
OUTPUT_COLUMNS = [
    "agreement",
    "title",
    "period_start",
    "period_end",
    "amount",
    "currency",
    "cancelled_m2",
    "reduced_m2",
    "cleared_m2",
    "released_m2",
    "released_km2",
    "devices_destroyed",
    "eore_sessions",
    "people_reached",
    "reports",
]
SOURCE_COLUMNS = [
    "agreement",
    "form",
    "instance_id",
    "item",
    "date",
    "hazard_area",
    "task_id",
    "admin_areas",
]


def donor_document(report: dict[str, Any], project_name: str, min_cell_size: int) -> Document:
    """The donor report as the coalition reports' outputs see it (a cover and its tables), for
    :mod:`server.reports.render`: one table per kind of figure, each agreement's rows then the
    donor's ``total`` (each report once); with ``explain``, the reports behind the figures."""
    donor = report["donor"]
    rows = [(a["iati_identifier"], a) for a in report["agreements"]]
    totals = {"iati_identifier": "total", "outputs": report["totals"]}
    outputs = [
        {
            "agreement": ident,
            "title": a.get("title", ""),
            "period_start": a.get("period_start", ""),
            "period_end": a.get("period_end", ""),
            "amount": a.get("amount"),
            "currency": a.get("currency", ""),
            **{k: a["outputs"][k] for k in OUTPUT_COLUMNS[6:]},
        }
        for ident, a in [*rows, ("total", totals)]
    ]
    destroyed = [
        {"agreement": ident, **d} for ident, a in [*rows, ("total", totals)]
        for d in a["outputs"]["destroyed"]
    ]  # fmt: skip
    people = [
        {"agreement": ident, **b} for ident, a in [*rows, ("total", totals)]
        for b in a["outputs"]["beneficiaries"]
    ]  # fmt: skip
    funding = [{"agreement": ident, **f} for ident, a in rows for f in a["funding"]]
    funding += [{"agreement": "total", **f} for f in report["funding"]]
    money_columns = ["agreement", "currency", "commitment", "disbursement", "expenditure"]
    tables = [
        Table("agreements", "Outputs of each agreement", "Outputs", OUTPUT_COLUMNS, outputs),
        Table(
            "destroyed",
            "Devices destroyed by category and model",
            "Devices destroyed",
            ["agreement", "category", "model", "quantity"],
            destroyed,
        ),
        Table(
            "beneficiaries",
            "People reached by risk education, by sex and age band",
            "People reached",
            ["agreement", "sex", "age_band", "count"],
            people,
        ),
        Table("funding", "Funding by currency", "Funding", money_columns, funding),
    ]
    if any("sources" in a for _i, a in rows):
        sources = [{"agreement": ident, **s} for ident, a in rows for s in a.get("sources", [])]
        tables.append(
            Table("sources", "Reports behind the figures", "Sources", SOURCE_COLUMNS, sources)
        )
    filters = {"donor": donor["iati_org_ref"]}
    if report["year"] is not None:
        filters["year"] = str(report["year"])
    return Document(
        kind="donor",
        title=f"Donor report: {donor['name']}",
        project_name=project_name,
        period=str(report["year"]) if report["year"] is not None else "each agreement's period",
        generated_at=datetime.fromisoformat(report["generated_at"]),
        approved_only=report["approved_only"],
        filters=filters,
        data=report,
        tables=tables,
        min_cell_size=min_cell_size,
    )


def render_report(
    session: Session, project: Project, report: dict[str, Any], fmt: str
) -> tuple[bytes, str, str]:
    """The report in ``fmt`` (json, csv, xlsx, html): its bytes, media type and file name."""
    donor = report["donor"]
    name = f"donor-{donor['id']}" + (f"-{report['year']}" if report["year"] else "")
    if fmt == "json":
        body = (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    elif fmt == "csv":
        body = donor_report_csv(report).encode("utf-8")
    else:
        settings = session.get(ReportSettings, project.id)
        minimum = settings.min_cell_size if settings is not None else 5
        body = RENDERERS[fmt](donor_document(report, project.name, minimum))
    return body, MEDIA_TYPES[fmt], f"{name}.{fmt}"
