"""Where a case stands: its statuses, the four phases of the law, and the one fold that tells
how the case events change a case.

The cases service decides (services/cases/workflow.py); everyone who needs a case's state from
its published events — the cases views, the declarant's follow-up, the statistics — folds them
here, so the rule is written once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from allodiscri.kernel.deadlines import CaseDates
from allodiscri.kernel.events import RecordedEvent
from allodiscri.kernel.workdays import local_date


class Status(StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    INTERVIEW_SCHEDULED = "interview-scheduled"
    IN_TREATMENT = "in-treatment"
    INQUIRY = "inquiry"
    CLOSED = "closed"
    TRANSFERRED = "transferred"
    ERASED = "erased"


PHASES = {
    Status.RECEIVED: "recueil",
    Status.ACKNOWLEDGED: "recueil",
    Status.INTERVIEW_SCHEDULED: "entretien",
    Status.IN_TREATMENT: "traitement",
    Status.INQUIRY: "clôture",
    Status.CLOSED: "clôture",
    Status.TRANSFERRED: "clôture",
    Status.ERASED: "clôture",
}


# -- the case, folded from its events ---------------------------------------------------------


@dataclass(frozen=True)
class Case:
    case_id: str
    platform: str
    status: Status
    version: int
    received_on: date
    listener_id: str | None = None
    kinds: tuple[str, ...] = ()
    criteria: tuple[str, ...] = ()
    criteria_version: int | None = None
    qualified: bool = False
    acknowledged_on: date | None = None
    first_feedback_on: date | None = None
    meeting_requested_on: date | None = None
    meeting_held_on: date | None = None
    status_before_interview: Status | None = None
    outcome: str | None = None
    report_id: str | None = None
    closed_at: datetime | None = None
    """When the case last left the platform's hands (closed or transferred): the retention
    period runs from then."""


def apply(case: Case | None, event: RecordedEvent) -> Case:
    """The case after `event`. Events only record what was decided, so this never refuses."""
    data = event.data
    if event.type == "CaseOpened":
        received = data.get("received_at")
        return Case(
            case_id=data["case_id"],
            platform=data["platform"],
            status=Status.RECEIVED,
            version=event.version,
            received_on=local_date(
                datetime.fromisoformat(received) if received else event.recorded_at
            ),
            kinds=tuple(data["kinds"]),
            criteria=tuple(data["criteria"]),
            report_id=data["report_id"],
        )
    if case is None:
        raise ValueError(f"{event.type} at version {event.version} precedes CaseOpened")
    change: dict[str, Any] = {"version": event.version}
    today = local_date(event.recorded_at)
    match event.type:
        case "ReceiptAcknowledged":
            change |= {"status": Status.ACKNOWLEDGED, "acknowledged_on": today}
        case "ListenerAssigned":
            change["listener_id"] = data["listener_id"]
        case "InterviewScheduled":
            if case.status != Status.INTERVIEW_SCHEDULED:
                change["status_before_interview"] = case.status
            change["status"] = Status.INTERVIEW_SCHEDULED
        case "InterviewHeld":
            change["status"] = Status.IN_TREATMENT
            if case.meeting_requested_on and not case.meeting_held_on:
                change["meeting_held_on"] = today
        case "InterviewMissed":
            change["status"] = case.status_before_interview or Status.ACKNOWLEDGED
        case "TreatmentBegun":
            change["status"] = Status.IN_TREATMENT
        case "FactsQualified" | "FactsReclassified":
            change |= {
                "kinds": tuple(data["kinds"]),
                "criteria": tuple(data["criteria"]),
                "criteria_version": data["criteria_version"],
                "qualified": True,
            }
        case "MeetingRequested":
            change |= {"meeting_requested_on": today, "meeting_held_on": None}
        case "DeclarantInformed":
            if case.acknowledged_on and not case.first_feedback_on:
                change["first_feedback_on"] = today
        case "AdministrativeInquiryOpened":
            change["status"] = Status.INQUIRY
        case "CaseClosed":
            change |= {
                "status": Status.CLOSED,
                "outcome": data["outcome"],
                "closed_at": event.recorded_at,
            }
        case "CaseReopened":
            change |= {"status": Status.IN_TREATMENT, "outcome": None, "closed_at": None}
        case "CaseTransferred":
            change |= {"status": Status.TRANSFERRED, "closed_at": event.recorded_at}
        case "CaseErased":
            change["status"] = Status.ERASED
    return dataclasses.replace(case, **change)


def dates_of(case: Case) -> CaseDates:
    """The dates a case's deadlines run from, as its events recorded them."""
    return CaseDates(
        received_on=case.received_on,
        acknowledged_on=case.acknowledged_on,
        first_feedback_on=case.first_feedback_on,
        meeting_requested_on=case.meeting_requested_on,
        meeting_held_on=case.meeting_held_on,
    )


def fold(events) -> Case | None:
    case = None
    for event in events:
        case = apply(case, event)
    return case
