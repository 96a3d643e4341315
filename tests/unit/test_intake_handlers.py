"""The intake use cases through the in-memory unit of work: filing, the receipt code, the
minutes of an oral report, the declarant's follow-up. No broker, no database: the receipt
codes are kept by a small in-memory stand-in with the store's contract."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import NotFound, Refused
from allodiscri.kernel.events import NO_STREAM, WrongExpectedVersion
from allodiscri.platform.memory import InMemoryUnitOfWork
from services.intake import handlers
from services.intake.minutes import ConfirmMinutes, RectifyMinutes, ShowMinutes, SignMinutes
from services.intake.receipts import ReceiptAlreadyRegistered
from services.intake.schemas import ReportSubmissionSchema
from tests.helpers import report

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LISTENER = Actor("listener-1", "listener", "SG")
DECLARANT = Actor("declarant", "declarant", "SG")


class ReceiptsInMemory:
    """Registers a code once per report and checks it; what `ReceiptCodes` promises."""

    def __init__(self):
        self.codes: dict[str, str] = {}

    def register(self, report_id: str, code: str) -> None:
        if report_id in self.codes:
            raise ReceiptAlreadyRegistered(report_id)
        self.codes[report_id] = code

    def check(self, report_id: str, code: str) -> bool:
        return self.codes.get(report_id) == code.replace("-", "").replace(" ", "")


@pytest.fixture
def intake():
    return handlers.Intake(InMemoryUnitOfWork(service="intake"), None, ReceiptsInMemory())


def submission(**changes):
    return ReportSubmissionSchema().load({**report(), **changes})


def test_a_report_is_filed_once_and_its_code_given_once(intake):
    first = handlers.file_report(
        intake, submission(submission_id="0b7e2c1a-5555-4666-8777-888899990000"), DECLARANT, now=NOW
    )
    again = handlers.file_report(
        intake, submission(submission_id="0b7e2c1a-5555-4666-8777-888899990000"), DECLARANT, now=NOW
    )
    assert first["already_received"] is False
    assert len(first["receipt_code"].replace(" ", "")) == 16
    assert again == {
        "report_id": first["report_id"],
        "receipt_code": None,
        "already_received": True,
    }
    assert [event.type for event in intake.work.recorded] == ["ReportReceived"]


def test_the_receipt_code_names_the_declarant_of_its_report_only(intake):
    filed = handlers.file_report(intake, submission(), DECLARANT, now=NOW)
    actor = handlers.declarant(intake, filed["report_id"], filed["receipt_code"])
    assert actor == Actor("declarant", "declarant", "SG")
    with pytest.raises(NotFound):
        handlers.declarant(intake, filed["report_id"], "0000-0000-0000-0000")


def oral_report(intake) -> str:
    filed = handlers.file_report(intake, submission(channel="phone"), LISTENER, now=NOW)
    handlers.draft_minutes(intake, filed["report_id"], "Le déclarant expose les faits.", LISTENER)
    return filed["report_id"]


def test_the_minutes_are_drafted_once_whatever_the_retries(intake):
    report_id = oral_report(intake)
    assert (
        handlers.draft_minutes(intake, report_id, "Le déclarant expose les faits.", LISTENER) == 2
    )
    assert [event.type for event in intake.work.recorded] == ["ReportReceived", "MinutesDrafted"]


def test_the_minutes_go_shown_rectified_shown_confirmed_signed(intake):
    report_id = oral_report(intake)
    steps = [
        (ShowMinutes(), LISTENER),
        (RectifyMinutes("Le déclarant précise la date."), DECLARANT),
        (ShowMinutes(), LISTENER),
        (ConfirmMinutes(), DECLARANT),
        (SignMinutes(), DECLARANT),
    ]
    answers = [handlers.change_minutes(intake, report_id, step, who) for step, who in steps]
    assert [(answer["event"], answer["version"]) for answer in answers] == [
        ("MinutesShown", 3),
        ("MinutesRectified", 4),
        ("MinutesShown", 5),
        ("MinutesConfirmed", 6),
        ("MinutesSigned", 7),
    ]


def test_minutes_signed_before_they_are_confirmed_are_refused(intake):
    report_id = oral_report(intake)
    handlers.change_minutes(intake, report_id, ShowMinutes(), LISTENER)
    with pytest.raises(Refused):
        handlers.change_minutes(intake, report_id, SignMinutes(), DECLARANT)


def test_minutes_changed_on_a_version_they_have_left_are_a_conflict(intake):
    report_id = oral_report(intake)
    handlers.change_minutes(intake, report_id, ShowMinutes(), LISTENER)
    with pytest.raises(WrongExpectedVersion):
        handlers.change_minutes(intake, report_id, ConfirmMinutes(), DECLARANT, expected_version=2)


def test_a_report_without_minutes_has_none_to_change(intake):
    filed = handlers.file_report(intake, submission(), DECLARANT, now=NOW)
    with pytest.raises(NotFound):
        handlers.change_minutes(intake, filed["report_id"], ShowMinutes(), LISTENER)


def test_the_follow_up_tells_where_the_case_stands_and_the_cells_messages(intake):
    filed = handlers.file_report(intake, submission(), DECLARANT, now=NOW)
    report_id = filed["report_id"]
    work = intake.work
    system = Actor("cases-service", "system", "SG")
    opened = {
        "case_id": report_id,
        "report_id": report_id,
        "platform": "SG",
        "channel": "web",
        "kinds": ["discrimination"],
        "criteria": ["age"],
        "received_at": NOW.isoformat(),
        "transferred_from": None,
    }
    work.record("case", report_id, "CaseOpened", opened, actor=system, expected_version=NO_STREAM)
    work.record(
        "case",
        report_id,
        "ReceiptAcknowledged",
        {"case_id": report_id},
        actor=LISTENER,
        expected_version=1,
    )
    work.record(
        "case",
        report_id,
        "DeclarantInformed",
        {"case_id": report_id, "message": "Nous vous appelons jeudi."},
        actor=LISTENER,
        expected_version=2,
    )
    seen = handlers.follow_up(intake, report_id)
    assert seen["status"] == "acknowledged"
    assert [message["message"] for message in seen["messages"]] == ["Nous vous appelons jeudi."]
    assert seen["minutes"] is None


def test_information_added_by_the_declarant_is_recorded_on_the_report(intake):
    filed = handlers.file_report(intake, submission(), DECLARANT, now=NOW)
    answer = handlers.add_information(
        intake, filed["report_id"], "Un témoin a écrit.", [], DECLARANT
    )
    assert answer == {"report_id": filed["report_id"], "version": 2}
    added = intake.work.recorded[-1]
    assert (added.type, added.data["message"]) == (
        "DeclarantAddedInformation",
        "Un témoin a écrit.",
    )
