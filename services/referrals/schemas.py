"""What a caller may send to referrals."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from allodiscri.reference import INTERLOCUTORS


class ReferralRequestSchema(Schema):
    case_id = fields.UUID(required=True)
    interlocutor = fields.String(required=True, validate=validate.OneOf(sorted(INTERLOCUTORS)))
    command_id = fields.UUID(load_default=None, allow_none=True)
