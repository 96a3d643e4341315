"""The referrals use cases through the in-memory unit of work: no broker, no database."""

from datetime import date

import pytest

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import NotFound, Refused
from allodiscri.kernel.events import WrongExpectedVersion
from allodiscri.kernel.workdays import WorkingDayCalendar
from allodiscri.platform.memory import InMemoryUnitOfWork
from services.referrals import handlers
from services.referrals.domain import (
    AcknowledgeReferral,
    AnswerReferral,
    CloseReferral,
    SendReferral,
)

CASE_ID = "6f1c5a2e-1111-4222-8333-444455556666"
REPORT_ID = "0b6b1c4e-2222-4333-8444-555566667777"
LISTENER = Actor("listener-1", "listener", "SG")
SENT_ON = date(2026, 3, 2)  # a Monday


def case_opened(work: InMemoryUnitOfWork, case_id: str = CASE_ID, platform: str = "SG"):
    work.record(
        "case",
        case_id,
        "CaseOpened",
        {
            "case_id": case_id,
            "report_id": REPORT_ID,
            "platform": platform,
            "channel": "web",
            "kinds": ["discrimination"],
            "criteria": ["origine"],
            "received_at": "2026-03-01T10:00:00+00:00",
            "transferred_from": None,
        },
        actor=Actor("cases-service", "system", platform),
        expected_version="no-stream",
    )


def case_closed(work, open_referrals, disposition, version=2):
    return work.record(
        "case",
        CASE_ID,
        "CaseClosed",
        {
            "case_id": CASE_ID,
            "outcome": "information-only",
            "reason": "orientation faite",
            "open_referrals": open_referrals,
            "referrals_disposition": disposition,
        },
        actor=LISTENER,
        expected_version=version - 1,
    )


def referral_events(work, referral_id):
    return [event.type for event in work.read_stream(f"referral-{referral_id}")]


@pytest.fixture
def work():
    unit = InMemoryUnitOfWork(service="referrals")
    case_opened(unit)
    return unit


def requested(work, interlocutor="hr-office", purpose="support", command_id=None):
    return handlers.request_referral(work, CASE_ID, interlocutor, purpose, LISTENER, command_id)


def sent(work, interlocutor="hr-office"):
    referral_id = requested(work, interlocutor)
    handlers.execute(work, referral_id, SendReferral(SENT_ON, "par courriel"), LISTENER, 1)
    return referral_id


# -- a referral's life -------------------------------------------------------------------------


def test_a_referral_is_requested_sent_acknowledged_answered_and_closed(work):
    referral_id = requested(work)
    interlocutor = Actor("rh-9", "referral-interlocutor", "SG")
    steps = [
        (SendReferral(SENT_ON, "par courriel"), LISTENER, 1),
        (AcknowledgeReferral(), interlocutor, 2),
        (AnswerReferral("mesures prises", ("changement de service",)), interlocutor, 3),
        (CloseReferral("réponse reçue"), LISTENER, 4),
    ]
    results = [
        handlers.execute(work, referral_id, command, who, version)
        for command, who, version in steps
    ]
    assert results == [
        {"referral_id": referral_id, "event": "ReferralSent", "version": 2},
        {"referral_id": referral_id, "event": "ReferralAcknowledged", "version": 3},
        {"referral_id": referral_id, "event": "ReferralAnswered", "version": 4},
        {"referral_id": referral_id, "event": "ReferralClosed", "version": 5},
    ]
    events = list(work.read_stream(f"referral-{referral_id}"))
    assert events[0].data == {
        "referral_id": referral_id,
        "case_id": CASE_ID,
        "platform": "SG",
        "interlocutor": "hr-office",
        "purpose": "support",
    }
    assert events[1].data == {
        "referral_id": referral_id,
        "case_id": CASE_ID,
        "sent_on": "2026-03-02",
        "note": "par courriel",
    }
    assert events[3].data == {
        "referral_id": referral_id,
        "case_id": CASE_ID,
        "answer": "mesures prises",
        "measures": ["changement de service"],
    }
    assert [(event.meta.actor_id, event.meta.service) for event in events] == [
        ("listener-1", "referrals"),
        ("listener-1", "referrals"),
        ("rh-9", "referrals"),
        ("rh-9", "referrals"),
        ("listener-1", "referrals"),
    ]
    # What the service projects: the unit's own events, the case's opening included here.
    assert [event.type for event in work.recorded] == [
        "CaseOpened",
        "ReferralRequested",
        "ReferralSent",
        "ReferralAcknowledged",
        "ReferralAnswered",
        "ReferralClosed",
    ]


def test_a_retried_request_with_its_command_id_is_recorded_once(work):
    command_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    first = requested(work, command_id=command_id)
    again = requested(work, command_id=command_id)
    other = requested(work, command_id="0f8fad5b-d9cb-469f-a165-70867728950e")
    assert first == again
    assert other != first
    assert referral_events(work, first) == ["ReferralRequested"]


def test_a_step_out_of_order_is_refused_with_its_rule(work):
    referral_id = sent(work)
    with pytest.raises(Refused) as refused:
        handlers.execute(work, referral_id, CloseReferral("fin"), LISTENER, 2)
    assert refused.value.reason == (
        "close_referral refused: the referral is sent; "
        "a referral is closed once answered (withdraw it otherwise)"
    )
    assert referral_events(work, referral_id) == ["ReferralRequested", "ReferralSent"]


# -- guards ------------------------------------------------------------------------------------


def test_a_command_on_a_version_the_referral_has_moved_past_is_a_conflict(work):
    referral_id = sent(work)
    with pytest.raises(WrongExpectedVersion) as conflict:
        handlers.execute(work, referral_id, AcknowledgeReferral(), LISTENER, 1)
    assert (conflict.value.expected, conflict.value.actual) == (1, 2)
    assert referral_events(work, referral_id) == ["ReferralRequested", "ReferralSent"]


def test_another_platforms_referral_and_an_unknown_one_are_not_found(work):
    referral_id = requested(work)
    gendarme = Actor("listener-2", "listener", "GN")
    with pytest.raises(NotFound) as not_found:
        handlers.execute(work, referral_id, SendReferral(SENT_ON), gendarme, 1)
    assert (not_found.value.what, not_found.value.identifier) == ("referral", referral_id)
    unknown = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(NotFound):
        handlers.execute(work, unknown, SendReferral(SENT_ON), LISTENER, 1)
    assert referral_events(work, referral_id) == ["ReferralRequested"]


def test_another_platforms_case_takes_no_referral(work):
    with pytest.raises(NotFound) as not_found:
        handlers.request_referral(
            work, CASE_ID, "hr-office", "support", Actor("listener-2", "listener", "PN"), None
        )
    assert (not_found.value.what, not_found.value.identifier) == ("case", CASE_ID)
    assert [event.type for event in work.recorded] == ["CaseOpened"]


def test_a_referral_of_a_closed_case_is_not_sent_and_the_case_takes_no_new_one(work):
    referral_id = requested(work)
    case_closed(work, [referral_id], "await-answers")
    with pytest.raises(Refused) as refused:
        handlers.execute(work, referral_id, SendReferral(SENT_ON), LISTENER, 1)
    assert refused.value.reason == f"case {CASE_ID} is closed: its referrals are not sent"
    with pytest.raises(Refused) as refused:
        requested(work, "inspection")
    assert refused.value.reason == f"case {CASE_ID} is closed: a closed case takes no new referral"
    assert referral_events(work, referral_id) == ["ReferralRequested"]


# -- reminders ---------------------------------------------------------------------------------


def test_an_overdue_referral_is_reminded_once_however_often_asked(work):
    referral_id = sent(work)
    calendar = WorkingDayCalendar()
    # 15 working days after Monday 2 March 2026: Monday 23 March.
    assert handlers.remind_overdue(work, [referral_id], date(2026, 3, 20), calendar, 15) == []
    first = handlers.remind_overdue(work, [referral_id], date(2026, 3, 23), calendar, 15)
    again = handlers.remind_overdue(work, [referral_id], date(2026, 3, 23), calendar, 15)
    twice_listed = handlers.remind_overdue(
        work, [referral_id, referral_id], date(2026, 3, 24), calendar, 15
    )
    assert first == [{"referral_id": referral_id, "event": "ReferralReminded", "version": 3}]
    assert (again, twice_listed) == ([], [])
    reminders = [e for e in work.read_stream(f"referral-{referral_id}") if e.version > 2]
    assert [event.data for event in reminders] == [
        {"referral_id": referral_id, "case_id": CASE_ID, "reminder": 1, "due_on": "2026-03-23"}
    ]
    assert (reminders[0].meta.actor_id, reminders[0].meta.actor_role) == (
        "referrals-service",
        "system",
    )


def test_the_second_reminder_falls_due_thirty_working_days_after_sending(work):
    referral_id = sent(work)
    calendar = WorkingDayCalendar()
    handlers.remind_overdue(work, [referral_id], date(2026, 3, 23), calendar, 15)
    # Thirty working days, Easter Monday (6 April 2026) not one of them: Tuesday 14 April.
    assert handlers.remind_overdue(work, [referral_id], date(2026, 4, 13), calendar, 15) == []
    second = handlers.remind_overdue(work, [referral_id], date(2026, 4, 14), calendar, 15)
    assert second == [{"referral_id": referral_id, "event": "ReferralReminded", "version": 4}]
    assert work.find(work.recorded[-1].id).data["due_on"] == "2026-04-14"


def test_referrals_not_sent_or_already_answered_are_not_reminded(work):
    waiting_to_be_sent = requested(work)
    answered = sent(work, "inspection")
    handlers.execute(work, answered, AnswerReferral("fait"), LISTENER, 2)
    candidates = [waiting_to_be_sent, answered]
    assert (
        handlers.remind_overdue(work, candidates, date(2026, 6, 1), WorkingDayCalendar(), 15) == []
    )


# -- withdrawal with the case ------------------------------------------------------------------


def test_closing_a_case_with_withdraw_withdraws_its_open_referrals_once_each(work):
    waiting = requested(work)
    out = sent(work, "inspection")
    done = sent(work, "hierarchy")
    handlers.execute(work, done, AnswerReferral("fait"), LISTENER, 2)
    handlers.execute(work, done, CloseReferral("répondu"), LISTENER, 3)
    closure = case_closed(work, [waiting, out, done], "withdraw")

    first = handlers.withdraw_with_closed_case(work, closure)
    again = handlers.withdraw_with_closed_case(work, closure)

    assert first == [
        {"referral_id": waiting, "event": "ReferralWithdrawn", "version": 2},
        {"referral_id": out, "event": "ReferralWithdrawn", "version": 3},
    ]
    assert again == []
    assert referral_events(work, waiting) == ["ReferralRequested", "ReferralWithdrawn"]
    assert referral_events(work, out) == ["ReferralRequested", "ReferralSent", "ReferralWithdrawn"]
    assert referral_events(work, done)[-1] == "ReferralClosed"
    withdrawal = list(work.read_stream(f"referral-{waiting}"))[-1]
    assert withdrawal.data == {"referral_id": waiting, "case_id": CASE_ID, "reason": "case closed"}
    assert (withdrawal.meta.actor_id, withdrawal.meta.platform, withdrawal.meta.causation_id) == (
        "referrals-service",
        "SG",
        closure.id,
    )


def test_closing_a_case_awaiting_answers_withdraws_nothing(work):
    waiting = requested(work)
    closure = case_closed(work, [waiting], "await-answers")
    assert handlers.withdraw_with_closed_case(work, closure) == []
    assert referral_events(work, waiting) == ["ReferralRequested"]
