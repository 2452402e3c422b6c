"""Marshmallow schemas for project requests."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class ProjectCreateRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
