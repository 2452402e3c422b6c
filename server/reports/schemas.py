"""Marshmallow schemas for the reports' settings, strategy targets and taskings."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class SettingsRequest(Schema):
    approved_only = fields.Boolean(load_default=None)
    min_cell_size = fields.Integer(
        strict=True, load_default=None, validate=validate.Range(min=1, max=100)
    )


class TargetRequest(Schema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=200))
    admin_pcode = fields.String(load_default="", validate=validate.Length(max=32))
    metric = fields.String(
        required=True, validate=validate.OneOf(["released_m2", "cleared_m2", "areas_closed"])
    )
    target_value = fields.Float(
        required=True, allow_nan=False, validate=validate.Range(min=0, min_inclusive=False)
    )
    start_date = fields.Date(required=True)
    target_date = fields.Date(required=True)


class TaskingRequest(Schema):
    operator = fields.String(required=True, validate=validate.Length(min=1, max=200))
    hazard_area = fields.String(required=True, validate=validate.Length(min=1, max=64))
    task_id = fields.String(load_default="", validate=validate.Length(max=200))
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
