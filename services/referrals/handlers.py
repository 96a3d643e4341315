"""The referrals use cases: load a referral (or its case's standing) from the events, decide,
record, through the unit of work. No nameko, no database: the service projects what was
recorded.

Commands on a referral are guarded by the version the caller saw, so two people acting on it
at once get a clear conflict rather than a lost update. What the clocks and the reactions
record (reminders, withdrawals) has an event id derived from what it answers, so several
instances, or a redelivery, record it once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import NotFound, Refused
from allodiscri.kernel.events import NO_STREAM, RecordedEvent, WrongExpectedVersion, stream_name
from allodiscri.kernel.statemachine import WorkflowRefusal
from allodiscri.kernel.unit_of_work import UnitOfWork
from allodiscri.kernel.workdays import WorkingDayCalendar
from services.referrals import domain

SYSTEM_ACTOR_ID = "referrals-service"


def system_actor(platform: str) -> Actor:
    """Who records what no person did (reminders, withdrawals), on `platform`."""
    return Actor(SYSTEM_ACTOR_ID, "system", platform)


def case_standing(work: UnitOfWork, case_id: str) -> domain.CaseStanding | None:
    return domain.case_standing(case_id, work.read_stream(stream_name("case", case_id)))


def request_referral(
    work: UnitOfWork,
    case_id: str,
    interlocutor: str,
    purpose: str,
    actor: Actor,
    command_id: str | None,
) -> str:
    """Record a referral on an open case of the actor's platform; return the referral id.

    With a command id, a retry returns the same referral and records nothing more.
    """
    referral_id, event_id, data = domain.request_referral(
        case_standing(work, case_id), case_id, interlocutor, purpose, actor, command_id
    )
    work.record(
        "referral",
        referral_id,
        "ReferralRequested",
        data,
        actor=actor,
        expected_version=NO_STREAM,
        event_id=event_id,
    )
    return referral_id


def load_referral(work: UnitOfWork, referral_id: str, actor: Actor) -> domain.Referral:
    """The referral as its events say now; another platform's does not exist for the actor."""
    referral = domain.fold(work.read_stream(stream_name("referral", referral_id)))
    if referral is None or referral.platform != actor.platform:
        raise NotFound("referral", referral_id)
    return referral


def execute(
    work: UnitOfWork,
    referral_id: str,
    command: domain.ReferralCommand,
    actor: Actor,
    expected_version: int,
) -> dict[str, Any]:
    """Apply one command to the referral the caller saw at `expected_version`."""
    referral = load_referral(work, referral_id, actor)
    if referral.version != expected_version:
        raise WrongExpectedVersion(
            stream_name("referral", referral_id), expected_version, referral.version
        )
    if isinstance(command, domain.SendReferral):
        standing = case_standing(work, referral.case_id)
        if standing is None or not standing.open:
            raise Refused(f"case {referral.case_id} is closed: its referrals are not sent")
    try:
        event_type, data = domain.decide(referral, command)
    except WorkflowRefusal as refusal:
        raise Refused(str(refusal)) from None
    recorded = work.record(
        "referral",
        referral_id,
        event_type,
        data,
        actor=actor,
        expected_version=referral.version,
    )
    return _result(recorded)


def remind_overdue(
    work: UnitOfWork,
    referral_ids: Iterable[str],
    today: date,
    calendar: WorkingDayCalendar,
    every: int,
) -> list[dict[str, Any]]:
    """Remind the interlocutors of those referrals whose answer is overdue today.

    `referral_ids` only preselects (the service reads them from its view): the referral
    folded from the log decides. Reminder n of a referral has one event id, so it is recorded
    once however often, and by however many instances, this runs.
    """
    reminded = []
    for referral_id in referral_ids:
        referral = domain.fold(work.read_stream(stream_name("referral", referral_id)))
        if referral is None:
            continue
        data = domain.reminder_due(referral, today, calendar, every)
        if data is None:
            continue
        recorded = work.record(
            "referral",
            referral.referral_id,
            "ReferralReminded",
            data,
            actor=system_actor(referral.platform),
            expected_version=referral.version,
            event_id=str(
                uuid.uuid5(domain.NAMESPACE, f"reminder:{referral.referral_id}:{data['reminder']}")
            ),
        )
        reminded.append(_result(recorded))
    return reminded


def withdraw_with_closed_case(work: UnitOfWork, closure: RecordedEvent) -> list[dict[str, Any]]:
    """A case closed with "withdraw" withdraws its referrals still open, once each: the
    withdrawal's event id derives from the referral and the closure."""
    if closure.data["referrals_disposition"] != "withdraw":
        return []
    system = system_actor(closure.meta.platform)
    withdrawn = []
    for referral_id in closure.data["open_referrals"]:
        referral = domain.fold(work.read_stream(stream_name("referral", referral_id)))
        if referral is None or referral.status not in domain.OPEN:
            continue
        event_type, data = domain.decide(referral, domain.WithdrawReferral("case closed"))
        recorded = work.record(
            "referral",
            referral_id,
            event_type,
            data,
            actor=system,
            expected_version=referral.version,
            event_id=str(uuid.uuid5(domain.NAMESPACE, f"withdraw:{referral_id}:{closure.id}")),
            causation_id=closure.id,
        )
        withdrawn.append(_result(recorded))
    return withdrawn


def _result(event: RecordedEvent) -> dict[str, Any]:
    return {"referral_id": event.data["referral_id"], "event": event.type, "version": event.version}
