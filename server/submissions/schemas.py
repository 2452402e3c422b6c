"""Marshmallow schemas for the submissions JSON API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from server.submissions.models import ReviewState


class ReviewRequest(Schema):
    review_state = fields.String(
        required=True, validate=validate.OneOf([s.value for s in ReviewState])
    )
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class ListQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))
