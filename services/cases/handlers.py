"""The cases use cases: load a case from its events, decide, record, through the unit of work.

Commands are idempotent by a client-supplied command id (the event id derives from it, so a
retry returns the first result) and guarded by the version the caller saw, so two listeners
acting at once get a clear conflict rather than a lost update.

Erasure destroys the data keys *before* it records `CaseErased`: a crash in between leaves a
case whose data is already unreadable and whose log does not say so yet, which retrying the
command repairs (destroying a destroyed key again changes nothing). The other order could
leave a case the log calls erased whose data is still readable.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import NotFound, Refused
from allodiscri.kernel.case_states import Case, Status, dates_of, fold
from allodiscri.kernel.deadlines import alerts, case_deadlines
from allodiscri.kernel.events import (
    ANY,
    NO_STREAM,
    RecordedEvent,
    WrongExpectedVersion,
    stream_name,
)
from allodiscri.kernel.unit_of_work import UnitOfWork
from allodiscri.kernel.workdays import WorkingDayCalendar
from services.cases.retention import RetentionPolicy
from services.cases.workflow import (
    ERASABLE,
    LIVE,
    CloseCase,
    Command,
    EraseCase,
    WorkflowRefusal,
    decide,
)

log = logging.getLogger(__name__)

NAMESPACE = uuid.UUID("4b8f0f55-9f36-4f8e-b7a4-2d6c1c3e8a90")
DEADLINE_ACTOR_ID = "deadline-clock"
RETENTION_ACTOR_ID = "retention-clock"
RETENTION_COMMAND_ID = "retention"
"""The command id of every erasure the retention clock makes: one event id per case, so the
clocks of several instances record it once."""


def command_event_id(case_id: str, command_id: str | None) -> str:
    if command_id is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(NAMESPACE, f"{case_id}:{command_id}"))


def load_case(work: UnitOfWork, case_id: str, actor: Actor) -> Case:
    """The case as its events say now; another platform's case does not exist for the actor
    (the attempt is traced as a denial)."""
    case = fold(work.read_stream(stream_name("case", case_id)))
    if case is not None and case.platform != actor.platform:
        work.deny(actor, f"case {case_id} belongs to another platform")
        case = None
    if case is None:
        raise NotFound("case", case_id)
    return case


def execute(
    work: UnitOfWork,
    case_id: str,
    command: Command,
    actor: Actor,
    expected_version: int,
    command_id: str | None,
) -> dict[str, Any]:
    event_id = command_event_id(case_id, command_id)
    earlier = work.find(event_id)
    if earlier is not None:
        if earlier.stream != stream_name("case", case_id):
            raise Refused(f"command id {command_id} was already used on another case")
        return _result(earlier)
    case = load_case(work, case_id, actor)
    if case.version != expected_version:
        raise WrongExpectedVersion(stream_name("case", case_id), expected_version, case.version)
    if isinstance(command, CloseCase):
        command = CloseCase(
            command.outcome,
            command.reason,
            command.referrals_disposition,
            tuple(open_referrals(work, case_id)),
        )
    if isinstance(command, EraseCase):
        command = EraseCase(
            command.basis,
            tuple(open_referrals(work, case_id)),
            tuple(other_holders_of_report(work, case)),
        )
    try:
        event_type, data = decide(case, command)
    except WorkflowRefusal as refusal:
        raise Refused(str(refusal)) from None
    if event_type == "CaseErased":
        for subject in data["erased_subjects"]:
            work.erase_keys(subject)
    recorded = work.record(
        "case",
        case_id,
        event_type,
        data,
        actor=actor,
        expected_version=case.version,
        event_id=event_id,
    )
    return _result(recorded)


CLOSED_REFERRAL_EVENTS = ("ReferralClosed", "ReferralWithdrawn")


def open_referrals(work: UnitOfWork, case_id: str) -> list[str]:
    """The case's referrals still open, from the log: a view could lag behind a closure."""
    return sorted(
        event.data["referral_id"]
        for event in work.last_events("referral", case_id=case_id)
        if event.type not in CLOSED_REFERRAL_EVENTS
    )


def other_holders_of_report(work: UnitOfWork, case: Case) -> list[str]:
    """The other cases of the case's report that still hold it: opened by a transfer, and
    neither transferred on nor erased. The report's data key seals their facts and identity
    too, so erasing this case now would erase theirs."""
    if case.report_id is None:
        return []
    others = []
    for last in work.last_events("case", report_id=case.report_id):
        other = fold(work.read_stream(last.stream))
        if (
            other is not None
            and other.case_id != case.case_id
            and other.status not in (Status.TRANSFERRED, Status.ERASED)
        ):
            others.append(other.case_id)
    return sorted(others)


def erase_expired(
    work: UnitOfWork,
    candidates: Iterable[dict[str, Any]],
    policy: RetentionPolicy,
    now: datetime,
) -> list[str]:
    """Erase every closed or transferred case past its platform's retention; returns them.

    The view only preselects: the case folded from the log decides, so a case reopened since
    (and closed again) is judged by its last closure. A case the workflow refuses to erase yet
    (a referral still awaiting its answer, a transfer still handled elsewhere) is left for a
    later run, and said so in the log.
    """
    erased = []
    for view in candidates:
        closed_at = view.get("closed_at")
        if closed_at is not None and not policy.expired(view["platform"], closed_at, now):
            continue
        case = fold(work.read_stream(stream_name("case", view["_id"])))
        if (
            case is None
            or case.status not in ERASABLE
            or not policy.expired(case.platform, case.closed_at, now)
        ):
            continue
        clock = Actor(RETENTION_ACTOR_ID, "system", case.platform)
        try:
            execute(
                work,
                case.case_id,
                EraseCase("retention"),
                clock,
                case.version,
                RETENTION_COMMAND_ID,
            )
        except (Refused, WrongExpectedVersion) as deferred:
            log.info("retention of case %s deferred: %s", case.case_id, deferred)
            continue
        erased.append(case.case_id)
    return erased


def _result(event: RecordedEvent) -> dict[str, Any]:
    return {
        "case_id": event.data["case_id"],
        "event": event.type,
        "version": event.version,
        "event_id": event.id,
    }


def record_access(
    work: UnitOfWork,
    case_id: str,
    actor: Actor,
    event_type: str,
    data: dict[str, Any],
    event_id: str | None = None,
) -> RecordedEvent:
    """Append to the case's access stream (reads, identity requests), apart from its workflow.

    Kept in its own stream so that a read never moves the case's version under a listener.
    """
    return work.record(
        "access",
        case_id,
        event_type,
        {"case_id": case_id, **data},
        actor=actor,
        expected_version=ANY,
        event_id=event_id,
    )


def open_transferred_case(work: UnitOfWork, transfer: RecordedEvent, actor: Actor) -> str:
    """The case the receiving platform works on, opened once per transfer."""
    source = fold(work.read_stream(transfer.stream, to_version=transfer.version))
    opened = next(work.read_stream(transfer.stream, to_version=1))
    new_case_id = str(uuid.uuid5(NAMESPACE, f"transfer:{transfer.id}"))
    work.record(
        "case",
        new_case_id,
        "CaseOpened",
        {
            "case_id": new_case_id,
            "report_id": opened.data["report_id"],
            "platform": transfer.data["to_platform"],
            "channel": opened.data["channel"],
            "kinds": list(source.kinds),
            "criteria": list(source.criteria),
            "received_at": opened.data.get("received_at"),
            "transferred_from": source.platform,
        },
        actor=actor,
        expected_version=NO_STREAM,
        event_id=str(uuid.uuid5(NAMESPACE, f"CaseOpened:{transfer.id}")),
        causation_id=transfer.id,
    )
    return new_case_id


ALERT_EVENTS = {"approaching": "DeadlineApproaching", "missed": "DeadlineMissed"}


def raise_deadline_alerts(
    work: UnitOfWork,
    case_id: str,
    today: date,
    calendar: WorkingDayCalendar,
    warn_working_days: int,
) -> list[str]:
    """Record each deadline alert of the case once: the event id derives from the case, the
    deadline, the level and the due day, so timers in several instances record it once.

    Alerts go to the case's `deadline-` stream, not its workflow stream, so a clock ticking
    never moves the version a listener's next command expects.
    """
    case = fold(work.read_stream(stream_name("case", case_id)))
    if case is None or case.status not in LIVE:
        return []
    recorded = []
    deadlines = case_deadlines(dates_of(case), calendar)
    for alert in alerts(deadlines, today, calendar, warn_working_days):
        event_type = ALERT_EVENTS[alert.level]
        event_id = str(
            uuid.uuid5(NAMESPACE, f"{case_id}:{alert.kind}:{alert.level}:{alert.due_on}")
        )
        if work.find(event_id) is not None:
            continue
        work.record(
            "deadline",
            case_id,
            event_type,
            {"case_id": case_id, "deadline": alert.kind, "due_on": alert.due_on.isoformat()},
            actor=Actor(DEADLINE_ACTOR_ID, "system", case.platform),
            expected_version=ANY,
            event_id=event_id,
        )
        recorded.append(event_type)
    return recorded
