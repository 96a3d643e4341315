"""The statistics fold, state by state: what each event does to a case and to the figures."""

import random
import statistics as stats
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from allodiscri.kernel.events import RecordedEvent
from services.reporting.domain import (
    MemoCalendar,
    StatisticsFold,
    apply,
    contribution,
    entity_key,
    increments,
    nest,
    source_key,
)
from services.reporting.figures import figures, platform_counts, quantile
from services.reporting.statistics import entity_document, entity_from_document, flatten
from tests.helpers import meta
from tests.unit.test_cases_and_referrals import CASE_ID, recorded, report_received

CALENDAR = MemoCalendar()
OTHER_ID = "7a2d6b3f-2222-4333-8444-555566667777"
REFERRAL_ID = "8b3e7c40-3333-4444-8555-666677778888"


class Log:
    """Builds recorded events in order, each at a given Paris day (noon)."""

    def __init__(self):
        self.events: list[RecordedEvent] = []

    def add(self, event_type: str, on: date, **data) -> RecordedEvent:
        at = datetime(on.year, on.month, on.day, 11, tzinfo=UTC)
        event = RecordedEvent(
            id=f"e-{len(self.events) + 1}",
            stream="case-x",
            stream_type="case",
            version=len(self.events) + 1,
            position=len(self.events) + 1,
            type=event_type,
            schema_version=1,
            data=data,
            meta=meta(),
            recorded_at=at,
            prev_hash="",
            hash="",
        )
        self.events.append(event)
        return event

    def report(self, on: date, case_id=CASE_ID, platform="SG", role="victim", kinds=("violence",)):
        self.add(
            "ReportReceived",
            on,
            report_id=case_id,
            platform=platform,
            channel="phone",
            received_at=f"{on.isoformat()}T09:00:00+01:00",
            declarant={"role": role, "perimeter": "prefecture", "status": "titulaire"},
            facts={"kinds": list(kinds), "criteria": []},
        )
        self.add(
            "CaseOpened",
            on,
            case_id=case_id,
            report_id=case_id,
            platform=platform,
            channel="phone",
            kinds=list(kinds),
            criteria=[],
            received_at=f"{on.isoformat()}T09:00:00+01:00",
            transferred_from=None,
        )

    def case(self, event_type: str, on: date, case_id=CASE_ID, **data):
        return self.add(event_type, on, case_id=case_id, **data)

    def figures(self, today: date, platform="SG") -> dict:
        fold = StatisticsFold()
        for event in self.events:
            fold.apply(event)
        return figures(platform_counts(fold.counts(CALENDAR), platform), today)


MONDAY = date(2026, 3, 2)


# -- the first statistics, per event ------------------------------------------------------------


def test_a_report_counts_once_per_kind_and_once_in_the_total():
    assert increments(report_received()) == {
        "SG.reports.total": 1,
        "SG.reports.channel.web": 1,
        "SG.reports.kind.discrimination": 1,
        "SG.reports.kind.harcelement-moral": 1,
    }


def test_an_opened_case_counts_as_open():
    opened = recorded(
        "CaseOpened",
        {"platform": "GN", "channel": "phone", "kinds": ["violence"], "criteria": []},
        stream=f"case-{CASE_ID}",
    )
    assert increments(opened) == {
        "GN.open_cases.total": 1,
        "GN.open_cases.channel.phone": 1,
        "GN.open_cases.kind.violence": 1,
    }


def test_other_events_count_nothing():
    assert increments(recorded("ReferralRequested", {}, stream="referral-1")) == {}


def test_nest_and_flatten_are_inverse():
    flat = {"SG.reports.total": 2, "SG.reports.kind.violence": 1, "PN.open_cases.total": 1}
    assert nest(flat) == {
        "SG": {"reports": {"total": 2, "kind": {"violence": 1}}},
        "PN": {"open_cases": {"total": 1}},
    }
    assert flatten(nest(flat)) == flat


# -- cases and their dimensions ---------------------------------------------------------------


def test_a_case_counts_once_in_each_single_dimension_and_in_each_of_its_kinds():
    log = Log()
    log.report(MONDAY, kinds=("discrimination", "harcelement-moral"), role="witness")
    tables = log.figures(MONDAY)["tables"]
    assert tables["kind"]["cells"] == {"discrimination": 1, "harcelement-moral": 1}
    assert tables["kind"]["total"] == 1 and tables["kind"]["multi_valued"] is True
    assert "more than the total" in tables["kind"]["note"]
    assert tables["criterion"]["cells"] == {"none": 1}
    assert tables["declarant_role"]["cells"] == {"witness": 1}
    assert tables["agent_category"]["cells"] == {"unknown": 1}
    assert tables["channel"] == {**tables["channel"], "total": 1, "cells": {"phone": 1}}
    assert tables["month"]["cells"] == {"2026-03": 1} and tables["year"]["cells"] == {"2026": 1}
    assert tables["case_status"]["cells"] == {"received": 1}


def test_an_unsaid_role_is_unknown_and_unqualified_facts_are_counted_as_such():
    log = Log()
    log.report(MONDAY, role=None, kinds=())
    tables = log.figures(MONDAY)["tables"]
    assert tables["declarant_role"]["cells"] == {"unknown": 1}
    assert tables["kind"]["cells"] == {"unqualified": 1}


def test_the_latest_qualification_replaces_the_report_s_own():
    log = Log()
    log.report(MONDAY, kinds=("discrimination",))
    log.case("FactsQualified", MONDAY, kinds=["harcelement-moral"], criteria=[], criteria_version=2)
    assert log.figures(MONDAY)["tables"]["kind"]["cells"] == {"harcelement-moral": 1}
    log.case(
        "FactsReclassified",
        MONDAY,
        kinds=["discrimination", "violence"],
        criteria=["age", "sexe"],
        criteria_version=2,
        reason="r",
    )
    tables = log.figures(MONDAY)["tables"]
    assert tables["kind"]["cells"] == {"discrimination": 1, "violence": 1}
    assert tables["criterion"]["cells"] == {"age": 1, "sexe": 1}


def test_a_transferred_report_counts_in_both_platforms_with_its_declarant():
    log = Log()
    log.report(MONDAY, role="witness")
    log.case("ReceiptAcknowledged", MONDAY)
    log.case("CaseTransferred", MONDAY, to_platform="PN", reason="r")
    opened = log.add(
        "CaseOpened",
        MONDAY + timedelta(days=1),
        case_id=OTHER_ID,
        report_id=CASE_ID,
        platform="PN",
        channel="phone",
        kinds=["violence"],
        criteria=[],
        received_at=f"{MONDAY.isoformat()}T09:00:00+01:00",
        transferred_from="SG",
    )
    assert source_key(opened) == f"case:{CASE_ID}" and entity_key(opened) == f"case:{OTHER_ID}"
    sender, receiver = log.figures(MONDAY), log.figures(MONDAY, "PN")
    assert sender["tables"]["case_status"]["cells"] == {"transferred": 1}
    assert sender["compliance"]["acknowledgement"]["in_time"] == 1
    assert sender["compliance"]["feedback"]["total"] == 0  # followed by the new platform
    assert receiver["tables"]["received_from"]["cells"] == {"SG": 1}
    assert receiver["tables"]["declarant_role"]["cells"] == {"witness": 1}
    assert receiver["tables"]["month"]["cells"] == {"2026-03": 1}
    assert receiver["compliance"]["acknowledgement"]["pending"] == 1


def test_an_outcome_counts_while_the_case_is_closed_and_closure_is_the_latest():
    log = Log()
    log.report(MONDAY)
    log.case("ReceiptAcknowledged", MONDAY)
    log.case("CaseClosed", MONDAY + timedelta(days=10), outcome="sanction")
    assert log.figures(MONDAY)["tables"]["outcome"]["cells"] == {"sanction": 1}
    log.case("CaseReopened", MONDAY + timedelta(days=20), reason="r")
    reopened = log.figures(MONDAY)
    assert reopened["tables"]["outcome"]["total"] == 0
    assert reopened["durations"]["closure"]["count"] == 0
    log.case("CaseClosed", MONDAY + timedelta(days=30), outcome="litigation")
    closed = log.figures(MONDAY)
    assert closed["tables"]["outcome"]["cells"] == {"litigation": 1}
    assert closed["durations"]["closure"]["median_days"] == 30


def test_the_status_follows_the_case_workflow():
    """Each step's status stated by hand (docs/workflow.md), not recomputed by the workflow."""
    log = Log()
    log.report(MONDAY)
    steps = [
        ("ReceiptAcknowledged", {}, "acknowledged"),
        (
            "InterviewScheduled",
            {"scheduled_for": "2026-03-04T10:00:00+01:00", "mode": "phone"},
            "interview-scheduled",
        ),
        ("InterviewMissed", {"reason": "r"}, "acknowledged"),
        (
            "InterviewScheduled",
            {"scheduled_for": "2026-03-05T10:00:00+01:00", "mode": "phone"},
            "interview-scheduled",
        ),
        (
            "InterviewScheduled",
            {"scheduled_for": "2026-03-06T10:00:00+01:00", "mode": "phone"},
            "interview-scheduled",
        ),
        # Rescheduled, then missed: back to where the case stood before the first scheduling.
        ("InterviewMissed", {"reason": "r"}, "acknowledged"),
        ("TreatmentBegun", {"reason": "r"}, "in-treatment"),
        ("AdministrativeInquiryOpened", {"reason": "r"}, "inquiry"),
        ("CaseClosed", {"outcome": "other", "reason": "r"}, "closed"),
        ("CaseReopened", {"reason": "r"}, "in-treatment"),
    ]
    for event_type, data, expected in steps:
        log.case(event_type, MONDAY, **data)
        assert log.figures(MONDAY)["tables"]["case_status"]["cells"] == {expected: 1}, event_type


def test_durations_are_days_from_receipt_in_paris():
    log = Log()
    log.report(MONDAY)
    log.case("ReceiptAcknowledged", MONDAY + timedelta(days=2))
    log.case("InterviewScheduled", MONDAY + timedelta(days=3), scheduled_for="x", mode="phone")
    log.case("InterviewHeld", MONDAY + timedelta(days=9), notes="n")
    log.case("InterviewScheduled", MONDAY + timedelta(days=10), scheduled_for="x", mode="phone")
    log.case("InterviewHeld", MONDAY + timedelta(days=12), notes="n")
    durations = log.figures(MONDAY)["durations"]
    assert durations["acknowledgement"]["median_days"] == 2
    assert durations["first_interview"]["median_days"] == 9  # the first, not the latest


def test_percentiles_from_a_histogram_match_the_statistics_module():
    generator = random.Random(7)
    for size in (1, 2, 3, 10, 11, 250):
        values = [generator.randint(0, 40) for _ in range(size)]
        histogram = Counter(values)
        assert quantile(histogram, 1, 2) == stats.median(values)
        if size > 1:
            p90 = stats.quantiles(values, n=10, method="inclusive")[8]
            assert quantile(histogram, 9, 10) == p90


def test_compliance_counts_each_deadline_by_the_legal_rules():
    # Received Monday 2 March 2026: acknowledgement due 7 working days later, Wednesday 11.
    log = Log()
    log.report(MONDAY, case_id=CASE_ID)
    log.case("ReceiptAcknowledged", date(2026, 3, 11))
    log.report(MONDAY, case_id=OTHER_ID)
    log.case("ReceiptAcknowledged", date(2026, 3, 12), case_id=OTHER_ID)
    third = "9c4f8d51-4444-4555-8666-777788889999"
    log.report(MONDAY, case_id=third)
    on_the_due_day = log.figures(date(2026, 3, 11))["compliance"]["acknowledgement"]
    assert on_the_due_day | {"rule": None} == {
        "rule": None,
        "in_time": 1,
        "late": 1,
        "overdue": 0,
        "pending": 1,
        "total": 3,
        "share_in_time": 0.5,
    }
    the_day_after = log.figures(date(2026, 3, 12))["compliance"]["acknowledgement"]
    assert (the_day_after["overdue"], the_day_after["share_in_time"]) == (1, 0.3333)

    # Feedback: 3 months after the acknowledgement; a meeting: 20 working days after the ask.
    log.case("DeclarantInformed", date(2026, 6, 11), message="m")
    log.case("MeetingRequested", date(2026, 3, 16))
    log.case("InterviewScheduled", date(2026, 3, 17), scheduled_for="x", mode="phone")
    log.case("InterviewHeld", date(2026, 4, 14), notes="n")  # 20 working days: 14 April
    log.case("MeetingRequested", date(2026, 5, 4))
    log.case("InterviewScheduled", date(2026, 5, 5), scheduled_for="x", mode="phone")
    log.case("InterviewHeld", date(2026, 6, 15), notes="n")
    compliance = log.figures(date(2026, 7, 1))["compliance"]
    assert (compliance["feedback"]["in_time"], compliance["feedback"]["overdue"]) == (1, 2)
    assert (compliance["meeting"]["in_time"], compliance["meeting"]["late"]) == (1, 1)


def test_referrals_count_by_interlocutor_and_purpose_with_answer_times():
    log = Log()
    log.report(MONDAY)
    for number, (interlocutor, waited) in enumerate(
        [("hr-office", 3), ("hr-office", 10), ("occupational-physician", 5)]
    ):
        referral_id = f"{REFERRAL_ID[:-1]}{number}"
        ids = {"referral_id": referral_id, "case_id": CASE_ID}
        log.add("ReferralRequested", MONDAY, **ids, platform="SG", interlocutor=interlocutor)
        log.add("ReferralSent", MONDAY, **ids, sent_on=MONDAY.isoformat(), note=None)
        log.add("ReferralAnswered", MONDAY + timedelta(days=waited), **ids, answer="a")
    result = log.figures(MONDAY)
    assert result["tables"]["referral_interlocutor"]["cells"] == {
        "hr-office": 2,
        "occupational-physician": 1,
    }
    assert result["tables"]["referral_purpose"]["cells"] == {"unspecified": 3}  # version 1
    assert result["tables"]["referral_status"]["cells"] == {"answered": 3}
    times = result["referral_answer_times"]
    assert times["all"] | {"p90_days": None} == {
        "count": 3,
        "median_days": 5,
        "p90_days": None,
    }
    assert times["by_interlocutor"]["hr-office"]["median_days"] == 6.5


def test_applying_each_event_s_change_gives_the_fold_s_counters():
    """What the live read model does, event by event, without the database."""
    log = Log()
    log.report(MONDAY, kinds=("discrimination",))
    log.case("ReceiptAcknowledged", MONDAY + timedelta(days=1))
    log.case("FactsQualified", MONDAY, kinds=["violence"], criteria=["age"], criteria_version=2)
    log.case("MeetingRequested", MONDAY + timedelta(days=2))
    log.case("CaseClosed", MONDAY + timedelta(days=40), outcome="withdrawn")
    log.case("CaseReopened", MONDAY + timedelta(days=41), reason="r")
    log.case("CaseClosed", MONDAY + timedelta(days=42), outcome="other")
    entities, live = {}, Counter()
    fold = StatisticsFold()
    for event in log.events:
        fold.apply(event)
        live.update(increments(event))
        key = entity_key(event)
        before = entities.get(key)
        if before is not None:
            live.subtract(contribution(before, CALENDAR))
        after = apply(before, event)
        live.update(contribution(after, CALENDAR))
        # Through a document, as the live read model stores it between events.
        entities[key] = entity_from_document(entity_document(after))
        assert {k: n for k, n in live.items() if n} == fold.counts(CALENDAR), event.type


@pytest.mark.parametrize("kind", ["ReceiptAcknowledged", "ReferralSent"])
def test_an_event_about_an_unknown_case_or_referral_changes_nothing(kind):
    data = {"case_id": CASE_ID, "referral_id": REFERRAL_ID, "sent_on": "2026-03-02"}
    assert apply(None, recorded(kind, data, stream="case-1")) is None
