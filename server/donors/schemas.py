"""Marshmallow schemas for donors, funding agreements, participating organisations and
transactions. Every refusal names its field (``request.invalid`` with ``errors``)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from server.donors import codes

_NOT_NEGATIVE = validate.Range(min=0, error="must not be negative")
_ORG_TYPE = validate.Regexp(r"^([0-9]{2})?$", error="an IATI OrganisationType code, e.g. 10 or 40")


def _check(problem: str | None) -> None:
    if problem:
        raise ValidationError(problem)


class _OrgRef(fields.String):
    """An IATI organisation identifier (``GB-GOV-1``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs)).strip()
        _check(codes.org_ref_problem(text))
        return text


class _Currency(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs)).strip()
        _check(codes.currency_problem(text))
        return text


class _Money(fields.Decimal):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(places=2, allow_nan=False, validate=_NOT_NEGATIVE, **kwargs)


class DonorRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    iati_org_ref = _OrgRef(required=True)
    org_type = fields.String(load_default="", validate=_ORG_TYPE)


class ParticipatingOrgRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    iati_org_ref = fields.String(load_default="")
    role = fields.Integer(
        required=True,
        strict=True,
        validate=validate.OneOf(
            [r.value for r in codes.OrgRole],
            error="an IATI role: 1 funding, 2 accountable, 3 extending, 4 implementing",
        ),
    )
    org_type = fields.String(load_default="", validate=_ORG_TYPE)

    @validates("iati_org_ref")
    def _ref(self, value: str, **_kwargs: Any) -> None:
        if value:
            _check(codes.org_ref_problem(value))


class _PCode(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs)).strip()
        if not codes.PCODE.match(text):
            raise ValidationError("not a P-code (country letters and digits, e.g. LA09, LA0901)")
        return text


class AgreementRequest(Schema):
    # Checked against the donor's identifier by the service: it knows the donor.
    iati_identifier = fields.String(required=True, validate=validate.Length(min=3, max=300))
    title = fields.String(required=True, validate=validate.Length(min=1, max=500))
    description = fields.String(load_default="", validate=validate.Length(max=10000))
    amount = _Money(required=True)
    currency = _Currency(required=True)
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    actual_start = fields.Date(load_default=None, allow_none=True)
    actual_end = fields.Date(load_default=None, allow_none=True)
    recipient_country = fields.String(
        load_default="",
        validate=validate.Regexp(r"^([A-Z]{2})?$", error="an ISO 3166-1 code, e.g. LA"),
    )
    hazard_areas = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)), load_default=list
    )
    activities = fields.List(
        fields.String(validate=validate.Length(min=1, max=40)), load_default=list
    )
    admin_areas = fields.List(_PCode(), load_default=list)
    participating_orgs = fields.List(fields.Nested(ParticipatingOrgRequest), load_default=list)

    @validates_schema
    def _period(self, data: dict[str, Any], **_kwargs: Any) -> None:
        start, end = data.get("period_start"), data.get("period_end")
        if start is not None and end is not None and end < start:
            raise ValidationError("the period ends before it starts", "period_end")
        actual_start, actual_end = data.get("actual_start"), data.get("actual_end")
        if actual_start is not None and actual_end is not None and actual_end < actual_start:
            raise ValidationError("the activity ends before it starts", "actual_end")


class TransactionRequest(Schema):
    type = fields.Raw(required=True)
    date = fields.Date(required=True)
    value = _Money(required=True)
    # Default: the agreement's currency; the value date defaults to the transaction date.
    currency = _Currency(load_default=None)
    value_date = fields.Date(load_default=None, allow_none=True)
    description = fields.String(load_default="", validate=validate.Length(max=500))

    @validates("type")
    def _type(self, value: Any, **_kwargs: Any) -> None:
        if codes.transaction_type(value) is None:
            raise ValidationError(
                "commitment, disbursement or expenditure (IATI transaction types 2, 3, 4)"
            )


class DonorUserRequest(Schema):
    email = fields.Email(required=True)


class ReportQuery(Schema):
    year = fields.Integer(load_default=None, validate=validate.Range(min=1990, max=2100))
    approved_only = fields.Boolean(load_default=True)
    explain = fields.Boolean(load_default=False)
    format = fields.String(
        load_default="json", validate=validate.OneOf(["json", "csv", "xlsx", "html"])
    )
