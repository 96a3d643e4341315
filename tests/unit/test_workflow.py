"""The state machine, exhaustively: every status × every command."""

import dataclasses
from datetime import UTC, date, datetime

import pytest

from allodiscri.kernel.case_states import Case, Status, apply, fold
from services.cases.workflow import (
    WORKFLOW,
    AcknowledgeReceipt,
    AssignListener,
    BeginTreatment,
    CloseCase,
    EraseCase,
    HoldInterview,
    InformDeclarant,
    MissInterview,
    OpenInquiry,
    QualifyFacts,
    RecordMeasure,
    RecordUnreachable,
    ReopenCase,
    RequestMeeting,
    ScheduleInterview,
    TransferCase,
    WorkflowRefusal,
    command_name,
    decide,
)
from tests.unit.test_cases_and_referrals import CASE_ID, recorded

WHEN = datetime(2026, 12, 1, 10, tzinfo=UTC)
COMMANDS = [
    AcknowledgeReceipt(),
    AssignListener("listener-2"),
    ScheduleInterview(WHEN, "phone"),
    HoldInterview("notes"),
    MissInterview("no answer"),
    RecordUnreachable("voicemail"),
    BeginTreatment("declined an interview"),
    QualifyFacts(("discrimination",), ("origine",), 2),
    RequestMeeting(),
    RecordMeasure("changement d'équipe", "bureau RH"),
    InformDeclarant("Votre signalement est en cours de traitement."),
    OpenInquiry("faits graves"),
    CloseCase("information-only", "orienté vers le médecin de prévention"),
    ReopenCase("nouveaux faits"),
    TransferCase("PN", "agent de la police nationale"),
    EraseCase("request"),
]

R, A, IS, T, Q, C, X, E = (
    "received",
    "acknowledged",
    "interview-scheduled",
    "in-treatment",
    "inquiry",
    "closed",
    "transferred",
    "erased",
)
# Written out by hand from the design, independently of WORKFLOW: which states accept what.
EXPECTED_ALLOWED = {
    "acknowledge_receipt": {R},
    "assign_listener": {R, A, IS, T, Q},
    "schedule_interview": {A, IS, T},
    "hold_interview": {IS},
    "miss_interview": {IS},
    "record_unreachable": {A, IS, T},
    "begin_treatment": {A},
    "qualify_facts": {R, A, IS, T, Q},
    "request_meeting": {A, IS, T},
    "record_measure": {T, Q},
    "inform_declarant": {A, IS, T, Q, C},
    "open_inquiry": {T},
    "close_case": {A, IS, T, Q},
    "reopen_case": {C},
    "transfer_case": {R, A},
    "erase_case": {C, X},
}
EXPECTED_NEXT = {
    "acknowledge_receipt": A,
    "schedule_interview": IS,
    "hold_interview": T,
    "begin_treatment": T,
    "open_inquiry": Q,
    "close_case": C,
    "reopen_case": T,
    "transfer_case": X,
    "erase_case": E,
}

# The refusal each command gives out of its states, as docs/workflow.md states it, by hand.
EXPECTED_RULE = {
    "acknowledge_receipt": (
        "a receipt is acknowledged once, when the report has just been received"
    ),
    "assign_listener": "only a live case is assigned (reopen a closed case first)",
    "schedule_interview": (
        "an interview follows the acknowledgement and precedes the inquiry or the closure"
    ),
    "hold_interview": "only a scheduled interview can be held",
    "miss_interview": "only a scheduled interview can be missed",
    "record_unreachable": (
        "the declarant is sought between the acknowledgement and the inquiry or the closure"
    ),
    "begin_treatment": "treatment without an interview starts right after the acknowledgement",
    "qualify_facts": "the facts of a closed or transferred case are not requalified",
    "request_meeting": (
        "a meeting is asked for after the acknowledgement and before the inquiry or the closure"
    ),
    "record_measure": "the administration's measures are recorded during treatment or the inquiry",
    "inform_declarant": (
        "the acknowledgement is the first message; a transferred case is followed elsewhere"
    ),
    "open_inquiry": "an administrative inquiry is opened from treatment",
    "close_case": "a case is closed after its acknowledgement, and only once",
    "reopen_case": "only a closed case is reopened",
    "transfer_case": "a report is transferred to another platform before its interview",
    "erase_case": "only a closed or transferred case is erased (close it first)",
}
ERASED_RULE = "an erased case takes no command: its personal data is gone for good"


def case_in(status: Status, **changes) -> Case:
    base = Case(
        case_id=CASE_ID,
        platform="SG",
        status=status,
        version=3,
        received_on=date(2026, 11, 27),
        listener_id="listener-1",
        status_before_interview=Status.ACKNOWLEDGED,
    )
    return dataclasses.replace(base, **changes)


def record(case: Case, event_type: str, data: dict) -> Case:
    return apply(
        case, recorded(event_type, data, stream=f"case-{CASE_ID}", version=case.version + 1)
    )


def test_the_table_covers_every_command():
    assert {command_name(type(c)) for c in COMMANDS} == set(EXPECTED_ALLOWED) == set(EXPECTED_RULE)
    assert set(WORKFLOW) == {type(c) for c in COMMANDS}


@pytest.mark.parametrize("status", list(Status), ids=str)
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: command_name(type(c)))
def test_every_command_in_every_state(status, command):
    name = command_name(type(command))
    case = case_in(status)
    if status.value not in EXPECTED_ALLOWED[name]:
        with pytest.raises(WorkflowRefusal) as refused:
            decide(case, command)
        assert refused.value.status == status
        assert f"the case is {status.value};" in str(refused.value)
        rule = ERASED_RULE if status == Status.ERASED else EXPECTED_RULE[name]
        assert refused.value.rule == rule
        return
    event_type, data = decide(case, command)
    assert data["case_id"] == CASE_ID
    after = record(case, event_type, data)
    assert after.version == case.version + 1
    expected = EXPECTED_NEXT.get(name, status.value)
    if name == "miss_interview":
        expected = A  # back to where the case stood before the interview was scheduled
    assert after.status.value == expected


def test_an_interview_needs_a_listener():
    with pytest.raises(WorkflowRefusal, match="a listener is assigned before"):
        decide(case_in(Status.ACKNOWLEDGED, listener_id=None), ScheduleInterview(WHEN, "video"))


def test_assigning_the_same_listener_again_is_refused_and_reassigning_names_the_previous():
    with pytest.raises(WorkflowRefusal, match="already the assigned listener"):
        decide(case_in(Status.ACKNOWLEDGED), AssignListener("listener-1"))
    _, data = decide(case_in(Status.ACKNOWLEDGED), AssignListener("listener-9"))
    assert data["previous_listener_id"] == "listener-1"


def test_reclassification_is_its_own_event_and_needs_a_reason():
    case = case_in(Status.IN_TREATMENT)
    event_type, data = decide(case, QualifyFacts(("violence",), (), 2))
    assert event_type == "FactsQualified"
    qualified = record(case, event_type, data)
    with pytest.raises(WorkflowRefusal, match="needs a reason"):
        decide(qualified, QualifyFacts(("harcelement-moral",), (), 2))
    event_type, data = decide(qualified, QualifyFacts(("harcelement-moral",), (), 2, "entretien"))
    assert event_type == "FactsReclassified" and data["reason"] == "entretien"
    assert record(qualified, event_type, data).kinds == ("harcelement-moral",)


def test_closing_with_open_referrals_requires_saying_what_happens_to_them():
    case = case_in(Status.IN_TREATMENT)
    with pytest.raises(WorkflowRefusal, match="1 referral\\(s\\) are still open"):
        decide(case, CloseCase("information-only", "fin", open_referrals=("r-1",)))
    _, data = decide(case, CloseCase("information-only", "fin", "withdraw", ("r-1",)))
    assert (data["referrals_disposition"], data["open_referrals"]) == ("withdraw", ["r-1"])
    _, data = decide(case, CloseCase("information-only", "fin", "withdraw"))
    assert data["referrals_disposition"] is None


def test_a_pending_meeting_request_is_not_asked_twice_until_held():
    case = record(case_in(Status.ACKNOWLEDGED), "MeetingRequested", {"case_id": CASE_ID})
    with pytest.raises(WorkflowRefusal, match="already asked for"):
        decide(case, RequestMeeting())
    scheduled = record(case, *decide(case, ScheduleInterview(WHEN, "in-person")))
    held = record(scheduled, *decide(scheduled, HoldInterview("notes")))
    assert held.meeting_held_on is not None
    assert decide(held, RequestMeeting())[0] == "MeetingRequested"


def test_transfer_to_the_same_platform_is_refused():
    with pytest.raises(WorkflowRefusal, match="already belongs to SG"):
        decide(case_in(Status.RECEIVED), TransferCase("SG", "x"))


def test_a_missed_follow_up_interview_returns_to_treatment():
    case = case_in(Status.IN_TREATMENT)
    scheduled = record(case, *decide(case, ScheduleInterview(WHEN, "phone")))
    assert scheduled.status_before_interview == Status.IN_TREATMENT
    assert (
        record(scheduled, *decide(scheduled, MissInterview("absent"))).status == Status.IN_TREATMENT
    )


def test_folding_records_the_dates_deadlines_need():
    opened = recorded(
        "CaseOpened",
        {
            "case_id": CASE_ID,
            "report_id": CASE_ID,
            "platform": "SG",
            "channel": "postal",
            "kinds": ["violence"],
            "criteria": [],
            "received_at": "2026-11-20T09:00:00+00:00",
        },
        stream=f"case-{CASE_ID}",
    )
    case = fold([opened])
    assert (case.status, case.received_on) == (Status.RECEIVED, date(2026, 11, 20))
    acknowledged = record(case, *decide(case, AcknowledgeReceipt()))
    assert acknowledged.acknowledged_on == date(2026, 11, 28)
    informed = record(acknowledged, *decide(acknowledged, InformDeclarant("suivi")))
    assert informed.first_feedback_on == date(2026, 11, 28)
    with pytest.raises(ValueError, match="precedes CaseOpened"):
        fold([recorded("ReceiptAcknowledged", {}, stream=f"case-{CASE_ID}")])


def test_erasure_names_the_case_and_the_report_its_transfer_came_from():
    closed = case_in(Status.CLOSED, report_id=CASE_ID)
    assert decide(closed, EraseCase("retention")) == (
        "CaseErased",
        {"case_id": CASE_ID, "basis": "retention", "erased_subjects": [CASE_ID]},
    )
    report_id = "0f5c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    opened_by_transfer = case_in(Status.CLOSED, report_id=report_id)
    _, data = decide(opened_by_transfer, EraseCase("request"))
    assert data["erased_subjects"] == [CASE_ID, report_id]
    assert record(opened_by_transfer, "CaseErased", data).status == Status.ERASED


def test_erasure_waits_for_open_referrals_and_for_the_case_a_transfer_opened():
    transferred = case_in(Status.TRANSFERRED, report_id=CASE_ID)
    with pytest.raises(WorkflowRefusal, match="2 referral\\(s\\) still await their answers"):
        decide(transferred, EraseCase("request", open_referrals=("r-1", "r-2")))
    with pytest.raises(WorkflowRefusal, match="still handled in the case its transfer opened"):
        decide(transferred, EraseCase("retention", other_cases=("c-2",)))


def test_closure_and_transfer_start_the_retention_and_a_reopening_stops_it():
    case = case_in(Status.IN_TREATMENT)
    closed = record(case, *decide(case, CloseCase("sanction", "sanction prise")))
    assert closed.closed_at == datetime(2026, 11, 28, tzinfo=UTC)
    reopened = record(closed, *decide(closed, ReopenCase("nouveaux faits")))
    assert reopened.closed_at is None
    received = case_in(Status.RECEIVED)
    transferred = record(received, *decide(received, TransferCase("GN", "gendarme")))
    assert transferred.closed_at == datetime(2026, 11, 28, tzinfo=UTC)
