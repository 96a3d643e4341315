"""The cases use cases through the in-memory unit of work: no broker, no database.

The same handlers run over the event store in the service (tests/e2e), so what is pinned here is
the use cases' own rules: versions, idempotent commands, platforms apart, erasure's order,
alerts and reads recorded once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import NotFound, Refused
from allodiscri.kernel.events import NO_STREAM, WrongExpectedVersion
from allodiscri.kernel.workdays import WorkingDayCalendar
from allodiscri.platform.memory import InMemoryUnitOfWork
from services.cases import handlers
from services.cases.retention import RetentionPolicy
from services.cases.workflow import (
    AcknowledgeReceipt,
    AssignListener,
    CloseCase,
    EraseCase,
    TransferCase,
)

CASE_ID = "6f1c5a2e-1111-4222-8333-444455556666"
REPORT_ID = CASE_ID
LISTENER = Actor("listener-1", "listener", "SG")
MANAGER = Actor("manager-1", "cell-manager", "SG")
OTHER_PLATFORM = Actor("listener-9", "listener", "PN")
SYSTEM = Actor("cases-service", "system", "SG")


def opened_case(work: InMemoryUnitOfWork, case_id: str = CASE_ID, platform: str = "SG") -> None:
    work.record(
        "case",
        case_id,
        "CaseOpened",
        {
            "case_id": case_id,
            "report_id": case_id,
            "platform": platform,
            "channel": "web",
            "kinds": ["discrimination"],
            "criteria": ["age"],
            "received_at": "2026-03-02T09:00:00+00:00",
            "transferred_from": None,
        },
        actor=Actor("cases-service", "system", platform),
        expected_version=NO_STREAM,
    )


@pytest.fixture
def work():
    unit = InMemoryUnitOfWork(service="cases")
    opened_case(unit)
    unit.recorded.clear()
    return unit


def test_a_command_records_one_event_on_the_case_and_answers_its_version(work):
    answer = handlers.execute(work, CASE_ID, AcknowledgeReceipt(), LISTENER, 1, None)
    assert answer["event"] == "ReceiptAcknowledged"
    assert answer["version"] == 2
    assert [(event.stream, event.type) for event in work.recorded] == [
        (f"case-{CASE_ID}", "ReceiptAcknowledged")
    ]


def test_a_command_on_a_version_the_case_has_left_is_a_conflict(work):
    handlers.execute(work, CASE_ID, AcknowledgeReceipt(), LISTENER, 1, None)
    with pytest.raises(WrongExpectedVersion) as conflict:
        handlers.execute(work, CASE_ID, AssignListener("listener-1"), LISTENER, 1, None)
    assert (conflict.value.expected, conflict.value.actual) == (1, 2)
    assert len(work.recorded) == 1


def test_a_retried_command_returns_its_first_answer_and_records_nothing_more(work):
    first = handlers.execute(work, CASE_ID, AcknowledgeReceipt(), LISTENER, 1, "cmd-1")
    again = handlers.execute(work, CASE_ID, AcknowledgeReceipt(), LISTENER, 1, "cmd-1")
    assert again == first
    assert len(work.recorded) == 1


def test_a_command_id_used_on_another_case_is_refused(work):
    other = "7a2d6b3f-2222-4333-8444-555566667777"
    opened_case(work, other)
    first = handlers.execute(work, CASE_ID, AcknowledgeReceipt(), LISTENER, 1, "cmd-1")
    # Same command id, same case: the first answer. Another case: the id derives another
    # event id, so the command runs there on its own.
    assert handlers.execute(work, CASE_ID, AcknowledgeReceipt(), LISTENER, 1, "cmd-1") == first
    assert handlers.execute(work, other, AcknowledgeReceipt(), LISTENER, 1, "cmd-1")["version"] == 2


def test_another_platforms_case_does_not_exist_and_the_attempt_is_traced(work):
    with pytest.raises(NotFound):
        handlers.execute(work, CASE_ID, AcknowledgeReceipt(), OTHER_PLATFORM, 1, None)
    assert work.denials == [(OTHER_PLATFORM, f"case {CASE_ID} belongs to another platform")]
    assert work.recorded == []


def test_an_unknown_case_is_not_found(work):
    with pytest.raises(NotFound):
        handlers.load_case(work, "00000000-0000-4000-8000-000000000000", LISTENER)
    assert work.denials == []


def test_a_refused_transition_names_the_rule_and_records_nothing(work):
    with pytest.raises(Refused):
        handlers.execute(
            work, CASE_ID, CloseCase("withdrawn", "le déclarant retire"), LISTENER, 1, None
        )
    assert work.recorded == []


def closed(work: InMemoryUnitOfWork) -> None:
    handlers.execute(work, CASE_ID, AcknowledgeReceipt(), LISTENER, 1, None)
    handlers.execute(work, CASE_ID, CloseCase("withdrawn", "retrait"), LISTENER, 2, None)


def test_erasure_destroys_the_keys_then_records_the_erasure(work):
    closed(work)
    handlers.execute(work, CASE_ID, EraseCase("request"), MANAGER, 3, None)
    assert work.erased == {CASE_ID}
    assert work.recorded[-1].type == "CaseErased"


def test_after_erasure_nothing_personal_is_recorded_for_the_case(work):
    closed(work)
    handlers.execute(work, CASE_ID, EraseCase("request"), MANAGER, 3, None)
    with pytest.raises(Refused) as refusal:
        handlers.record_access(
            work,
            CASE_ID,
            LISTENER,
            "IdentityAccessRequested",
            {
                "request_id": "8c4f9d5e-4444-4555-8666-777788889999",
                "requester_id": "listener-1",
                "reason": "entretien",
            },
        )
    assert "was erased" in refusal.value.reason


def test_a_case_with_a_referral_awaiting_its_answer_is_not_erased(work):
    closed(work)
    work.record(
        "referral",
        "5b3e7c4d-3333-4444-8555-666677778888",
        "ReferralRequested",
        {
            "referral_id": "5b3e7c4d-3333-4444-8555-666677778888",
            "case_id": CASE_ID,
            "platform": "SG",
            "interlocutor": "hr-office",
            "purpose": "support",
        },
        actor=LISTENER,
        expected_version=NO_STREAM,
    )
    assert handlers.open_referrals(work, CASE_ID) == ["5b3e7c4d-3333-4444-8555-666677778888"]
    with pytest.raises(Refused):
        handlers.execute(work, CASE_ID, EraseCase("request"), MANAGER, 3, None)
    assert work.erased == set()


def test_reads_go_to_the_access_stream_and_never_move_the_case_version(work):
    read = handlers.record_access(work, CASE_ID, LISTENER, "CaseContentRead", {"what": "case"})
    assert (read.stream, read.data) == (f"access-{CASE_ID}", {"case_id": CASE_ID, "what": "case"})
    assert handlers.load_case(work, CASE_ID, LISTENER).version == 1


def test_a_transferred_case_is_opened_once_on_the_receiving_platform(work):
    handlers.execute(work, CASE_ID, AcknowledgeReceipt(), LISTENER, 1, None)
    handlers.execute(work, CASE_ID, TransferCase("PN", "compétence"), MANAGER, 2, None)
    transfer = work.recorded[-1]
    receiver = Actor("cases-service", "system", "PN")
    first = handlers.open_transferred_case(work, transfer, receiver)
    again = handlers.open_transferred_case(work, transfer, receiver)
    assert first == again
    opened = [event for event in work.events if event.stream == f"case-{first}"]
    assert [
        (event.type, event.data["platform"], event.data["transferred_from"]) for event in opened
    ] == [("CaseOpened", "PN", "SG")]


def test_each_deadline_alert_is_recorded_once_whatever_the_number_of_checks(work):
    calendar = WorkingDayCalendar()
    late = date(2026, 3, 20)  # acknowledgement was due 7 working days after 2 March
    first = handlers.raise_deadline_alerts(work, CASE_ID, late, calendar, 2)
    again = handlers.raise_deadline_alerts(work, CASE_ID, late, calendar, 2)
    assert first == ["DeadlineMissed"]
    assert again == []
    alert = work.recorded[-1]
    assert (alert.stream, alert.data["deadline"]) == (f"deadline-{CASE_ID}", "acknowledgement")


def test_retention_erases_the_closed_cases_past_their_platforms_period(work):
    closed(work)
    policy = RetentionPolicy(default_years=Decimal(1))
    now = datetime(2028, 3, 3, tzinfo=UTC)
    candidates = [{"_id": CASE_ID, "platform": "SG", "closed_at": None}]
    assert handlers.erase_expired(work, candidates, policy, now) == [CASE_ID]
    assert handlers.erase_expired(work, candidates, policy, now) == []
    assert work.erased == {CASE_ID}


def test_retention_leaves_a_case_within_its_period(work):
    closed(work)
    policy = RetentionPolicy(default_years=Decimal(5))
    candidates = [{"_id": CASE_ID, "platform": "SG", "closed_at": None}]
    assert handlers.erase_expired(work, candidates, policy, datetime(2027, 3, 3, tzinfo=UTC)) == []
    assert work.erased == set()
