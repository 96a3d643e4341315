"""What callers may ask the reporting service: an instant in the past, a table, a format."""

from __future__ import annotations

from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, validate, validates

from services.reporting.export import EXPORTABLE, FORMATS


class StatisticsQuerySchema(Schema):
    as_of = fields.AwareDateTime(load_default=None, allow_none=True)

    @validates("as_of")
    def in_the_past(self, value, **kwargs):
        # Figures "as of" a future instant would change as the log grows: not reproducible.
        if value is not None and value > datetime.now(UTC):
            raise ValidationError("Must not be in the future.")


class StatisticsExportSchema(StatisticsQuerySchema):
    table = fields.String(required=True, validate=validate.OneOf(EXPORTABLE))
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
