"""Marshmallow schemas for account requests and responses."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.accounts.models import Role


class SessionRequest(Schema):
    email = fields.String(required=True, validate=validate.Length(min=3, max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class UserCreateRequest(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=10, max=1000))
    display_name = fields.String(load_default="")


class RoleGrantRequest(Schema):
    email = fields.Email(required=True)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))


class AppUserCreateRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
