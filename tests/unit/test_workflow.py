"""The state machine, exhaustively: every status × every command."""

import dataclasses
from datetime import UTC, date, datetime

import pytest

from allodiscri.kernel.case_states import Case, Status, apply, fold
from allodiscri.kernel.events import RecordedEvent
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
# The event each command records where it is allowed, as docs/workflow.md names it.
EXPECTED_EVENT = {
    "acknowledge_receipt": "ReceiptAcknowledged",
    "assign_listener": "ListenerAssigned",
    "schedule_interview": "InterviewScheduled",
    "hold_interview": "InterviewHeld",
    "miss_interview": "InterviewMissed",
    "record_unreachable": "DeclarantUnreachable",
    "begin_treatment": "TreatmentBegun",
    "qualify_facts": "FactsQualified",
    "request_meeting": "MeetingRequested",
    "record_measure": "MeasureRecorded",
    "inform_declarant": "DeclarantInformed",
    "open_inquiry": "AdministrativeInquiryOpened",
    "close_case": "CaseClosed",
    "reopen_case": "CaseReopened",
    "transfer_case": "CaseTransferred",
    "erase_case": "CaseErased",
}


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


def refusal(case: Case, command) -> str:
    """The refusal's message, in full: the command, the state and the rule."""
    with pytest.raises(WorkflowRefusal) as refused:
        decide(case, command)
    return str(refused.value)


def record(case: Case, event_type: str, data: dict) -> Case:
    return apply(
        case, recorded(event_type, data, stream=f"case-{CASE_ID}", version=case.version + 1)
    )


def test_the_table_covers_every_command():
    names = {command_name(type(c)) for c in COMMANDS}
    assert names == set(EXPECTED_ALLOWED) == set(EXPECTED_RULE) == set(EXPECTED_EVENT)
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
        rule = ERASED_RULE if status == Status.ERASED else EXPECTED_RULE[name]
        assert (refused.value.command, refused.value.rule) == (name, rule)
        assert str(refused.value) == f"{name} refused: the case is {status.value}; {rule}"
        return
    event_type, data = decide(case, command)
    assert event_type == EXPECTED_EVENT[name]
    assert data["case_id"] == CASE_ID
    after = record(case, event_type, data)
    assert after.version == case.version + 1
    expected = EXPECTED_NEXT.get(name, status.value)
    if name == "miss_interview":
        expected = A  # back to where the case stood before the interview was scheduled
    assert after.status.value == expected


def test_an_interview_needs_a_listener():
    unassigned = case_in(Status.ACKNOWLEDGED, listener_id=None)
    assert refusal(unassigned, ScheduleInterview(WHEN, "video")) == (
        "schedule_interview refused: the case is acknowledged; "
        "a listener is assigned before an interview is scheduled"
    )


def test_assigning_the_same_listener_again_is_refused_and_reassigning_names_the_previous():
    assert refusal(case_in(Status.ACKNOWLEDGED), AssignListener("listener-1")) == (
        "assign_listener refused: the case is acknowledged; "
        "listener-1 is already the assigned listener"
    )
    _, data = decide(case_in(Status.ACKNOWLEDGED), AssignListener("listener-9"))
    assert data["previous_listener_id"] == "listener-1"


def test_reclassification_is_its_own_event_and_needs_a_reason():
    case = case_in(Status.IN_TREATMENT)
    event_type, data = decide(case, QualifyFacts(("violence",), (), 2))
    assert event_type == "FactsQualified"
    qualified = record(case, event_type, data)
    assert refusal(qualified, QualifyFacts(("harcelement-moral",), (), 2)) == (
        "qualify_facts refused: the case is in-treatment; "
        "reclassifying facts already qualified needs a reason"
    )
    event_type, data = decide(qualified, QualifyFacts(("harcelement-moral",), (), 2, "entretien"))
    assert event_type == "FactsReclassified" and data["reason"] == "entretien"
    assert record(qualified, event_type, data).kinds == ("harcelement-moral",)


def test_closing_with_open_referrals_requires_saying_what_happens_to_them():
    case = case_in(Status.IN_TREATMENT)
    assert refusal(case, CloseCase("information-only", "fin", open_referrals=("r-1",))) == (
        "close_case refused: the case is in-treatment; 1 referral(s) are still open: say "
        "whether they are withdrawn or await their answers (referrals_disposition)"
    )
    _, data = decide(case, CloseCase("information-only", "fin", "withdraw", ("r-1",)))
    assert (data["referrals_disposition"], data["open_referrals"]) == ("withdraw", ["r-1"])
    _, data = decide(case, CloseCase("information-only", "fin", "withdraw"))
    assert data["referrals_disposition"] is None


def test_a_pending_meeting_request_is_not_asked_twice_until_held():
    case = record(case_in(Status.ACKNOWLEDGED), "MeetingRequested", {"case_id": CASE_ID})
    assert refusal(case, RequestMeeting()) == (
        "request_meeting refused: the case is acknowledged; "
        "a meeting is already asked for and not yet held"
    )
    scheduled = record(case, *decide(case, ScheduleInterview(WHEN, "in-person")))
    held = record(scheduled, *decide(scheduled, HoldInterview("notes")))
    assert held.meeting_held_on is not None
    assert decide(held, RequestMeeting())[0] == "MeetingRequested"


def test_transfer_to_the_same_platform_is_refused():
    assert refusal(case_in(Status.RECEIVED), TransferCase("SG", "x")) == (
        "transfer_case refused: the case is received; the case already belongs to SG"
    )


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
    assert refusal(transferred, EraseCase("request", open_referrals=("r-1", "r-2"))) == (
        "erase_case refused: the case is transferred; 2 referral(s) still await their "
        "answers: a case is erased once its referrals are closed"
    )
    assert refusal(transferred, EraseCase("retention", other_cases=("c-2",))) == (
        "erase_case refused: the case is transferred; its report is still handled in the case "
        "its transfer opened on another platform, whose data would go with it: that case is "
        "erased first"
    )


def test_closure_and_transfer_start_the_retention_and_a_reopening_stops_it():
    case = case_in(Status.IN_TREATMENT)
    closed = record(case, *decide(case, CloseCase("sanction", "sanction prise")))
    assert closed.closed_at == datetime(2026, 11, 28, tzinfo=UTC)
    reopened = record(closed, *decide(closed, ReopenCase("nouveaux faits")))
    assert reopened.closed_at is None
    received = case_in(Status.RECEIVED)
    transferred = record(received, *decide(received, TransferCase("GN", "gendarme")))
    assert transferred.closed_at == datetime(2026, 11, 28, tzinfo=UTC)


def at(event: RecordedEvent, moment: datetime) -> RecordedEvent:
    return dataclasses.replace(event, recorded_at=moment)


def case_event(event_type: str, data: dict, version: int, moment: datetime) -> RecordedEvent:
    return at(recorded(event_type, data, stream=f"case-{CASE_ID}", version=version), moment)


OPENED = {
    "case_id": CASE_ID,
    "report_id": CASE_ID,
    "platform": "SG",
    "channel": "web",
    "kinds": ["discrimination"],
    "criteria": ["origine"],
}


@pytest.mark.parametrize(
    ("status", "command", "details"),
    [
        (R, AcknowledgeReceipt(), {}),
        (
            A,
            AssignListener("listener-2"),
            {"listener_id": "listener-2", "previous_listener_id": "listener-1"},
        ),
        (
            A,
            ScheduleInterview(WHEN, "phone"),
            {"scheduled_for": "2026-12-01T10:00:00+00:00", "mode": "phone"},
        ),
        (IS, HoldInterview("entretien mené"), {"notes": "entretien mené"}),
        (IS, MissInterview("no answer"), {"reason": "no answer"}),
        (A, RecordUnreachable("voicemail"), {"note": "voicemail"}),
        (A, BeginTreatment("declined an interview"), {"reason": "declined an interview"}),
        (
            T,
            QualifyFacts(("discrimination",), ("origine", "sexe"), 2),
            {"kinds": ["discrimination"], "criteria": ["origine", "sexe"], "criteria_version": 2},
        ),
        (A, RequestMeeting(), {}),
        (
            Q,
            RecordMeasure("changement d'équipe", "bureau RH"),
            {"measure": "changement d'équipe", "taken_by": "bureau RH"},
        ),
        (C, InformDeclarant("Votre dossier est clos."), {"message": "Votre dossier est clos."}),
        (T, OpenInquiry("faits graves"), {"reason": "faits graves"}),
        (
            Q,
            CloseCase("sanction", "sanction prise"),
            {
                "outcome": "sanction",
                "reason": "sanction prise",
                "open_referrals": [],
                "referrals_disposition": None,
            },
        ),
        (C, ReopenCase("nouveaux faits"), {"reason": "nouveaux faits"}),
        (
            A,
            TransferCase("GN", "gendarme"),
            {"to_platform": "GN", "reason": "gendarme"},
        ),
        (X, EraseCase("request"), {"basis": "request", "erased_subjects": [CASE_ID]}),
    ],
    ids=lambda value: command_name(type(value)) if dataclasses.is_dataclass(value) else None,
)
def test_each_command_records_what_it_was_told(status, command, details):
    """The event carries the case id and the command's own details as given, so the log alone
    says what was done (a case with no report id of its own erases only itself)."""
    case = case_in(Status(status))
    assert decide(case, command) == (
        EXPECTED_EVENT[command_name(type(command))],
        {"case_id": CASE_ID, **details},
    )


def test_a_case_is_folded_from_its_whole_history():
    """Each event builds on the case the previous ones made: who listens, which facts, the
    dates the deadlines need, the outcome and when the case left the platform's hands."""
    evening = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 00:30 on 21 November in Paris
    history = [
        case_event("CaseOpened", {**OPENED, "received_at": evening.isoformat()}, 1, evening),
        case_event("ReceiptAcknowledged", {}, 2, datetime(2026, 11, 23, 23, 15, tzinfo=UTC)),
        case_event("ListenerAssigned", {"listener_id": "listener-7"}, 3, evening),
        case_event(
            "FactsQualified",
            {"kinds": ["violence"], "criteria": ["sexe"], "criteria_version": 3},
            4,
            evening,
        ),
        case_event("DeclarantInformed", {}, 5, datetime(2026, 12, 2, 9, tzinfo=UTC)),
        case_event("DeclarantInformed", {}, 6, datetime(2026, 12, 9, 9, tzinfo=UTC)),
        case_event("CaseClosed", {"outcome": "sanction"}, 7, datetime(2027, 1, 5, 9, tzinfo=UTC)),
    ]
    assert fold(history) == Case(
        case_id=CASE_ID,
        platform="SG",
        status=Status.CLOSED,
        version=7,
        received_on=date(2026, 11, 21),
        listener_id="listener-7",
        kinds=("violence",),
        criteria=("sexe",),
        criteria_version=3,
        qualified=True,
        acknowledged_on=date(2026, 11, 24),
        first_feedback_on=date(2026, 12, 2),
        outcome="sanction",
        report_id=CASE_ID,
        closed_at=datetime(2027, 1, 5, 9, tzinfo=UTC),
    )
    reopened = apply(fold(history), case_event("CaseReopened", {}, 8, evening))
    assert (reopened.status, reopened.outcome, reopened.closed_at) == (T, None, None)


def test_a_case_opened_without_its_receipt_time_counts_from_the_day_it_was_recorded():
    """Older CaseOpened events carry no received_at: the day they were recorded, in Paris,
    is the day the deadlines run from."""
    late = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)  # 00:30 on 28 November in Paris
    case = fold([case_event("CaseOpened", OPENED, 1, late)])
    assert (case.received_on, case.kinds, case.criteria) == (
        date(2026, 11, 28),
        ("discrimination",),
        ("origine",),
    )


def test_only_the_first_message_after_the_acknowledgement_is_the_feedback():
    """The feedback deadline is met by the first message after the acknowledgement; neither
    a message before it nor a later one moves that date."""
    received = case_in(Status.RECEIVED)
    early = apply(received, case_event("DeclarantInformed", {}, 4, WHEN))
    assert early.first_feedback_on is None
    acknowledged = case_in(Status.ACKNOWLEDGED, acknowledged_on=date(2026, 11, 30))
    first = apply(acknowledged, case_event("DeclarantInformed", {}, 4, WHEN))
    later = apply(first, case_event("DeclarantInformed", {}, 5, datetime(2027, 1, 4, tzinfo=UTC)))
    assert (first.first_feedback_on, later.first_feedback_on) == (
        date(2026, 12, 1),
        date(2026, 12, 1),
    )


def test_only_the_first_interview_held_after_a_meeting_request_meets_it():
    """An interview nobody asked a meeting for meets no meeting deadline; once met, a later
    interview does not move it, and a new request starts a new one."""
    scheduled = case_in(Status.INTERVIEW_SCHEDULED)
    unasked = apply(scheduled, case_event("InterviewHeld", {}, 4, WHEN))
    assert unasked.meeting_held_on is None
    asked = case_in(Status.INTERVIEW_SCHEDULED, meeting_requested_on=date(2026, 11, 30))
    held = apply(asked, case_event("InterviewHeld", {}, 4, WHEN))
    again = apply(held, case_event("InterviewHeld", {}, 5, datetime(2027, 1, 4, tzinfo=UTC)))
    assert (held.meeting_held_on, again.meeting_held_on) == (date(2026, 12, 1), date(2026, 12, 1))
    asked_again = apply(
        again, case_event("MeetingRequested", {}, 6, datetime(2027, 1, 5, tzinfo=UTC))
    )
    assert (asked_again.meeting_requested_on, asked_again.meeting_held_on) == (
        date(2027, 1, 5),
        None,
    )


def test_rescheduling_keeps_the_status_the_interview_would_return_to():
    """Moving an interview is not where the case stood before it: a missed rescheduled
    interview still returns to treatment."""
    case = case_in(Status.IN_TREATMENT)
    scheduled = record(case, *decide(case, ScheduleInterview(WHEN, "phone")))
    moved = record(scheduled, *decide(scheduled, ScheduleInterview(WHEN, "video")))
    assert moved.status_before_interview == Status.IN_TREATMENT
    assert record(moved, *decide(moved, MissInterview("absent"))).status == Status.IN_TREATMENT


def test_an_interview_missed_with_no_earlier_status_on_record_returns_to_acknowledged():
    """Cases scheduled before the status was recorded go back to the acknowledgement."""
    scheduled = case_in(Status.INTERVIEW_SCHEDULED, status_before_interview=None)
    assert (
        apply(scheduled, case_event("InterviewMissed", {}, 4, WHEN)).status == Status.ACKNOWLEDGED
    )
