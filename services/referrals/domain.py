"""Referrals to interlocutors: their lifecycle as a state machine, and what they need to know of
their case. Pure: no I/O.

requested → sent → acknowledged → answered → closed; a referral still open when its case is
closed with "withdraw" is withdrawn. A referral sent and not answered is reminded every few
working days (the service's REFERRAL_REMINDER_WORKING_DAYS, 15 by default).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import NotFound, Refused
from allodiscri.kernel.events import RecordedEvent
from allodiscri.kernel.statemachine import Transition, WorkflowRefusal, command_name
from allodiscri.kernel.workdays import WorkingDayCalendar

NAMESPACE = uuid.UUID("a3f4c1d2-7e8b-4c5a-9d6e-1b2c3d4e5f60")


# -- the case, as far as a referral needs it ---------------------------------------------------


@dataclass(frozen=True)
class CaseStanding:
    case_id: str
    platform: str
    open: bool


def case_standing(case_id: str, events: Iterable[RecordedEvent]) -> CaseStanding | None:
    standing = None
    for event in events:
        if event.type == "CaseOpened":
            standing = CaseStanding(case_id, event.data["platform"], open=True)
        elif standing is not None and event.type in ("CaseClosed", "CaseTransferred"):
            standing = dataclasses.replace(standing, open=False)
        elif standing is not None and event.type == "CaseReopened":
            standing = dataclasses.replace(standing, open=True)
    return standing


def request_referral(
    standing: CaseStanding | None,
    case_id: str,
    interlocutor: str,
    purpose: str,
    actor: Actor,
    command_id: str | None,
) -> tuple[str, str, dict[str, Any]]:
    """(referral id, event id, ReferralRequested data), or a refusal naming the rule."""
    if standing is None or standing.platform != actor.platform:
        # Another platform's case does not exist for this actor: no hint that it does.
        raise NotFound("case", case_id)
    if not standing.open:
        raise Refused(f"case {case_id} is closed: a closed case takes no new referral")
    referral_id = str(uuid.uuid5(NAMESPACE, f"referral:{command_id}")) if command_id else None
    referral_id = referral_id or str(uuid.uuid4())
    data = {
        "referral_id": referral_id,
        "case_id": case_id,
        "platform": standing.platform,
        "interlocutor": interlocutor,
        "purpose": purpose,
    }
    return referral_id, str(uuid.uuid5(NAMESPACE, f"ReferralRequested:{referral_id}")), data


# -- the referral ------------------------------------------------------------------------------


class ReferralStatus(StrEnum):
    REQUESTED = "requested"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ANSWERED = "answered"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Referral:
    referral_id: str
    case_id: str
    platform: str
    interlocutor: str
    purpose: str
    status: ReferralStatus
    version: int
    sent_on: date | None = None
    reminders: int = 0


def apply(referral: Referral | None, event: RecordedEvent) -> Referral:
    data = event.data
    if event.type == "ReferralRequested":
        return Referral(
            referral_id=data["referral_id"],
            case_id=data["case_id"],
            platform=data["platform"],
            interlocutor=data["interlocutor"],
            purpose=data["purpose"],
            status=ReferralStatus.REQUESTED,
            version=event.version,
        )
    if referral is None:
        raise ValueError(f"{event.type} at version {event.version} precedes ReferralRequested")
    change: dict[str, Any] = {"version": event.version}
    status = EVENT_STATUS.get(event.type)
    if status is not None:
        change["status"] = status
    if event.type == "ReferralSent":
        change["sent_on"] = date.fromisoformat(data["sent_on"])
    if event.type == "ReferralReminded":
        change["reminders"] = data["reminder"]
    return dataclasses.replace(referral, **change)


def fold(events: Iterable[RecordedEvent]) -> Referral | None:
    referral = None
    for event in events:
        referral = apply(referral, event)
    return referral


@dataclass(frozen=True)
class SendReferral:
    sent_on: date
    note: str | None = None


@dataclass(frozen=True)
class AcknowledgeReferral:
    pass


@dataclass(frozen=True)
class AnswerReferral:
    answer: str
    measures: tuple[str, ...] = ()


@dataclass(frozen=True)
class CloseReferral:
    reason: str


@dataclass(frozen=True)
class WithdrawReferral:
    reason: str


RS = ReferralStatus
OPEN = frozenset({RS.REQUESTED, RS.SENT, RS.ACKNOWLEDGED, RS.ANSWERED})

REFERRAL_WORKFLOW: dict[type, Transition] = {
    SendReferral: Transition(
        "ReferralSent", frozenset({RS.REQUESTED}), "a referral is sent once", RS.SENT
    ),
    AcknowledgeReferral: Transition(
        "ReferralAcknowledged",
        frozenset({RS.SENT}),
        "an interlocutor acknowledges a referral that was sent and not yet answered",
        RS.ACKNOWLEDGED,
    ),
    AnswerReferral: Transition(
        "ReferralAnswered",
        frozenset({RS.SENT, RS.ACKNOWLEDGED}),
        "an answer is recorded once, for a referral that was sent",
        RS.ANSWERED,
    ),
    CloseReferral: Transition(
        "ReferralClosed",
        frozenset({RS.ANSWERED}),
        "a referral is closed once answered (withdraw it otherwise)",
        RS.CLOSED,
    ),
    WithdrawReferral: Transition(
        "ReferralWithdrawn", OPEN, "only an open referral can be withdrawn", RS.WITHDRAWN
    ),
}
EVENT_STATUS = {
    transition.event: transition.to
    for transition in REFERRAL_WORKFLOW.values()
    if transition.to is not None
}

ReferralCommand = SendReferral | AcknowledgeReferral | AnswerReferral | CloseReferral
ReferralCommand |= WithdrawReferral


def decide(referral: Referral, command) -> tuple[str, dict[str, Any]]:
    transition = REFERRAL_WORKFLOW[type(command)]
    if referral.status not in transition.allowed_in:
        raise WorkflowRefusal(
            command_name(type(command)), referral.status, transition.rule, "referral"
        )
    data: dict[str, Any] = {"referral_id": referral.referral_id, "case_id": referral.case_id}
    match command:
        case SendReferral(sent_on=sent_on, note=note):
            data |= {"sent_on": sent_on.isoformat(), "note": note}
        case AnswerReferral(answer=answer, measures=measures):
            data |= {"answer": answer, "measures": list(measures)}
        case CloseReferral(reason=reason) | WithdrawReferral(reason=reason):
            data["reason"] = reason
    return transition.event, data


def reminder_due(
    referral: Referral, today: date, calendar: WorkingDayCalendar, every: int
) -> dict[str, Any] | None:
    """The ReferralReminded data when a sent referral's answer is overdue today.

    Reminder n falls due `every * n` working days after the referral was sent.
    """
    if referral.status not in (RS.SENT, RS.ACKNOWLEDGED) or referral.sent_on is None:
        return None
    due_on = calendar.add_working_days(referral.sent_on, every * (referral.reminders + 1))
    if today < due_on:
        return None
    return {
        "referral_id": referral.referral_id,
        "case_id": referral.case_id,
        "reminder": referral.reminders + 1,
        "due_on": due_on.isoformat(),
    }
