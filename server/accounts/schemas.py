"""Marshmallow schemas for account requests and responses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.accounts.models import Role
from server.db import utcnow


class SessionRequest(Schema):
    email = fields.String(required=True, validate=validate.Length(min=3, max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class UserCreateRequest(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=10, max=1000))
    display_name = fields.String(load_default="")
    digest = fields.Boolean(load_default=False)


class UserUpdateRequest(Schema):
    active = fields.Boolean()
    digest = fields.Boolean()


class PasswordRequest(Schema):
    password = fields.String(required=True, validate=validate.Length(min=10, max=1000))


class RoleGrantRequest(Schema):
    email = fields.Email(required=True)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    # The survivor caseworker permission (docs/personal-data.md); absent: left as it was.
    personal_data = fields.Boolean(load_default=None)


class AppUserCreateRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    # At most one of the two: the moment the device's token stops working.
    expires_at = fields.AwareDateTime(load_default=None, default_timezone=UTC)
    expires_in_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3650))

    @validates_schema
    def _one_expiry(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("expires_at") is not None and data.get("expires_in_days") is not None:
            raise ValidationError("give expires_at or expires_in_days, not both", "expires_at")


def app_user_expiry(expires_at: datetime | None, expires_in_days: int | None) -> datetime | None:
    """The moment an app user's token expires, from either way of saying it."""
    if expires_in_days is not None:
        return utcnow() + timedelta(days=expires_in_days)
    return expires_at
