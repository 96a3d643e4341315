"""The four-phase case workflow: one explicit table of what each command may do in each state.

Recueil (received, acknowledged) → entretien (interview scheduled) → traitement (in treatment)
→ clôture (closed, or an administrative inquiry); a closed case may be reopened, and a report
outside the platform's perimeter is transferred. A closed or transferred case is finally
erased (its personal data destroyed, on request or when its retention runs out), after which
it takes no command at all. `WORKFLOW` is the whole state machine: every command in every
state either yields its event or is refused with `WorkflowRefusal`, which names the state and
the rule. Pure: no I/O, tested state by state and command by command.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from allodiscri.kernel.case_states import Case, Status
from allodiscri.kernel.statemachine import Transition, WorkflowRefusal, command_name

# -- commands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AcknowledgeReceipt:
    pass


@dataclass(frozen=True)
class AssignListener:
    listener_id: str


@dataclass(frozen=True)
class ScheduleInterview:
    scheduled_for: datetime
    mode: str


@dataclass(frozen=True)
class HoldInterview:
    notes: str


@dataclass(frozen=True)
class MissInterview:
    reason: str


@dataclass(frozen=True)
class RecordUnreachable:
    note: str


@dataclass(frozen=True)
class BeginTreatment:
    reason: str


@dataclass(frozen=True)
class QualifyFacts:
    kinds: tuple[str, ...]
    criteria: tuple[str, ...]
    criteria_version: int
    reason: str | None = None


@dataclass(frozen=True)
class RequestMeeting:
    pass


@dataclass(frozen=True)
class RecordMeasure:
    measure: str
    taken_by: str


@dataclass(frozen=True)
class InformDeclarant:
    message: str


@dataclass(frozen=True)
class OpenInquiry:
    reason: str


@dataclass(frozen=True)
class CloseCase:
    outcome: str
    reason: str
    referrals_disposition: str | None = None
    open_referrals: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReopenCase:
    reason: str


@dataclass(frozen=True)
class TransferCase:
    to_platform: str
    reason: str


@dataclass(frozen=True)
class EraseCase:
    """Destroy the case's personal data. The handler fills in what only the log knows: its
    referrals still open, and the other cases of its report (opened by a transfer) that are
    not erased yet, since the report's data key is theirs too."""

    basis: str
    open_referrals: tuple[str, ...] = ()
    other_cases: tuple[str, ...] = ()


Command = (
    AcknowledgeReceipt
    | AssignListener
    | ScheduleInterview
    | HoldInterview
    | MissInterview
    | RecordUnreachable
    | BeginTreatment
    | QualifyFacts
    | RequestMeeting
    | RecordMeasure
    | InformDeclarant
    | OpenInquiry
    | CloseCase
    | ReopenCase
    | TransferCase
    | EraseCase
)


# -- the state machine --------------------------------------------------------------------------

S = Status
LIVE = frozenset({S.RECEIVED, S.ACKNOWLEDGED, S.INTERVIEW_SCHEDULED, S.IN_TREATMENT, S.INQUIRY})
FOLLOWED = LIVE - {S.RECEIVED}
ANY_STATE = frozenset(Status)
ERASABLE = frozenset({S.CLOSED, S.TRANSFERRED})
ERASED_RULE = "an erased case takes no command: its personal data is gone for good"


WORKFLOW: dict[type, Transition] = {
    AcknowledgeReceipt: Transition(
        "ReceiptAcknowledged",
        frozenset({S.RECEIVED}),
        "a receipt is acknowledged once, when the report has just been received",
        S.ACKNOWLEDGED,
    ),
    AssignListener: Transition(
        "ListenerAssigned", LIVE, "only a live case is assigned (reopen a closed case first)"
    ),
    ScheduleInterview: Transition(
        "InterviewScheduled",
        frozenset({S.ACKNOWLEDGED, S.INTERVIEW_SCHEDULED, S.IN_TREATMENT}),
        "an interview follows the acknowledgement and precedes the inquiry or the closure",
        S.INTERVIEW_SCHEDULED,
    ),
    HoldInterview: Transition(
        "InterviewHeld",
        frozenset({S.INTERVIEW_SCHEDULED}),
        "only a scheduled interview can be held",
        S.IN_TREATMENT,
    ),
    MissInterview: Transition(
        "InterviewMissed",
        frozenset({S.INTERVIEW_SCHEDULED}),
        "only a scheduled interview can be missed",
        returns="the status before the interview was scheduled",
    ),
    RecordUnreachable: Transition(
        "DeclarantUnreachable",
        frozenset({S.ACKNOWLEDGED, S.INTERVIEW_SCHEDULED, S.IN_TREATMENT}),
        "the declarant is sought between the acknowledgement and the inquiry or the closure",
    ),
    BeginTreatment: Transition(
        "TreatmentBegun",
        frozenset({S.ACKNOWLEDGED}),
        "treatment without an interview starts right after the acknowledgement",
        S.IN_TREATMENT,
    ),
    QualifyFacts: Transition(
        "FactsQualified", LIVE, "the facts of a closed or transferred case are not requalified"
    ),
    RequestMeeting: Transition(
        "MeetingRequested",
        FOLLOWED - {S.INQUIRY},
        "a meeting is asked for after the acknowledgement and before the inquiry or the closure",
    ),
    RecordMeasure: Transition(
        "MeasureRecorded",
        frozenset({S.IN_TREATMENT, S.INQUIRY}),
        "the administration's measures are recorded during treatment or the inquiry",
    ),
    InformDeclarant: Transition(
        "DeclarantInformed",
        ANY_STATE - {S.RECEIVED, S.TRANSFERRED, S.ERASED},
        "the acknowledgement is the first message; a transferred case is followed elsewhere",
    ),
    OpenInquiry: Transition(
        "AdministrativeInquiryOpened",
        frozenset({S.IN_TREATMENT}),
        "an administrative inquiry is opened from treatment",
        S.INQUIRY,
    ),
    CloseCase: Transition(
        "CaseClosed",
        FOLLOWED,
        "a case is closed after its acknowledgement, and only once",
        S.CLOSED,
    ),
    ReopenCase: Transition(
        "CaseReopened", frozenset({S.CLOSED}), "only a closed case is reopened", S.IN_TREATMENT
    ),
    TransferCase: Transition(
        "CaseTransferred",
        frozenset({S.RECEIVED, S.ACKNOWLEDGED}),
        "a report is transferred to another platform before its interview",
        S.TRANSFERRED,
    ),
    EraseCase: Transition(
        "CaseErased",
        ERASABLE,
        "only a closed or transferred case is erased (close it first)",
        S.ERASED,
    ),
}


def decide(case: Case, command: Command) -> tuple[str, dict[str, Any]]:
    """The event `command` records on `case`, or `WorkflowRefusal`."""
    transition = WORKFLOW[type(command)]
    name = command_name(type(command))
    if case.status == S.ERASED:
        raise WorkflowRefusal(name, case.status, ERASED_RULE)
    if case.status not in transition.allowed_in:
        raise WorkflowRefusal(name, case.status, transition.rule)

    def refuse(rule: str):
        raise WorkflowRefusal(name, case.status, rule)

    data: dict[str, Any] = {"case_id": case.case_id}
    event = transition.event
    match command:
        case AssignListener(listener_id=listener_id):
            if listener_id == case.listener_id:
                refuse(f"{listener_id} is already the assigned listener")
            data |= {"listener_id": listener_id, "previous_listener_id": case.listener_id}
        case ScheduleInterview(scheduled_for=when, mode=mode):
            if case.listener_id is None:
                refuse("a listener is assigned before an interview is scheduled")
            data |= {"scheduled_for": when.isoformat(), "mode": mode}
        case HoldInterview(notes=notes):
            data["notes"] = notes
        case MissInterview(reason=text) | BeginTreatment(reason=text) | OpenInquiry(reason=text):
            data["reason"] = text
        case ReopenCase(reason=text):
            data["reason"] = text
        case RecordUnreachable(note=note):
            data["note"] = note
        case QualifyFacts():
            if case.qualified:
                if not command.reason:
                    refuse("reclassifying facts already qualified needs a reason")
                event = "FactsReclassified"
                data["reason"] = command.reason
            data |= {
                "kinds": list(command.kinds),
                "criteria": list(command.criteria),
                "criteria_version": command.criteria_version,
            }
        case RequestMeeting():
            if case.meeting_requested_on and not case.meeting_held_on:
                refuse("a meeting is already asked for and not yet held")
        case RecordMeasure(measure=measure, taken_by=taken_by):
            data |= {"measure": measure, "taken_by": taken_by}
        case InformDeclarant(message=message):
            data["message"] = message
        case CloseCase():
            if command.open_referrals and command.referrals_disposition is None:
                refuse(
                    f"{len(command.open_referrals)} referral(s) are still open: say whether "
                    "they are withdrawn or await their answers (referrals_disposition)"
                )
            data |= {
                "outcome": command.outcome,
                "reason": command.reason,
                "open_referrals": list(command.open_referrals),
                "referrals_disposition": (
                    command.referrals_disposition if command.open_referrals else None
                ),
            }
        case EraseCase():
            if command.open_referrals:
                refuse(
                    f"{len(command.open_referrals)} referral(s) still await their answers: "
                    "a case is erased once its referrals are closed"
                )
            if command.other_cases:
                refuse(
                    "its report is still handled in the case its transfer opened on another "
                    "platform, whose data would go with it: that case is erased first"
                )
            subjects = [case.case_id]
            if case.report_id and case.report_id != case.case_id:
                subjects.append(case.report_id)
            data |= {"basis": command.basis, "erased_subjects": subjects}
        case TransferCase(to_platform=to_platform, reason=reason):
            if to_platform == case.platform:
                refuse(f"the case already belongs to {to_platform}")
            data |= {"to_platform": to_platform, "reason": reason}
    return event, data
