"""Marshmallow schemas for form requests."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.forms.models import FormState


class FormStateRequest(Schema):
    state = fields.String(required=True, validate=validate.OneOf([s.value for s in FormState]))
