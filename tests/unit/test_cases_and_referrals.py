from datetime import UTC, datetime

import pytest

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import NotFound, Refused
from allodiscri.kernel.events import RecordedEvent
from services.cases.domain import open_case_for
from services.referrals.domain import CaseStanding, case_standing, request_referral
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
    with pytest.raises(NotFound):
        request_referral(None, *request, LISTENER, None)
    with pytest.raises(NotFound):
        request_referral(standing, *request, Actor("x", "listener", "GN"), None)
    with pytest.raises(Refused, match="closed"):
        request_referral(CaseStanding(CASE_ID, "SG", open=False), *request, LISTENER, None)


def test_a_command_id_makes_a_referral_request_retry_safe():
    standing = CaseStanding(CASE_ID, "SG", open=True)
    command = "0f8fad5b-d9cb-469f-a165-70867728950e"
    first = request_referral(standing, CASE_ID, "hr-office", "support", LISTENER, command)
    assert first == request_referral(standing, CASE_ID, "hr-office", "support", LISTENER, command)


def test_an_unanswered_referral_is_reminded_every_few_working_days():
    from datetime import date

    from allodiscri.kernel.workdays import WorkingDayCalendar
    from services.referrals.domain import Referral, ReferralStatus, reminder_due

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
