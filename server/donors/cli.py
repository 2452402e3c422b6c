"""``fieldsync-server donors ...``: donors, funding agreements, transactions, donor users, the
donor report and the IATI file. Input goes through the API's schemas, so a refusal names the
field as the API does."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from server.console import CliState, handle_errors, pass_state
from server.projects.cli import chosen_project

_PROJECT = click.option(
    "--project", "project_id", type=int, default=None, help="Project (default: the first project)."
)
_ROLES = {"funding": 1, "accountable": 2, "extending": 3, "implementing": 4}


@click.group(help="Donor accountability: donors, funding agreements, IATI transactions and export.")
def donors() -> None:
    pass


@donors.command("add", help="Record a donor organisation with its IATI organisation identifier.")
@click.argument("name")
@click.option("--iati-ref", required=True, help="IATI organisation identifier, e.g. GB-GOV-1.")
@click.option("--org-type", default="", help="IATI OrganisationType code (10 government...).")
@_PROJECT
@pass_state
@handle_errors
def donors_add(
    state: CliState, name: str, iati_ref: str, org_type: str, project_id: int | None
) -> None:
    from server.donors import schemas, service
    from server.http import validated

    data = validated(
        schemas.DonorRequest(), {"name": name, "iati_org_ref": iati_ref, "org_type": org_type}
    )
    with state.transaction() as session:
        project = chosen_project(session, project_id)
        donor = service.create_donor(session, project.id, data)
        click.echo(f"donor {donor.id}: {donor.name} ({donor.iati_org_ref})")


@donors.command("list", help="The project's donors: id, IATI identifier, name, agreements.")
@_PROJECT
@pass_state
@handle_errors
def donors_list(state: CliState, project_id: int | None) -> None:
    from server.donors import service

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        for donor in service.list_donors(session, project.id):
            count = len(service.list_agreements(session, [donor.id]))
            click.echo(f"{donor.id}\t{donor.iati_org_ref}\t{donor.name}\t{count} agreement(s)")


@donors.command(
    "link-user",
    help="Let EMAIL read DONOR's agreements and report, and nothing else of the donor data "
    "(DONOR: id or IATI organisation identifier).",
)
@click.argument("donor_ref", metavar="DONOR")
@click.argument("email")
@_PROJECT
@pass_state
@handle_errors
def donors_link_user(state: CliState, donor_ref: str, email: str, project_id: int | None) -> None:
    from server.accounts import service as accounts
    from server.donors import members, service

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        donor = service.find_donor(session, project.id, donor_ref)
        members.link_user(session, donor, accounts.get_user_by_email(session, email))
    click.echo(f"{email} now reads donor {donor.id} ({donor.name}) only")


@donors.command("unlink-user", help="Take EMAIL's link to DONOR away.")
@click.argument("donor_ref", metavar="DONOR")
@click.argument("email")
@_PROJECT
@pass_state
@handle_errors
def donors_unlink_user(state: CliState, donor_ref: str, email: str, project_id: int | None) -> None:
    from server.accounts import service as accounts
    from server.donors import members, service

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        donor = service.find_donor(session, project.id, donor_ref)
        members.unlink_user(session, donor, accounts.get_user_by_email(session, email).id)
    click.echo(f"{email} no longer linked to donor {donor.id}")


@donors.group("agreement", help="Funding agreements of a donor.")
def agreement() -> None:
    pass


@agreement.command(
    "add",
    help="Record a funding agreement of DONOR (id or IATI organisation identifier). What it "
    "funds: --hazard-area (entity id or HA code), --activity (tasking order number) and "
    "--admin-area (P-code), each repeatable. --org ROLE:NAME[:IATI_REF] adds a participating "
    "organisation (ROLE: funding, accountable, extending, implementing or 1-4).",
)
@click.argument("donor_ref", metavar="DONOR")
@click.option("--iati-id", required=True, help="IATI activity identifier, e.g. GB-GOV-1-2026-01.")
@click.option("--title", required=True)
@click.option("--description", default="")
@click.option("--amount", required=True, help="Amount in --currency, not negative.")
@click.option("--currency", required=True, help="ISO 4217 code, e.g. USD.")
@click.option("--start", required=True, help="Period start, YYYY-MM-DD.")
@click.option("--end", required=True, help="Period end, YYYY-MM-DD.")
@click.option("--actual-start", default=None, help="Actual start, YYYY-MM-DD.")
@click.option("--actual-end", default=None, help="Actual end, YYYY-MM-DD.")
@click.option("--country", default="", help="Recipient country (ISO 3166-1), e.g. LA.")
@click.option("--hazard-area", "hazard_areas", multiple=True)
@click.option("--activity", "activities", multiple=True)
@click.option("--admin-area", "admin_areas", multiple=True)
@click.option("--org", "orgs", multiple=True, help="ROLE:NAME[:IATI_REF], repeatable.")
@_PROJECT
@pass_state
@handle_errors
def agreement_add(state: CliState, donor_ref: str, project_id: int | None, **options: Any) -> None:
    from server.donors import schemas, service
    from server.http import validated

    raw = {
        "iati_identifier": options["iati_id"],
        "title": options["title"],
        "description": options["description"],
        "amount": options["amount"],
        "currency": options["currency"],
        "period_start": options["start"],
        "period_end": options["end"],
        "actual_start": options["actual_start"],
        "actual_end": options["actual_end"],
        "recipient_country": options["country"],
        "hazard_areas": list(options["hazard_areas"]),
        "activities": list(options["activities"]),
        "admin_areas": list(options["admin_areas"]),
        "participating_orgs": [_org(text) for text in options["orgs"]],
    }
    data = validated(schemas.AgreementRequest(), raw)
    with state.transaction() as session:
        project = chosen_project(session, project_id)
        donor = service.find_donor(session, project.id, donor_ref)
        made = service.create_agreement(session, donor, data)
        click.echo(f"agreement {made.id}: {made.iati_identifier} ({made.amount} {made.currency})")


def _org(text: str) -> dict[str, Any]:
    role, _, rest = text.partition(":")
    name, _, ref = rest.partition(":")
    code: Any = _ROLES.get(role.strip().lower(), int(role) if role.strip().isdigit() else role)
    return {"name": name.strip(), "iati_org_ref": ref.strip(), "role": code}


@agreement.command("list", help="DONOR's agreements: id, IATI identifier, period, amount, title.")
@click.argument("donor_ref", metavar="DONOR")
@_PROJECT
@pass_state
@handle_errors
def agreement_list(state: CliState, donor_ref: str, project_id: int | None) -> None:
    from server.donors import service

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        donor = service.find_donor(session, project.id, donor_ref)
        for a in service.list_agreements(session, [donor.id]):
            click.echo(
                f"{a.id}\t{a.iati_identifier}\t{a.period_start}..{a.period_end}\t"
                f"{a.amount} {a.currency}\t{a.title}"
            )


@donors.group("transaction", help="IATI transactions of an agreement.")
def transaction() -> None:
    pass


@transaction.command(
    "add",
    help="Record a transaction of AGREEMENT (id or IATI activity identifier): a commitment, "
    "disbursement or expenditure (IATI types 2, 3, 4).",
)
@click.argument("agreement_ref", metavar="AGREEMENT")
@click.option(
    "--type", "kind", required=True, help="commitment, disbursement, expenditure (or 2, 3, 4)."
)
@click.option("--date", "on", required=True, help="Transaction date, YYYY-MM-DD.")
@click.option("--value", required=True, help="Amount, not negative.")
@click.option("--currency", default=None, help="ISO 4217 (default: the agreement's).")
@click.option("--value-date", default=None, help="Date the value is valued at (default: --date).")
@click.option("--description", default="")
@_PROJECT
@pass_state
@handle_errors
def transaction_add(
    state: CliState, agreement_ref: str, project_id: int | None, **options: Any
) -> None:
    from server.donors import schemas, service
    from server.http import validated

    raw = {
        "type": options["kind"],
        "date": options["on"],
        "value": options["value"],
        "value_date": options["value_date"],
        "description": options["description"],
    }
    if options["currency"]:
        raw["currency"] = options["currency"]
    data = validated(schemas.TransactionRequest(), raw)
    with state.transaction() as session:
        project = chosen_project(session, project_id)
        found = service.find_agreement(session, project.id, agreement_ref)
        row = service.add_transaction(session, found, data, project_id=project.id)
        click.echo(
            f"transaction {row.id}: {data['type']} {row.value} {row.currency}"
            f" on {row.transaction_date}"
        )


@transaction.command("list", help="AGREEMENT's transactions: id, type, date, value, currency.")
@click.argument("agreement_ref", metavar="AGREEMENT")
@_PROJECT
@pass_state
@handle_errors
def transaction_list(state: CliState, agreement_ref: str, project_id: int | None) -> None:
    from server.donors import service
    from server.donors.render import transaction_json

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        found = service.find_agreement(session, project.id, agreement_ref)
        for row in service.transactions_of(session, [found.id]):
            t = transaction_json(row)
            click.echo(f"{t['id']}\t{t['type']}\t{t['date']}\t{row.value}\t{t['currency']}")


@donors.group("iati", help="IATI 2.03 activity XML.")
def iati_group() -> None:
    pass


@iati_group.command(
    "export",
    help="Write DONOR's agreements (or one, --agreement) as IATI 2.03 activity XML, to --out "
    "or standard output; the donor is the reporting organisation.",
)
@click.argument("donor_ref", metavar="DONOR")
@click.option("--agreement", "agreement_ref", default=None, help="One agreement (id or IATI id).")
@click.option("--out", type=click.Path(path_type=Path), default=None)
@_PROJECT
@pass_state
@handle_errors
def iati_export(
    state: CliState,
    donor_ref: str,
    agreement_ref: str | None,
    out: Path | None,
    project_id: int | None,
) -> None:
    from server.donors import iati, service

    with state.transaction() as session:
        project = chosen_project(session, project_id)
        donor = service.find_donor(session, project.id, donor_ref)
        if agreement_ref:
            found = service.find_agreement(session, project.id, agreement_ref)
            chosen = [service.get_agreement(session, donor, found.id)]
        else:
            chosen = service.list_agreements(session, [donor.id])
        body = iati.activities_xml(session, project.id, donor, chosen)
    _write(body, out)


@donors.command(
    "report",
    help="DONOR's report: the outputs of each agreement (m² released, devices destroyed, people "
    "reached by risk education) from approved reports, and its funding.",
)
@click.argument("donor_ref", metavar="DONOR")
@click.option("--year", type=int, default=None, help="Only this calendar year.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "xlsx", "html"]),
    default="json",
    show_default=True,
    help="json (the API's keys), csv (a row per agreement and the total), xlsx (a cover sheet "
    "and a sheet per table) or html (printable: a page per table; PDF through the browser).",
)
@click.option("--all-reports", is_flag=True, help="Count reports not yet approved too.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write to this file (default: standard output).",
)
@_PROJECT
@pass_state
@handle_errors
def donors_report(
    state: CliState,
    donor_ref: str,
    year: int | None,
    fmt: str,
    all_reports: bool,
    out: Path | None,
    project_id: int | None,
) -> None:
    from server.donors import report, schemas, service
    from server.http import validated

    query = validated(schemas.ReportQuery(), {"year": year} if year is not None else {})
    with state.transaction() as session:
        project = chosen_project(session, project_id)
        donor = service.find_donor(session, project.id, donor_ref)
        body = report.donor_report(
            session, project.id, donor, year=query["year"], approved_only=not all_reports
        )
        content, _media_type, _name = report.render_report(session, project, body, fmt)
    if fmt == "xlsx" and out is None:
        sys.stdout.buffer.write(content)
        return
    _write(content, out)


def _write(body: bytes, out: Path | None) -> None:
    if out is None:
        click.echo(body.decode("utf-8"), nl=False)
        return
    from server.exports.cli_options import write_atomically

    size = write_atomically(out, [body])
    click.echo(f"wrote {out} ({size} bytes)", err=True)
