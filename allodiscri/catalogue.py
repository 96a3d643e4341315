"""The catalogue of published events: every event type, its schema, version and owner.

This is the public contract other ministry services subscribe to (docs/events.md). Nested
schemas are shared with the services' input schemas, so the boundary and the log agree.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from allodiscri.contracts import ContractRegistry, EventContract
from allodiscri.reference import (
    AGENT_CATEGORIES,
    AGENT_STATUSES,
    CHANNELS,
    CRITERIA_VERSIONS,
    CURRENT_CRITERIA_VERSION,
    DECLARANT_ROLES,
    INTERLOCUTORS,
    KINDS,
    PERIMETERS,
    PLATFORMS,
)

ALL_CRITERIA = sorted({code for codes in CRITERIA_VERSIONS.values() for code in codes})


def _text(max_length: int, **options) -> fields.String:
    return fields.String(validate=validate.Length(max=max_length), **options)


def _choice(codes, **options) -> fields.String:
    return fields.String(validate=validate.OneOf(sorted(codes)), **options)


def _unique(values: list) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Values must be unique.")


class DeclarantSchema(Schema):
    role = _choice(DECLARANT_ROLES, required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    phone = _text(40, load_default=None, allow_none=True)
    perimeter = _choice(PERIMETERS, required=True)
    assignment = _text(200, load_default=None, allow_none=True)
    status = _choice(AGENT_STATUSES, load_default=None, allow_none=True)
    category = _choice(AGENT_CATEGORIES, load_default=None, allow_none=True)
    corps = _text(200, load_default=None, allow_none=True)
    grade = _text(200, load_default=None, allow_none=True)


class FactsSchema(Schema):
    kinds = fields.List(
        _choice(KINDS),
        required=True,
        validate=[validate.Length(min=1, max=len(KINDS)), _unique],
    )
    criteria = fields.List(
        _choice(ALL_CRITERIA), load_default=list, validate=[validate.Length(max=30), _unique]
    )
    criteria_version = fields.Integer(
        load_default=CURRENT_CRITERIA_VERSION, validate=validate.OneOf(sorted(CRITERIA_VERSIONS))
    )
    period = _text(200, load_default=None, allow_none=True)
    place = _text(200, load_default=None, allow_none=True)
    alleged_author_relation = _text(200, load_default=None, allow_none=True)
    narrative = fields.String(required=True, validate=validate.Length(min=1, max=20_000))

    @validates_schema
    def criteria_exist_in_their_version(self, data, **kwargs):
        known = CRITERIA_VERSIONS.get(data.get("criteria_version"), {})
        unknown = [code for code in data.get("criteria", []) if code not in known]
        if unknown:
            raise ValidationError(
                f"Not in criteria list v{data.get('criteria_version')}: {', '.join(unknown)}.",
                field_name="criteria",
            )


class ReportReceivedSchema(Schema):
    report_id = fields.UUID(required=True)
    platform = _choice(PLATFORMS, required=True)
    channel = _choice(CHANNELS, required=True)
    received_at = fields.AwareDateTime(required=True, default_timezone=None)
    declarant = fields.Nested(DeclarantSchema, required=True)
    facts = fields.Nested(FactsSchema, required=True)


class CaseOpenedSchema(Schema):
    case_id = fields.UUID(required=True)
    report_id = fields.UUID(required=True)
    platform = _choice(PLATFORMS, required=True)
    channel = _choice(CHANNELS, required=True)
    kinds = fields.List(_choice(KINDS), required=True)
    criteria = fields.List(_choice(ALL_CRITERIA), required=True)


class ReferralRequestedSchema(Schema):
    referral_id = fields.UUID(required=True)
    case_id = fields.UUID(required=True)
    platform = _choice(PLATFORMS, required=True)
    interlocutor = _choice(INTERLOCUTORS, required=True)


CATALOGUE = ContractRegistry()
CATALOGUE.register(
    EventContract(
        type="ReportReceived",
        version=1,
        schema=ReportReceivedSchema,
        service="intake",
        stream_type="report",
        description="A declarant's report was received on one of the four channels.",
    )
)
CATALOGUE.register(
    EventContract(
        type="CaseOpened",
        version=1,
        schema=CaseOpenedSchema,
        service="cases",
        stream_type="case",
        description="A case was opened for a received report.",
    )
)
CATALOGUE.register(
    EventContract(
        type="ReferralRequested",
        version=1,
        schema=ReferralRequestedSchema,
        service="referrals",
        stream_type="referral",
        description="The cell asked an interlocutor to act on a case.",
    )
)
