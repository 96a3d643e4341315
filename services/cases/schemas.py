"""What callers may send to the cases service, turned into workflow commands or refused."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate

from allodiscri.kernel.case_states import PHASES, Status
from allodiscri.kernel.catalogue import ALL_CRITERIA
from allodiscri.kernel.reference import (
    CHANNELS,
    CRITERIA_VERSIONS,
    CURRENT_CRITERIA_VERSION,
    ERASURE_BASES,
    INTERVIEW_MODES,
    KINDS,
    OUTCOMES,
    PLATFORMS,
    REFERRAL_DISPOSITIONS,
)
from services.cases import workflow

REASON = validate.Length(min=1, max=2_000)


def _text(length: validate.Length = REASON) -> fields.String:
    return fields.String(required=True, validate=length)


def _choice(codes, **options) -> fields.String:
    return fields.String(validate=validate.OneOf(sorted(codes)), **options)


class CommandSchema(Schema):
    """Every command names its case, the version the caller saw, and optionally a retry id."""

    case_id = fields.UUID(required=True)
    expected_version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    command_id = fields.UUID(load_default=None, allow_none=True)


def _command_schema(command_type: type, **declared: fields.Field) -> type[Schema]:
    def make(self, data, **kwargs):
        return command_type(**data)

    return type(f"{command_type.__name__}Schema", (Schema,), {**declared, "make": post_load(make)})


def _kinds() -> fields.List:
    return fields.List(
        _choice(KINDS), required=True, validate=validate.Length(min=1, max=len(KINDS))
    )


class QualifyFactsSchema(Schema):
    kinds = _kinds()
    criteria = fields.List(_choice(ALL_CRITERIA), load_default=list)
    criteria_version = fields.Integer(
        load_default=CURRENT_CRITERIA_VERSION, validate=validate.OneOf(sorted(CRITERIA_VERSIONS))
    )
    reason = fields.String(load_default=None, allow_none=True, validate=REASON)

    @post_load
    def make(self, data, **kwargs):
        known = CRITERIA_VERSIONS[data["criteria_version"]]
        unknown = [code for code in data["criteria"] if code not in known]
        if unknown:
            raise ValidationError(
                f"Not in criteria list v{data['criteria_version']}: {', '.join(unknown)}.",
                field_name="criteria",
            )
        return workflow.QualifyFacts(
            kinds=tuple(dict.fromkeys(data["kinds"])),
            criteria=tuple(dict.fromkeys(data["criteria"])),
            criteria_version=data["criteria_version"],
            reason=data["reason"],
        )


COMMAND_SCHEMAS: dict[str, type[Schema]] = {
    "acknowledge_receipt": _command_schema(workflow.AcknowledgeReceipt),
    "assign_listener": _command_schema(
        workflow.AssignListener, listener_id=_text(validate.Length(min=1, max=100))
    ),
    "schedule_interview": _command_schema(
        workflow.ScheduleInterview,
        scheduled_for=fields.AwareDateTime(required=True),
        mode=_choice(INTERVIEW_MODES, required=True),
    ),
    "hold_interview": _command_schema(
        workflow.HoldInterview, notes=_text(validate.Length(min=1, max=20_000))
    ),
    "miss_interview": _command_schema(workflow.MissInterview, reason=_text()),
    "record_unreachable": _command_schema(workflow.RecordUnreachable, note=_text()),
    "begin_treatment": _command_schema(workflow.BeginTreatment, reason=_text()),
    "qualify_facts": QualifyFactsSchema,
    "request_meeting": _command_schema(workflow.RequestMeeting),
    "record_measure": _command_schema(
        workflow.RecordMeasure,
        measure=_text(),
        taken_by=_text(validate.Length(min=1, max=200)),
    ),
    "inform_declarant": _command_schema(
        workflow.InformDeclarant, message=_text(validate.Length(min=1, max=10_000))
    ),
    "open_inquiry": _command_schema(workflow.OpenInquiry, reason=_text()),
    "close_case": _command_schema(
        workflow.CloseCase,
        outcome=_choice(OUTCOMES, required=True),
        reason=_text(),
        referrals_disposition=_choice(REFERRAL_DISPOSITIONS, load_default=None, allow_none=True),
    ),
    "reopen_case": _command_schema(workflow.ReopenCase, reason=_text()),
    "transfer_case": _command_schema(
        workflow.TransferCase, to_platform=_choice(PLATFORMS, required=True), reason=_text()
    ),
    "erase_case": _command_schema(
        workflow.EraseCase, basis=_choice(ERASURE_BASES, load_default="request")
    ),
}


class IdentityRequestSchema(Schema):
    case_id = fields.UUID(required=True)
    reason = _text()


class IdentityDecisionSchema(Schema):
    case_id = fields.UUID(required=True)
    request_id = fields.UUID(required=True)
    reason = fields.String(load_default=None, allow_none=True, validate=REASON)


QUEUE_SORT_KEYS = ("opened_at", "received_on", "last_event_at", "version")


class QueueSchema(Schema):
    """The case queue's filters, order and page."""

    status = fields.List(fields.String(validate=validate.OneOf([s.value for s in Status])))
    phase = fields.String(validate=validate.OneOf(sorted(set(PHASES.values()))))
    listener_id = fields.String(validate=validate.Length(min=1, max=100))
    channel = _choice(CHANNELS)
    kind = _choice(KINDS)
    overdue = fields.Boolean()
    sort = fields.String(
        load_default="-opened_at",
        validate=validate.OneOf([f"{sign}{key}" for key in QUEUE_SORT_KEYS for sign in ("", "-")]),
    )
    page = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1))
    page_size = fields.Integer(
        load_default=50, strict=True, validate=validate.Range(min=1, max=200)
    )
