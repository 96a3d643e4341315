"""What callers may send to referrals."""

from __future__ import annotations

from datetime import datetime

from marshmallow import Schema, ValidationError, fields, post_load, validate

from allodiscri.kernel.reference import INTERLOCUTORS, REFERRAL_PURPOSES
from allodiscri.kernel.workdays import PLATFORM_TIMEZONE
from services.referrals import domain

TEXT = validate.Length(min=1, max=2_000)


class ReferralRequestSchema(Schema):
    case_id = fields.UUID(required=True)
    interlocutor = fields.String(required=True, validate=validate.OneOf(sorted(INTERLOCUTORS)))
    purpose = fields.String(
        required=True,
        validate=validate.OneOf(sorted(set(REFERRAL_PURPOSES) - {"unspecified"})),
    )
    command_id = fields.UUID(load_default=None, allow_none=True)


class ReferralCommandSchema(Schema):
    referral_id = fields.UUID(required=True)
    expected_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class SendSchema(Schema):
    sent_on = fields.Date(load_default=None, allow_none=True)
    note = fields.String(load_default=None, allow_none=True, validate=TEXT)

    @post_load
    def make(self, data, **kwargs):
        today = datetime.now(PLATFORM_TIMEZONE).date()
        sent_on = data["sent_on"] or today
        if sent_on > today:
            raise ValidationError("A referral cannot be sent in the future.", "sent_on")
        return domain.SendReferral(sent_on, data["note"])


class AcknowledgeSchema(Schema):
    @post_load
    def make(self, data, **kwargs):
        return domain.AcknowledgeReferral()


class AnswerSchema(Schema):
    answer = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    measures = fields.List(
        fields.String(validate=TEXT), load_default=list, validate=validate.Length(max=50)
    )

    @post_load
    def make(self, data, **kwargs):
        return domain.AnswerReferral(data["answer"], tuple(data["measures"]))


class ReasonSchema(Schema):
    reason = fields.String(required=True, validate=TEXT)


class CloseSchema(ReasonSchema):
    @post_load
    def make(self, data, **kwargs):
        return domain.CloseReferral(data["reason"])


COMMAND_SCHEMAS = {
    "send_referral": SendSchema,
    "acknowledge_referral": AcknowledgeSchema,
    "answer_referral": AnswerSchema,
    "close_referral": CloseSchema,
}
