import dataclasses
import uuid
from datetime import UTC, date, datetime

import pytest

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import NotFound, Refused
from allodiscri.kernel.events import RecordedEvent
from allodiscri.kernel.statemachine import WorkflowRefusal, command_name
from allodiscri.kernel.workdays import WorkingDayCalendar
from services.cases.domain import open_case_for
from services.referrals.domain import (
    AcknowledgeReferral,
    AnswerReferral,
    CaseStanding,
    CloseReferral,
    Referral,
    ReferralStatus,
    SendReferral,
    WithdrawReferral,
    case_standing,
    reminder_due,
    request_referral,
)
from services.referrals.domain import apply as referral_apply
from services.referrals.domain import decide as referral_decide
from services.referrals.domain import fold as referral_fold
from tests.helpers import meta, report

CASE_ID = "6f1c5a2e-1111-4222-8333-444455556666"
LISTENER = Actor("listener-1", "listener", "SG")


def recorded(event_type, data, *, stream, version=1, position=1, event_id="e-1"):
    return RecordedEvent(
        id=event_id,
        stream=stream,
        stream_type=stream.split("-")[0],
        version=version,
        position=position,
        type=event_type,
        schema_version=1,
        data=data,
        meta=meta(),
        recorded_at=datetime(2026, 11, 28, tzinfo=UTC),
        prev_hash="",
        hash="",
    )


def report_received(report_id=CASE_ID, event_id="e-1"):
    data = {**report(), "report_id": report_id, "received_at": "2026-11-28T00:00:00+00:00"}
    return recorded("ReportReceived", data, stream=f"report-{report_id}", event_id=event_id)


def test_a_case_takes_its_report_id_and_is_opened_once_per_report_event():
    opening = open_case_for(report_received())
    assert opening.case_id == CASE_ID
    assert opening.data["kinds"] == ["discrimination", "harcelement-moral"]
    assert opening.event_id == open_case_for(report_received()).event_id
    assert opening.event_id != open_case_for(report_received(event_id="e-2")).event_id


def test_case_standing_folds_the_case_events():
    assert case_standing(CASE_ID, []) is None
    opened = recorded("CaseOpened", open_case_for(report_received()).data, stream=f"case-{CASE_ID}")
    assert case_standing(CASE_ID, [opened]) == CaseStanding(CASE_ID, "SG", open=True)


def test_a_referral_needs_an_open_case_of_the_actors_platform():
    standing = CaseStanding(CASE_ID, "SG", open=True)
    request = (CASE_ID, "hr-office", "support")
    referral_id, event_id, data = request_referral(standing, *request, LISTENER, None)
    assert data == {
        "referral_id": referral_id,
        "case_id": CASE_ID,
        "platform": "SG",
        "interlocutor": "hr-office",
        "purpose": "support",
    }
    with pytest.raises(NotFound) as missing:
        request_referral(None, *request, LISTENER, None)
    assert (missing.value.what, missing.value.identifier) == ("case", CASE_ID)
    # Another platform's case is reported exactly like a missing one.
    with pytest.raises(NotFound) as elsewhere:
        request_referral(standing, *request, Actor("x", "listener", "GN"), None)
    assert (elsewhere.value.what, elsewhere.value.identifier) == ("case", CASE_ID)
    with pytest.raises(Refused) as refused:
        request_referral(CaseStanding(CASE_ID, "SG", open=False), *request, LISTENER, None)
    assert refused.value.reason == (
        f"case {CASE_ID} is closed: a closed case takes no new referral"
    )


def test_a_command_id_makes_a_referral_request_retry_safe():
    standing = CaseStanding(CASE_ID, "SG", open=True)
    command = "0f8fad5b-d9cb-469f-a165-70867728950e"
    first = request_referral(standing, CASE_ID, "hr-office", "support", LISTENER, command)
    assert first == request_referral(standing, CASE_ID, "hr-office", "support", LISTENER, command)


def test_an_unanswered_referral_is_reminded_every_few_working_days():
    calendar = WorkingDayCalendar()
    sent = Referral(
        "r-1", CASE_ID, "SG", "hr-office", "support", ReferralStatus.SENT, 2, date(2026, 11, 2)
    )
    # 15 working days after Mon 2 Nov 2026 (11 Nov is a holiday): Tue 24 Nov.
    assert reminder_due(sent, date(2026, 11, 23), calendar, 15) is None
    assert reminder_due(sent, date(2026, 11, 24), calendar, 15) == {
        "referral_id": "r-1",
        "case_id": CASE_ID,
        "reminder": 1,
        "due_on": "2026-11-24",
    }
    reminded = Referral(**{**sent.__dict__, "reminders": 1})
    assert reminder_due(reminded, date(2026, 11, 24), calendar, 15) is None
    answered = Referral(**{**sent.__dict__, "status": ReferralStatus.ANSWERED})
    assert reminder_due(answered, date(2027, 1, 1), calendar, 15) is None


# -- the referral's own lifecycle -------------------------------------------------------------

REFERRAL_ID = "3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a"
SENT_ON = date(2026, 11, 2)  # a Monday
REFERRAL_COMMANDS = [
    SendReferral(SENT_ON, "par courrier"),
    AcknowledgeReferral(),
    AnswerReferral("mutation proposée", ("changement de service",)),
    CloseReferral("réponse suffisante"),
    WithdrawReferral("dossier clos"),
]
# Written out by hand from docs/workflow.md, independently of REFERRAL_WORKFLOW.
EXPECTED_REFERRAL_ALLOWED = {
    "send_referral": {"requested"},
    "acknowledge_referral": {"sent"},
    "answer_referral": {"sent", "acknowledged"},
    "close_referral": {"answered"},
    "withdraw_referral": {"requested", "sent", "acknowledged", "answered"},
}
EXPECTED_REFERRAL_EVENT = {
    "send_referral": ("ReferralSent", "sent"),
    "acknowledge_referral": ("ReferralAcknowledged", "acknowledged"),
    "answer_referral": ("ReferralAnswered", "answered"),
    "close_referral": ("ReferralClosed", "closed"),
    "withdraw_referral": ("ReferralWithdrawn", "withdrawn"),
}
EXPECTED_REFERRAL_RULE = {
    "send_referral": "a referral is sent once",
    "acknowledge_referral": (
        "an interlocutor acknowledges a referral that was sent and not yet answered"
    ),
    "answer_referral": "an answer is recorded once, for a referral that was sent",
    "close_referral": "a referral is closed once answered (withdraw it otherwise)",
    "withdraw_referral": "only an open referral can be withdrawn",
}


def referral_in(status: ReferralStatus, **changes) -> Referral:
    base = Referral(REFERRAL_ID, CASE_ID, "SG", "hr-office", "support", status, 2, SENT_ON)
    return dataclasses.replace(base, **changes)


def referral_event(event_type, data, version):
    return recorded(event_type, data, stream=f"referral-{REFERRAL_ID}", version=version)


def test_a_referral_is_folded_from_its_events():
    """The referral's read side: what was requested, when it was sent, how often reminded."""
    requested = referral_event(
        "ReferralRequested",
        {
            "referral_id": REFERRAL_ID,
            "case_id": CASE_ID,
            "platform": "SG",
            "interlocutor": "hr-office",
            "purpose": "support",
        },
        1,
    )
    sent = referral_event(
        "ReferralSent", {"referral_id": REFERRAL_ID, "sent_on": "2026-11-02", "note": None}, 2
    )
    reminded = referral_event("ReferralReminded", {"reminder": 1, "due_on": "2026-11-24"}, 3)
    assert referral_fold([]) is None
    assert referral_fold([requested]) == Referral(
        REFERRAL_ID, CASE_ID, "SG", "hr-office", "support", ReferralStatus.REQUESTED, 1
    )
    assert referral_fold([requested, sent, reminded]) == Referral(
        REFERRAL_ID,
        CASE_ID,
        "SG",
        "hr-office",
        "support",
        ReferralStatus.SENT,
        3,
        sent_on=date(2026, 11, 2),
        reminders=1,
    )
    with pytest.raises(ValueError, match="ReferralSent at version 2 precedes ReferralRequested"):
        referral_fold([sent])


@pytest.mark.parametrize("status", list(ReferralStatus), ids=str)
@pytest.mark.parametrize("command", REFERRAL_COMMANDS, ids=lambda c: command_name(type(c)))
def test_every_referral_command_in_every_state(status, command):
    """The referral table, state by state: the event and the next state where a command is
    allowed, the refusal naming the referral's state and the rule everywhere else."""
    name = command_name(type(command))
    referral = referral_in(status)
    if status.value not in EXPECTED_REFERRAL_ALLOWED[name]:
        with pytest.raises(WorkflowRefusal) as refused:
            referral_decide(referral, command)
        rule = EXPECTED_REFERRAL_RULE[name]
        assert (refused.value.command, refused.value.status, refused.value.rule) == (
            name,
            status,
            rule,
        )
        assert str(refused.value) == f"{name} refused: the referral is {status.value}; {rule}"
        return
    event_type, data = referral_decide(referral, command)
    after = referral_apply(referral, referral_event(event_type, data, 3))
    assert (event_type, after.status.value) == EXPECTED_REFERRAL_EVENT[name]
    assert after.version == 3


def test_each_referral_command_records_what_it_was_told():
    """The events carry the referral, its case and the command's own details, as given."""
    ids = {"referral_id": REFERRAL_ID, "case_id": CASE_ID}
    requested = referral_in(ReferralStatus.REQUESTED, sent_on=None)
    sent = referral_in(ReferralStatus.SENT)
    answered = referral_in(ReferralStatus.ANSWERED)
    assert referral_decide(requested, SendReferral(date(2026, 11, 2), "par courrier")) == (
        "ReferralSent",
        {**ids, "sent_on": "2026-11-02", "note": "par courrier"},
    )
    assert referral_decide(sent, AcknowledgeReferral()) == ("ReferralAcknowledged", ids)
    assert referral_decide(sent, AnswerReferral("mutation", ("changement de service",))) == (
        "ReferralAnswered",
        {**ids, "answer": "mutation", "measures": ["changement de service"]},
    )
    assert referral_decide(answered, CloseReferral("réponse suffisante")) == (
        "ReferralClosed",
        {**ids, "reason": "réponse suffisante"},
    )
    assert referral_decide(sent, WithdrawReferral("dossier clos")) == (
        "ReferralWithdrawn",
        {**ids, "reason": "dossier clos"},
    )


def test_a_closed_or_transferred_case_is_no_longer_open_until_reopened():
    """A referral is requested only for an open case: closure and transfer close it, a
    reopening opens it again; events before the opening change nothing."""
    stream = f"case-{CASE_ID}"
    opened = recorded("CaseOpened", {"platform": "GN"}, stream=stream)
    closed = recorded("CaseClosed", {}, stream=stream, version=2)
    reopened = recorded("CaseReopened", {}, stream=stream, version=3)
    transferred = recorded("CaseTransferred", {}, stream=stream, version=4)
    assert case_standing(CASE_ID, [closed, reopened]) is None
    assert case_standing(CASE_ID, [opened, closed]) == CaseStanding(CASE_ID, "GN", open=False)
    assert case_standing(CASE_ID, [opened, closed, reopened]) == CaseStanding(
        CASE_ID, "GN", open=True
    )
    assert case_standing(CASE_ID, [opened, closed, reopened, transferred]) == CaseStanding(
        CASE_ID, "GN", open=False
    )


def test_a_referral_request_with_a_command_id_has_fixed_ids_and_one_without_has_fresh_ones():
    """The ids derive from the command id, so a retry records nothing twice; without one each
    request is a new referral."""
    standing = CaseStanding(CASE_ID, "SG", open=True)
    command = "0f8fad5b-d9cb-469f-a165-70867728950e"
    referral_id, event_id, data = request_referral(
        standing, CASE_ID, "hr-office", "support", LISTENER, command
    )
    assert (referral_id, event_id) == (
        "79986fdb-6084-55fc-8ea5-1f8dd26ab302",
        "75ddb062-6458-5f85-92f2-97bb7e0845b3",
    )
    assert data["referral_id"] == "79986fdb-6084-55fc-8ea5-1f8dd26ab302"
    first = request_referral(standing, CASE_ID, "hr-office", "support", LISTENER, None)
    second = request_referral(standing, CASE_ID, "hr-office", "support", LISTENER, None)
    assert uuid.UUID(first[0]).version == 4
    assert first[0] != second[0] and first[1] != second[1]


def test_reminders_fall_due_every_period_while_the_answer_is_awaited():
    """Reminder n is due n periods of working days after the sending, also once the
    interlocutor acknowledged; a referral never sent is not reminded."""
    calendar = WorkingDayCalendar()
    # Sent Mon 2 Nov 2026; 11 Nov is a holiday. 15 working days: Tue 24 Nov;
    # 30 working days: Tue 15 Dec.
    acknowledged = referral_in(ReferralStatus.ACKNOWLEDGED, reminders=1)
    assert reminder_due(acknowledged, date(2026, 12, 14), calendar, 15) is None
    assert reminder_due(acknowledged, date(2026, 12, 15), calendar, 15) == {
        "referral_id": REFERRAL_ID,
        "case_id": CASE_ID,
        "reminder": 2,
        "due_on": "2026-12-15",
    }
    assert reminder_due(acknowledged, date(2026, 12, 16), calendar, 15)["reminder"] == 2
    never_sent = referral_in(ReferralStatus.SENT, sent_on=None)
    assert reminder_due(never_sent, date(2027, 6, 1), calendar, 15) is None
    requested = referral_in(ReferralStatus.REQUESTED)
    assert reminder_due(requested, date(2027, 6, 1), calendar, 15) is None
