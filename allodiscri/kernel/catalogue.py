"""The catalogue of published events: every event type, its schema, version and owner.

This is the public contract other ministry services subscribe to (docs/events.md). Nested
schemas are shared with the services' input schemas, so the boundary and the log agree.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from allodiscri.kernel.contracts import ContractRegistry, EventContract
from allodiscri.kernel.reference import (
    AGENT_CATEGORIES,
    AGENT_STATUSES,
    CHANNELS,
    CRITERIA_VERSIONS,
    CURRENT_CRITERIA_VERSION,
    DEADLINES,
    DECLARANT_ROLES,
    ERASURE_BASES,
    INTERLOCUTORS,
    INTERVIEW_MODES,
    KINDS,
    OUTCOMES,
    PERIMETERS,
    PLATFORMS,
    REFERRAL_DISPOSITIONS,
    REFERRAL_PURPOSES,
)

SHA256_PATTERN = r"^[0-9a-f]{64}$"
"""A SHA-256 in lower-case hex: attachment checksums, and the hash chain's links."""

ALL_CRITERIA = sorted({code for codes in CRITERIA_VERSIONS.values() for code in codes})


def _text(max_length: int, **options) -> fields.String:
    return fields.String(validate=validate.Length(max=max_length), **options)


def _choice(codes, **options) -> fields.String:
    return fields.String(validate=validate.OneOf(sorted(codes)), **options)


PERSONAL = {"personal": True}
"""Marks a field that can name, describe or single out people: sealed in the log."""


def _personal(max_length: int, **options) -> fields.String:
    """Text that can name or describe people: identities, narratives, notes, messages."""
    options.setdefault("required", True)
    return fields.String(
        validate=validate.Length(min=1, max=max_length), metadata=PERSONAL, **options
    )


def _unique(values: list) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("Values must be unique.")


class DeclarantSchema(Schema):
    # Role and perimeter may be unknown until the interview (an e-mail says neither).
    role = _choice(DECLARANT_ROLES, load_default=None, allow_none=True)
    name = _personal(200)
    email = fields.Email(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=254),
        metadata=PERSONAL,
    )
    phone = _text(40, load_default=None, allow_none=True, metadata=PERSONAL)
    perimeter = _choice(PERIMETERS, load_default=None, allow_none=True)
    assignment = _text(200, load_default=None, allow_none=True, metadata=PERSONAL)
    status = _choice(AGENT_STATUSES, load_default=None, allow_none=True)
    category = _choice(AGENT_CATEGORIES, load_default=None, allow_none=True)
    corps = _text(200, load_default=None, allow_none=True, metadata=PERSONAL)
    grade = _text(200, load_default=None, allow_none=True, metadata=PERSONAL)


class FactsSchema(Schema):
    # Empty until qualified when the channel says nothing of them (e-mail).
    kinds = fields.List(
        _choice(KINDS),
        required=True,
        validate=[validate.Length(max=len(KINDS)), _unique],
    )
    criteria = fields.List(
        _choice(ALL_CRITERIA), load_default=list, validate=[validate.Length(max=30), _unique]
    )
    criteria_version = fields.Integer(
        load_default=CURRENT_CRITERIA_VERSION, validate=validate.OneOf(sorted(CRITERIA_VERSIONS))
    )
    period = _text(200, load_default=None, allow_none=True, metadata=PERSONAL)
    place = _text(200, load_default=None, allow_none=True, metadata=PERSONAL)
    alleged_author_relation = _text(200, load_default=None, allow_none=True, metadata=PERSONAL)
    narrative = _personal(20_000)

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


class AttachmentSchema(Schema):
    """A file kept in GridFS, referenced by id and checked by its SHA-256."""

    file_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    filename = _text(255, required=True, metadata=PERSONAL)
    content_type = _text(100, required=True)
    size = fields.Integer(required=True, validate=validate.Range(min=1))
    sha256 = fields.String(required=True, validate=validate.Regexp(SHA256_PATTERN))


class ReportReceivedV2Schema(ReportReceivedSchema):
    attachments = fields.List(fields.Nested(AttachmentSchema), required=True)
    source_reference = _text(300, required=True, allow_none=True)


class ReportEventSchema(Schema):
    report_id = fields.UUID(required=True)


def _event_schema(base: type[Schema], name: str, **declared: fields.Field) -> type[Schema]:
    """An event's schema: the fields every event of its stream carries, and its own."""
    return type(name, (base,), declared)


def _report_event(name: str, **declared: fields.Field) -> type[Schema]:
    return _event_schema(ReportEventSchema, name, **declared)


REPORT_EVENTS: dict[str, tuple[str, type[Schema]]] = {
    "MinutesDrafted": (
        "A listener drafted the minutes of an oral (phone) report.",
        _report_event("MinutesDraftedSchema", text=_personal(20_000)),
    ),
    "MinutesShown": (
        "The minutes were shown to the declarant for checking.",
        _report_event("MinutesShownSchema"),
    ),
    "MinutesRectified": (
        "The declarant rectified the minutes; the rectified text replaces the draft.",
        _report_event("MinutesRectifiedSchema", text=_personal(20_000)),
    ),
    "MinutesConfirmed": (
        "The declarant confirmed the minutes.",
        _report_event("MinutesConfirmedSchema"),
    ),
    "MinutesSigned": (
        "The declarant signed the minutes.",
        _report_event("MinutesSignedSchema"),
    ),
    "DeclarantAddedInformation": (
        "The declarant, with their receipt code, added information or a message.",
        _report_event(
            "DeclarantAddedInformationSchema",
            message=_personal(10_000),
            attachments=fields.List(fields.Nested(AttachmentSchema), required=True),
        ),
    ),
}


class CaseEventSchema(Schema):
    case_id = fields.UUID(required=True)


class CaseOpenedV1Schema(CaseEventSchema):
    report_id = fields.UUID(required=True)
    platform = _choice(PLATFORMS, required=True)
    channel = _choice(CHANNELS, required=True)
    kinds = fields.List(_choice(KINDS), required=True)
    criteria = fields.List(_choice(ALL_CRITERIA), required=True)


class CaseOpenedSchema(CaseOpenedV1Schema):
    received_at = fields.AwareDateTime(required=True, allow_none=True)
    transferred_from = _choice(PLATFORMS, required=True, allow_none=True)


def _case_event(name: str, **declared: fields.Field) -> type[Schema]:
    return _event_schema(CaseEventSchema, name, **declared)


REASON = 2_000


def _qualification() -> dict[str, fields.Field]:
    return {
        "kinds": fields.List(_choice(KINDS), required=True, validate=validate.Length(min=1)),
        "criteria": fields.List(_choice(ALL_CRITERIA), required=True),
        "criteria_version": fields.Integer(
            required=True, validate=validate.OneOf(sorted(CRITERIA_VERSIONS))
        ),
    }


CASE_EVENTS: dict[str, tuple[str, type[Schema]]] = {
    "ReceiptAcknowledged": (
        "The cell acknowledged receipt of the report to the declarant.",
        _case_event("ReceiptAcknowledgedSchema"),
    ),
    "ListenerAssigned": (
        "A listener was assigned (or reassigned) to the case.",
        _case_event(
            "ListenerAssignedSchema",
            listener_id=_text(100, required=True),
            previous_listener_id=_text(100, required=True, allow_none=True),
        ),
    ),
    "InterviewScheduled": (
        "An interview with the declarant was scheduled.",
        _case_event(
            "InterviewScheduledSchema",
            scheduled_for=fields.AwareDateTime(required=True),
            mode=_choice(INTERVIEW_MODES, required=True),
        ),
    ),
    "InterviewHeld": (
        "The interview was held; the listener's notes are recorded.",
        _case_event("InterviewHeldSchema", notes=_personal(20_000)),
    ),
    "InterviewMissed": (
        "The scheduled interview did not take place.",
        _case_event("InterviewMissedSchema", reason=_personal(REASON)),
    ),
    "DeclarantUnreachable": (
        "The cell tried and failed to reach the declarant.",
        _case_event("DeclarantUnreachableSchema", note=_personal(REASON)),
    ),
    "TreatmentBegun": (
        "Treatment began without an interview.",
        _case_event("TreatmentBegunSchema", reason=_personal(REASON)),
    ),
    "FactsQualified": (
        "The listener qualified the facts (kinds and discrimination criteria).",
        _case_event("FactsQualifiedSchema", **_qualification()),
    ),
    "FactsReclassified": (
        "The facts were qualified again, with the reason; the earlier qualification stays.",
        _case_event("FactsReclassifiedSchema", **_qualification(), reason=_personal(REASON)),
    ),
    "MeetingRequested": (
        "The declarant asked for a meeting (due within 20 working days).",
        _case_event("MeetingRequestedSchema"),
    ),
    "MeasureRecorded": (
        "A measure taken by the administration was recorded.",
        _case_event(
            "MeasureRecordedSchema", measure=_personal(REASON), taken_by=_text(200, required=True)
        ),
    ),
    "DeclarantInformed": (
        "The cell sent the declarant a message.",
        _case_event("DeclarantInformedSchema", message=_personal(10_000)),
    ),
    "AdministrativeInquiryOpened": (
        "An administrative inquiry was opened.",
        _case_event("AdministrativeInquiryOpenedSchema", reason=_personal(REASON)),
    ),
    "CaseClosed": (
        "The case was closed with an outcome.",
        _case_event(
            "CaseClosedSchema",
            outcome=_choice(OUTCOMES, required=True),
            reason=_personal(REASON),
            open_referrals=fields.List(fields.UUID(), required=True),
            referrals_disposition=_choice(REFERRAL_DISPOSITIONS, required=True, allow_none=True),
        ),
    ),
    "CaseReopened": (
        "A closed case was reopened.",
        _case_event("CaseReopenedSchema", reason=_personal(REASON)),
    ),
    "CaseTransferred": (
        "The report was transferred to another platform, where a new case is opened.",
        _case_event(
            "CaseTransferredSchema",
            to_platform=_choice(PLATFORMS, required=True),
            reason=_personal(REASON),
        ),
    ),
    "CaseErased": (
        "The case's personal data was erased for good (crypto-shredding): the data keys it "
        "was sealed with were destroyed, so its personal fields read as erased everywhere. "
        "Carries nothing personal; the codes kept in clear, and so the statistics, stay.",
        _case_event(
            "CaseErasedSchema",
            basis=_choice(ERASURE_BASES, required=True),
            erased_subjects=fields.List(
                fields.UUID(), required=True, validate=[validate.Length(min=1, max=2), _unique]
            ),
        ),
    ),
}

DEADLINE_EVENTS: dict[str, tuple[str, type[Schema]]] = {
    "DeadlineApproaching": (
        "A legal deadline of the case is near and not met.",
        _case_event(
            "DeadlineApproachingSchema",
            deadline=_choice(DEADLINES, required=True),
            due_on=fields.Date(required=True),
        ),
    ),
    "DeadlineMissed": (
        "A legal deadline of the case passed without being met.",
        _case_event(
            "DeadlineMissedSchema",
            deadline=_choice(DEADLINES, required=True),
            due_on=fields.Date(required=True),
        ),
    ),
}

ACCESS_EVENTS: dict[str, tuple[str, type[Schema]]] = {
    "CaseContentRead": (
        "Someone read a case's content or the declarant's identity (the access trace).",
        _case_event(
            "CaseContentReadSchema",
            what=_choice(("case", "timeline", "identity", "referrals"), required=True),
        ),
    ),
    "IdentityAccessRequested": (
        "Someone not assigned to the case asked to see the declarant's identity.",
        _case_event(
            "IdentityAccessRequestedSchema",
            request_id=fields.UUID(required=True),
            requester_id=_text(100, required=True),
            reason=_personal(REASON),
        ),
    ),
    "IdentityAccessGranted": (
        "The cell manager granted a request to see the declarant's identity.",
        _case_event(
            "IdentityAccessGrantedSchema",
            request_id=fields.UUID(required=True),
            requester_id=_text(100, required=True),
        ),
    ),
    "IdentityAccessRefused": (
        "The cell manager refused a request to see the declarant's identity.",
        _case_event(
            "IdentityAccessRefusedSchema",
            request_id=fields.UUID(required=True),
            requester_id=_text(100, required=True),
            reason=_personal(REASON),
        ),
    ),
}


class AccessDeniedSchema(Schema):
    action = _text(100, required=True)
    reason = _text(500, required=True)
    claimed_actor_id = _text(100, required=True)
    claimed_role = _text(50, required=True)
    claimed_platform = _text(20, required=True)


class ReferralRequestedV1Schema(Schema):
    referral_id = fields.UUID(required=True)
    case_id = fields.UUID(required=True)
    platform = _choice(PLATFORMS, required=True)
    interlocutor = _choice(INTERLOCUTORS, required=True)


class ReferralRequestedSchema(ReferralRequestedV1Schema):
    purpose = _choice(REFERRAL_PURPOSES, required=True)


class ReferralEventSchema(Schema):
    referral_id = fields.UUID(required=True)
    case_id = fields.UUID(required=True)


def _referral_event(name: str, **declared: fields.Field) -> type[Schema]:
    return _event_schema(ReferralEventSchema, name, **declared)


REFERRAL_EVENTS: dict[str, tuple[str, type[Schema]]] = {
    "ReferralSent": (
        "The referral was sent to the interlocutor.",
        _referral_event(
            "ReferralSentSchema",
            sent_on=fields.Date(required=True),
            note=_personal(REASON, required=True, allow_none=True),
        ),
    ),
    "ReferralAcknowledged": (
        "The interlocutor acknowledged the referral.",
        _referral_event("ReferralAcknowledgedSchema"),
    ),
    "ReferralAnswered": (
        "The interlocutor answered, with the measures taken.",
        _referral_event(
            "ReferralAnsweredSchema",
            answer=_personal(10_000),
            measures=fields.List(_personal(REASON), required=True),
        ),
    ),
    "ReferralReminded": (
        "The interlocutor was reminded: the answer is overdue.",
        _referral_event(
            "ReferralRemindedSchema",
            reminder=fields.Integer(required=True, validate=validate.Range(min=1)),
            due_on=fields.Date(required=True),
        ),
    ),
    "ReferralClosed": (
        "The referral was closed after its answer.",
        _referral_event("ReferralClosedSchema", reason=_personal(REASON)),
    ),
    "ReferralWithdrawn": (
        "The referral was withdrawn (e.g. its case was closed without awaiting answers).",
        _referral_event("ReferralWithdrawnSchema", reason=_personal(REASON)),
    ),
}

CATALOGUE = ContractRegistry()


def _register(event_type, version, schema, service, stream_type, description) -> None:
    CATALOGUE.register(
        EventContract(event_type, version, schema, service, stream_type, description)
    )


_register(
    "ReportReceived",
    1,
    ReportReceivedSchema,
    "intake",
    "report",
    "A declarant's report was received on one of the four channels.",
)
_register(
    "ReportReceived",
    2,
    ReportReceivedV2Schema,
    "intake",
    "report",
    "A declarant's report was received on one of the four channels, with its attachments.",
)
CATALOGUE.register_upcaster(
    "ReportReceived", 1, lambda data: {**data, "attachments": [], "source_reference": None}
)
for _type, (_description, _schema) in REPORT_EVENTS.items():
    _register(_type, 1, _schema, "intake", "report", _description)
_register(
    "CaseOpened", 1, CaseOpenedV1Schema, "cases", "case", "A case was opened for a received report."
)
_register(
    "CaseOpened",
    2,
    CaseOpenedSchema,
    "cases",
    "case",
    "A case was opened for a received report (or for a report transferred from another platform).",
)
CATALOGUE.register_upcaster(
    "CaseOpened", 1, lambda data: {**data, "received_at": None, "transferred_from": None}
)
for _type, (_description, _schema) in CASE_EVENTS.items():
    _register(_type, 1, _schema, "cases", "case", _description)
for _type, (_description, _schema) in DEADLINE_EVENTS.items():
    _register(_type, 1, _schema, "cases", "deadline", _description)
for _type, (_description, _schema) in ACCESS_EVENTS.items():
    _register(_type, 1, _schema, "cases", "access", _description)
_register(
    "ReferralRequested",
    1,
    ReferralRequestedV1Schema,
    "referrals",
    "referral",
    "The cell asked an interlocutor to act on a case.",
)
_register(
    "ReferralRequested",
    2,
    ReferralRequestedSchema,
    "referrals",
    "referral",
    "The cell asked an interlocutor to act on a case, to support the victim or to handle the "
    "facts.",
)
CATALOGUE.register_upcaster("ReferralRequested", 1, lambda data: {**data, "purpose": "unspecified"})
for _type, (_description, _schema) in REFERRAL_EVENTS.items():
    _register(_type, 1, _schema, "referrals", "referral", _description)
_register(
    "AccessDenied",
    1,
    AccessDeniedSchema,
    "security",
    "denied",
    "A call was refused: missing, forged or expired token, role not allowed, or another "
    "platform's data. Kept in the log for auditors; not published.",
)
