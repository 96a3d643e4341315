"""What a caller may send to intake: a report, refused field by field when it is wrong."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from allodiscri.catalogue import DeclarantSchema, FactsSchema
from allodiscri.reference import CHANNELS, PLATFORMS


class ReportSubmissionSchema(Schema):
    submission_id = fields.UUID(
        load_default=None,
        metadata={"description": "Chosen by the caller; a retry with the same id is a no-op."},
    )
    platform = fields.String(required=True, validate=validate.OneOf(sorted(PLATFORMS)))
    channel = fields.String(required=True, validate=validate.OneOf(sorted(CHANNELS)))
    received_at = fields.AwareDateTime(load_default=None, allow_none=True)
    declarant = fields.Nested(DeclarantSchema, required=True)
    facts = fields.Nested(FactsSchema, required=True)
