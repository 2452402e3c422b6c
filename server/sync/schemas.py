"""Marshmallow schemas for sync requests. Unknown fields are ignored so that newer clients can
send more than this server reads."""

from __future__ import annotations

from marshmallow import EXCLUDE, INCLUDE, Schema, fields, validate

SHA256 = validate.Regexp(r"^[0-9a-f]{64}$", error="not a lowercase hexadecimal SHA-256")
MAX_ITEMS = 1000
MAX_HASHES = 1000


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE


class AttachmentRefSchema(_Lenient):
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    sha256 = fields.String(required=True, validate=SHA256)


class HopSchema(Schema):
    """One hop of a submission's journey; fields beyond these are kept as provenance."""

    class Meta:
        unknown = INCLUDE

    hop = fields.String(required=True, validate=validate.Length(min=1, max=50))
    id = fields.String(allow_none=True, validate=validate.Length(max=200))
    received_at = fields.String(allow_none=True, validate=validate.Length(max=64))


class PushItemSchema(_Lenient):
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=200))
    xml = fields.String(required=True, validate=validate.Length(min=1))
    attachments = fields.List(
        fields.Nested(AttachmentRefSchema), load_default=list, validate=validate.Length(max=500)
    )
    via = fields.List(fields.Nested(HopSchema), load_default=list, validate=validate.Length(max=20))


class PushRequest(_Lenient):
    project_id = fields.Integer(required=True, strict=True)
    items = fields.List(
        fields.Nested(PushItemSchema), required=True, validate=validate.Length(max=MAX_ITEMS)
    )


class MissingBlobsRequest(_Lenient):
    project_id = fields.Integer(required=True, strict=True)
    sha256 = fields.List(
        fields.String(validate=SHA256), required=True, validate=validate.Length(max=MAX_HASHES)
    )
