"""JSON API for donors, funding agreements, transactions, donor users, the donor report and
the IATI file, under ``/api/v1/projects/<id>``. Who sees what: :mod:`server.donors.access`."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from server import errors
from server.accounts import service as accounts
from server.accounts.identity import current_user
from server.donors import iati, members, report, service
from server.donors.access import DonorAccess, donor_access
from server.donors.models import Donor, FundingAgreement
from server.donors.render import (
    agreement_fields,
    agreement_json,
    donor_json,
    transaction_fields,
    transaction_json,
)
from server.donors.schemas import (
    AgreementRequest,
    DonorRequest,
    DonorUserRequest,
    ReportQuery,
    TransactionRequest,
)
from server.http import json_object, load_json, validated
from server.projects.service import get_project
from server.web import commit, db

blueprint = Blueprint("donors_api", __name__, url_prefix="/api/v1/projects/<int:project_id>")


def _access(project_id: int) -> DonorAccess:
    return donor_access(db(), current_user(), project_id)


def _managed_donor(project_id: int, donor_id: int) -> tuple[DonorAccess, Donor]:
    access = _access(project_id)
    donor = access.donor(db(), donor_id)
    access.require_manage()
    return access, donor


def _agreement(project_id: int, donor_id: int, agreement_id: int) -> tuple[Donor, FundingAgreement]:
    donor = _access(project_id).donor(db(), donor_id)
    return donor, service.get_agreement(db(), donor, agreement_id)


# --- donors --------------------------------------------------------------------------------------


@blueprint.get("/donors")
def list_donors(project_id: int) -> Any:
    access = _access(project_id)
    donors = service.list_donors(db(), project_id, access.donor_ids)
    return jsonify([donor_json(d) for d in donors])


@blueprint.post("/donors")
def create_donor(project_id: int) -> Any:
    _access(project_id).require_manage()
    data = load_json(DonorRequest())
    donor = service.create_donor(db(), project_id, data, actor_user_id=current_user().id)
    commit()
    return jsonify(donor_json(donor)), 201


@blueprint.get("/donors/<int:donor_id>")
def get_donor(project_id: int, donor_id: int) -> Any:
    return jsonify(donor_json(_access(project_id).donor(db(), donor_id)))


@blueprint.patch("/donors/<int:donor_id>")
def update_donor(project_id: int, donor_id: int) -> Any:
    _, donor = _managed_donor(project_id, donor_id)
    current = {"name": donor.name, "iati_org_ref": donor.iati_org_ref, "org_type": donor.org_type}
    data = validated(DonorRequest(), {**current, **json_object()})
    service.update_donor(db(), donor, data, actor_user_id=current_user().id)
    commit()
    return jsonify(donor_json(donor))


# --- agreements ----------------------------------------------------------------------------------


@blueprint.get("/donors/<int:donor_id>/agreements")
def list_agreements(project_id: int, donor_id: int) -> Any:
    donor = _access(project_id).donor(db(), donor_id)
    agreements = service.list_agreements(db(), [donor.id])
    return jsonify([agreement_json(a, service.orgs_of(db(), a)) for a in agreements])


@blueprint.post("/donors/<int:donor_id>/agreements")
def create_agreement(project_id: int, donor_id: int) -> Any:
    _, donor = _managed_donor(project_id, donor_id)
    data = load_json(AgreementRequest())
    agreement = service.create_agreement(db(), donor, data, actor_user_id=current_user().id)
    commit()
    return jsonify(agreement_json(agreement, service.orgs_of(db(), agreement))), 201


@blueprint.get("/donors/<int:donor_id>/agreements/<int:agreement_id>")
def get_agreement(project_id: int, donor_id: int, agreement_id: int) -> Any:
    _, agreement = _agreement(project_id, donor_id, agreement_id)
    return jsonify(agreement_json(agreement, service.orgs_of(db(), agreement)))


@blueprint.patch("/donors/<int:donor_id>/agreements/<int:agreement_id>")
def update_agreement(project_id: int, donor_id: int, agreement_id: int) -> Any:
    _, donor = _managed_donor(project_id, donor_id)
    agreement = service.get_agreement(db(), donor, agreement_id)
    current = agreement_fields(agreement, service.orgs_of(db(), agreement))
    data = validated(AgreementRequest(), {**current, **json_object()})
    service.update_agreement(db(), donor, agreement, data, actor_user_id=current_user().id)
    commit()
    return jsonify(agreement_json(agreement, service.orgs_of(db(), agreement)))


# --- transactions --------------------------------------------------------------------------------


@blueprint.get("/donors/<int:donor_id>/agreements/<int:agreement_id>/transactions")
def list_transactions(project_id: int, donor_id: int, agreement_id: int) -> Any:
    _, agreement = _agreement(project_id, donor_id, agreement_id)
    return jsonify([transaction_json(t) for t in service.transactions_of(db(), [agreement.id])])


@blueprint.post("/donors/<int:donor_id>/agreements/<int:agreement_id>/transactions")
def add_transaction(project_id: int, donor_id: int, agreement_id: int) -> Any:
    _, donor = _managed_donor(project_id, donor_id)
    agreement = service.get_agreement(db(), donor, agreement_id)
    data = load_json(TransactionRequest())
    row = service.add_transaction(
        db(), agreement, data, project_id=project_id, actor_user_id=current_user().id
    )
    commit()
    return jsonify(transaction_json(row)), 201


@blueprint.get("/donors/<int:donor_id>/agreements/<int:agreement_id>/transactions/<int:tx_id>")
def get_transaction(project_id: int, donor_id: int, agreement_id: int, tx_id: int) -> Any:
    _, agreement = _agreement(project_id, donor_id, agreement_id)
    return jsonify(transaction_json(service.get_transaction(db(), agreement, tx_id)))


@blueprint.patch("/donors/<int:donor_id>/agreements/<int:agreement_id>/transactions/<int:tx_id>")
def update_transaction(project_id: int, donor_id: int, agreement_id: int, tx_id: int) -> Any:
    _, donor = _managed_donor(project_id, donor_id)
    agreement = service.get_agreement(db(), donor, agreement_id)
    row = service.get_transaction(db(), agreement, tx_id)
    data = validated(TransactionRequest(), {**transaction_fields(row), **json_object()})
    service.update_transaction(
        db(), agreement, row, data, project_id=project_id, actor_user_id=current_user().id
    )
    commit()
    return jsonify(transaction_json(row))


# --- users who speak for a donor -----------------------------------------------------------------


@blueprint.get("/donors/<int:donor_id>/users")
def list_donor_users(project_id: int, donor_id: int) -> Any:
    _, donor = _managed_donor(project_id, donor_id)
    users = members.donor_users(db(), donor)
    return jsonify([{"id": u.id, "email": u.email, "display_name": u.display_name} for u in users])


@blueprint.post("/donors/<int:donor_id>/users")
def link_donor_user(project_id: int, donor_id: int) -> Any:
    _, donor = _managed_donor(project_id, donor_id)
    data = load_json(DonorUserRequest())
    user = accounts.find_user_by_email(db(), data["email"])
    if user is None:
        raise errors.invalid_input({"email": ["no user with this email"]})
    members.link_user(db(), donor, user, actor_user_id=current_user().id)
    commit()
    return jsonify({"donor_id": donor.id, "user_id": user.id, "email": user.email}), 201


@blueprint.delete("/donors/<int:donor_id>/users/<int:user_id>")
def unlink_donor_user(project_id: int, donor_id: int, user_id: int) -> Any:
    _, donor = _managed_donor(project_id, donor_id)
    members.unlink_user(db(), donor, user_id, actor_user_id=current_user().id)
    commit()
    return "", 204


# --- the donor report and the IATI file ----------------------------------------------------------


@blueprint.get("/reports/donors/<int:donor_id>")
def donor_report(project_id: int, donor_id: int) -> Any:
    return _report(project_id, donor_id, None)


@blueprint.get("/reports/donors/<int:donor_id>.csv")
def donor_report_csv(project_id: int, donor_id: int) -> Any:
    return _report(project_id, donor_id, "csv")


def _report(project_id: int, donor_id: int, fmt: str | None) -> Any:
    donor = _access(project_id).donor(db(), donor_id)
    query = validated(ReportQuery(), request.args.to_dict())
    body = report.donor_report(
        db(),
        project_id,
        donor,
        year=query["year"],
        approved_only=query["approved_only"],
        explain=query["explain"],
    )
    fmt = fmt or query["format"]
    if fmt == "json":
        return jsonify(body)
    content, media_type, name = report.render_report(db(), get_project(db(), project_id), body, fmt)
    disposition = "inline" if fmt == "html" else "attachment"
    return Response(
        content,
        content_type=media_type,
        headers={"Content-Disposition": f'{disposition}; filename="{name}"'},
    )


@blueprint.get("/donors/<int:donor_id>/iati.xml")
def donor_iati(project_id: int, donor_id: int) -> Any:
    donor = _access(project_id).donor(db(), donor_id)
    agreements = service.list_agreements(db(), [donor.id])
    return _xml(iati.activities_xml(db(), project_id, donor, agreements), f"iati-donor-{donor.id}")


@blueprint.get("/donors/<int:donor_id>/agreements/<int:agreement_id>/iati.xml")
def agreement_iati(project_id: int, donor_id: int, agreement_id: int) -> Any:
    donor, agreement = _agreement(project_id, donor_id, agreement_id)
    body = iati.activities_xml(db(), project_id, donor, [agreement])
    return _xml(body, f"iati-agreement-{agreement.id}")


def _xml(body: bytes, name: str) -> Response:
    return Response(
        body,
        content_type="application/xml; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{name}.xml"'},
    )
