"""Marshmallow schemas for entity review requests."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class ResolutionRequest(Schema):
    values = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))
    # A resolution that moves a status back must say so: only a reopen may.
    reopen = fields.Boolean(load_default=False)


class ReopenRequest(Schema):
    status = fields.String(required=True, validate=validate.Length(min=1, max=100))
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))


class EntityEditRequest(Schema):
    base_version = fields.Integer(required=True, strict=True)
    values = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)
    label = fields.String(load_default=None, allow_none=True)
    merge = fields.Boolean(load_default=False)


class EntityListSettingsRequest(Schema):
    approval_required = fields.Boolean(required=True)
