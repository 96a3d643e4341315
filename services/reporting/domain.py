"""Statistics as a pure fold over events: per-case facts, and the counters each case adds to.

The unit is the case ("dossier") of a platform: every report a platform received, plus every case
transferred to it. A transferred report therefore counts on both platforms, in the sender with
status "transferred" and in the receiver with `received_from` = the sender; platforms are kept
apart and never summed here (to add them up, leave out the cases received by transfer).

Each case and each referral is an entity with a few facts (attributes, dates, status); what it
contributes to the counters is a function of those facts alone (`contribution`). So the fold
keeps the entities and adds their contributions up once at the end, while the live read model
applies `contribution(after) - contribution(before)` for each event: the same function, hence
the same figures. Memory is one small entity per case and referral, never per event.

Counter keys are `<platform>.<section>.<...>`, so platforms stay apart and one atomic `$inc`
applies an event. No key part is a bare number (days are `d<n>`): MongoDB paths stay objects.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from allodiscri.kernel.case_states import Status
from allodiscri.kernel.deadlines import CaseDates, Deadline, case_deadlines
from allodiscri.kernel.events import RecordedEvent
from allodiscri.kernel.workdays import WorkingDayCalendar, local_date

CASE = "case:"
REFERRAL = "referral:"

UNKNOWN = "unknown"
UNQUALIFIED = "unqualified"
NO_CRITERION = "none"
DIRECT = "direct"

CASE_TYPES = frozenset(
    {
        "CaseOpened",
        "ReceiptAcknowledged",
        "InterviewScheduled",
        "InterviewHeld",
        "InterviewMissed",
        "TreatmentBegun",
        "FactsQualified",
        "FactsReclassified",
        "MeetingRequested",
        "DeclarantInformed",
        "AdministrativeInquiryOpened",
        "CaseClosed",
        "CaseReopened",
        "CaseTransferred",
    }
)
REFERRAL_TYPES = frozenset(
    {
        "ReferralRequested",
        "ReferralSent",
        "ReferralAcknowledged",
        "ReferralAnswered",
        "ReferralClosed",
        "ReferralWithdrawn",
    }
)
STATISTICS_TYPES = frozenset({"ReportReceived"}) | CASE_TYPES | REFERRAL_TYPES


# -- the facts kept per entity ------------------------------------------------------------------


@dataclass(slots=True)
class CaseFacts:
    """What the statistics need of one case; codes only, nothing that names anyone."""

    platform: str
    received_from: str
    channel: str
    declarant_role: str
    perimeter: str
    agent_status: str
    agent_category: str
    received_on: date
    kinds: tuple[str, ...]
    criteria: tuple[str, ...]
    status: str = Status.RECEIVED.value
    status_before_interview: str | None = None
    acknowledged_on: date | None = None
    first_interview_on: date | None = None
    first_feedback_on: date | None = None
    meeting_requested_on: date | None = None
    meeting_held_on: date | None = None
    earlier_meetings: tuple[tuple[date, date | None], ...] = ()
    """Meetings asked for before the current request: (asked on, held on)."""
    closed_on: date | None = None
    outcome: str | None = None


@dataclass(slots=True)
class ReferralFacts:
    platform: str
    interlocutor: str
    purpose: str
    status: str = "requested"
    sent_on: date | None = None
    answered_on: date | None = None


Entity = CaseFacts | ReferralFacts


# -- which entity an event is about, and what it does to it --------------------------------------


def entity_key(event: RecordedEvent) -> str | None:
    """The case or referral an event changes (a case's id is its report's id)."""
    if event.type == "ReportReceived":
        return CASE + event.data["report_id"]
    if event.type in CASE_TYPES:
        return CASE + event.data["case_id"]
    if event.type in REFERRAL_TYPES:
        return REFERRAL + event.data["referral_id"]
    return None


def source_key(event: RecordedEvent) -> str | None:
    """For a case opened by transfer: the original case, which knows the declarant."""
    if event.type != "CaseOpened" or event.data["report_id"] == event.data["case_id"]:
        return None
    return CASE + event.data["report_id"]


def apply(entity: Entity | None, event: RecordedEvent, source: Entity | None = None):
    """The entity after `event` (changed in place when it exists); None while it does not.

    Events only record what was decided, so this never refuses; an event about a case or
    referral the log has not opened yet changes nothing.
    """
    kind = event.type
    data = event.data
    if kind == "ReportReceived":
        return entity if entity is not None else _case_from_report(data)
    if kind == "CaseOpened":
        return entity if entity is not None else _case_from_opening(data, source, event)
    if kind == "ReferralRequested":
        return entity if entity is not None else _referral_from_request(data)
    if entity is None:
        return None
    changes = _CASE_CHANGES if isinstance(entity, CaseFacts) else _REFERRAL_CHANGES
    change = changes.get(kind)
    if change is not None:
        change(entity, data, local_date(event.recorded_at))
    return entity


def _code(value: Any) -> str:
    return value if isinstance(value, str) and value else UNKNOWN


def _codes(values) -> tuple[str, ...]:
    return tuple(sorted(set(values or ())))


def _received_on(received_at: str | None, event: RecordedEvent | None = None) -> date:
    moment = datetime.fromisoformat(received_at) if received_at else event.recorded_at
    return local_date(moment)


def _case_from_report(data: dict[str, Any]) -> CaseFacts:
    declarant = data.get("declarant") or {}
    facts = data.get("facts") or {}
    return CaseFacts(
        platform=data["platform"],
        received_from=DIRECT,
        channel=_code(data.get("channel")),
        declarant_role=_code(declarant.get("role")),
        perimeter=_code(declarant.get("perimeter")),
        agent_status=_code(declarant.get("status")),
        agent_category=_code(declarant.get("category")),
        received_on=_received_on(data["received_at"]),
        kinds=_codes(facts.get("kinds")),
        criteria=_codes(facts.get("criteria")),
    )


def _case_from_opening(data: dict[str, Any], source, event: RecordedEvent) -> CaseFacts:
    """A case opened without its report in view: by transfer, or from an old log."""
    known = source if isinstance(source, CaseFacts) else None
    return CaseFacts(
        platform=data["platform"],
        received_from=data.get("transferred_from") or DIRECT,
        channel=_code(data.get("channel")),
        declarant_role=known.declarant_role if known else UNKNOWN,
        perimeter=known.perimeter if known else UNKNOWN,
        agent_status=known.agent_status if known else UNKNOWN,
        agent_category=known.agent_category if known else UNKNOWN,
        received_on=_received_on(data.get("received_at"), event),
        kinds=_codes(data.get("kinds")),
        criteria=_codes(data.get("criteria")),
    )


def _referral_from_request(data: dict[str, Any]) -> ReferralFacts:
    return ReferralFacts(
        platform=data["platform"],
        interlocutor=_code(data.get("interlocutor")),
        purpose=data.get("purpose") or "unspecified",
    )


# Each change mirrors services.cases.workflow.apply for the facts kept here.


def _acknowledged(case: CaseFacts, data, day: date) -> None:
    case.status = Status.ACKNOWLEDGED.value
    case.acknowledged_on = day


def _interview_scheduled(case: CaseFacts, data, day: date) -> None:
    if case.status != Status.INTERVIEW_SCHEDULED.value:
        case.status_before_interview = case.status
    case.status = Status.INTERVIEW_SCHEDULED.value


def _interview_held(case: CaseFacts, data, day: date) -> None:
    case.status = Status.IN_TREATMENT.value
    if case.first_interview_on is None:
        case.first_interview_on = day
    if case.meeting_requested_on is not None and case.meeting_held_on is None:
        case.meeting_held_on = day


def _interview_missed(case: CaseFacts, data, day: date) -> None:
    case.status = case.status_before_interview or Status.ACKNOWLEDGED.value


def _status(status: Status):
    def change(case: CaseFacts, data, day: date) -> None:
        case.status = status.value

    return change


def _qualified(case: CaseFacts, data, day: date) -> None:
    case.kinds = _codes(data["kinds"])
    case.criteria = _codes(data["criteria"])


def _meeting_requested(case: CaseFacts, data, day: date) -> None:
    if case.meeting_requested_on is not None:
        case.earlier_meetings += ((case.meeting_requested_on, case.meeting_held_on),)
    case.meeting_requested_on = day
    case.meeting_held_on = None


def _informed(case: CaseFacts, data, day: date) -> None:
    if case.acknowledged_on is not None and case.first_feedback_on is None:
        case.first_feedback_on = day


def _closed(case: CaseFacts, data, day: date) -> None:
    case.status = Status.CLOSED.value
    case.outcome = data["outcome"]
    case.closed_on = day


def _reopened(case: CaseFacts, data, day: date) -> None:
    case.status = Status.IN_TREATMENT.value
    case.outcome = None
    case.closed_on = None


_CASE_CHANGES = {
    "ReceiptAcknowledged": _acknowledged,
    "InterviewScheduled": _interview_scheduled,
    "InterviewHeld": _interview_held,
    "InterviewMissed": _interview_missed,
    "TreatmentBegun": _status(Status.IN_TREATMENT),
    "FactsQualified": _qualified,
    "FactsReclassified": _qualified,
    "MeetingRequested": _meeting_requested,
    "DeclarantInformed": _informed,
    "AdministrativeInquiryOpened": _status(Status.INQUIRY),
    "CaseClosed": _closed,
    "CaseReopened": _reopened,
    "CaseTransferred": _status(Status.TRANSFERRED),
}


def _referral_status(status: str):
    def change(referral: ReferralFacts, data, day: date) -> None:
        referral.status = status

    return change


def _referral_sent(referral: ReferralFacts, data, day: date) -> None:
    referral.status = "sent"
    referral.sent_on = date.fromisoformat(data["sent_on"])


def _referral_answered(referral: ReferralFacts, data, day: date) -> None:
    referral.status = "answered"
    referral.answered_on = day


_REFERRAL_CHANGES = {
    "ReferralSent": _referral_sent,
    "ReferralAcknowledged": _referral_status("acknowledged"),
    "ReferralAnswered": _referral_answered,
    "ReferralClosed": _referral_status("closed"),
    "ReferralWithdrawn": _referral_status("withdrawn"),
}


# -- what an entity adds to the counters --------------------------------------------------------

CASE_DIMENSIONS = (
    "channel",
    "declarant_role",
    "perimeter",
    "agent_status",
    "agent_category",
    "received_from",
)


def contribution(entity: Entity, calendar: WorkingDayCalendar) -> list[str]:
    """The counter keys this entity adds one to, as its facts stand."""
    if isinstance(entity, ReferralFacts):
        return _referral_contribution(entity)
    return _case_contribution(entity, calendar)


def days(start: date, end: date) -> str:
    return f"d{(end - start).days}"


def _case_contribution(case: CaseFacts, calendar: WorkingDayCalendar) -> list[str]:
    counted = f"{case.platform}.cases."
    keys = [
        counted + "total",
        *(f"{counted}{dimension}.{getattr(case, dimension)}" for dimension in CASE_DIMENSIONS),
        f"{counted}case_status.{case.status}",
        f"{counted}month.{case.received_on:%Y-%m}",
        *(f"{counted}kind.{kind}" for kind in case.kinds or (UNQUALIFIED,)),
        *(f"{counted}criterion.{criterion}" for criterion in case.criteria or (NO_CRITERION,)),
    ]
    closed = case.status == Status.CLOSED.value
    if closed:
        keys.append(f"{counted}outcome.{case.outcome}")
    durations = f"{case.platform}.durations."
    if case.acknowledged_on is not None:
        keys.append(durations + "acknowledgement." + days(case.received_on, case.acknowledged_on))
    if case.first_interview_on is not None:
        keys.append(
            durations + "first_interview." + days(case.received_on, case.first_interview_on)
        )
    if closed and case.closed_on is not None:
        keys.append(durations + "closure." + days(case.received_on, case.closed_on))
    keys.extend(_compliance(case, calendar))
    return keys


def _compliance(case: CaseFacts, calendar: WorkingDayCalendar) -> list[str]:
    """Each legal deadline the case started, by the rules of services.cases.deadlines: met in
    time, met late, or still unmet with its due day (overdue or pending is decided on the day
    the figures are read). A transferred case is followed by its new platform, so only the
    deadlines it met before leaving count here."""
    compliance = f"{case.platform}.compliance."
    transferred = case.status == Status.TRANSFERRED.value
    keys = []
    for deadline in _deadlines(case, calendar):
        if deadline.met_on is not None:
            verdict = "in_time" if deadline.met_in_time else "late"
        elif transferred:
            continue
        else:
            verdict = f"due.{deadline.due_on.isoformat()}"
        keys.append(f"{compliance}{deadline.kind}.{verdict}")
    return keys


def _deadlines(case: CaseFacts, calendar: WorkingDayCalendar) -> list[Deadline]:
    # A report dated after its acknowledgement (a letter stamped late) starts on that day:
    # CaseDates refuses an acknowledgement before the receipt.
    received_on = case.received_on
    if case.acknowledged_on is not None:
        received_on = min(received_on, case.acknowledged_on)
    dates = CaseDates(
        received_on=received_on,
        acknowledged_on=case.acknowledged_on,
        first_feedback_on=case.first_feedback_on,
        meeting_requested_on=case.meeting_requested_on,
        meeting_held_on=case.meeting_held_on,
    )
    deadlines = case_deadlines(dates, calendar)
    for asked_on, held_on in case.earlier_meetings:
        earlier = CaseDates(
            received_on=min(received_on, asked_on),
            meeting_requested_on=asked_on,
            meeting_held_on=held_on,
        )
        deadlines.extend(d for d in case_deadlines(earlier, calendar) if d.kind == "meeting")
    return deadlines


def _referral_contribution(referral: ReferralFacts) -> list[str]:
    counted = f"{referral.platform}.referrals."
    keys = [
        counted + "total",
        f"{counted}interlocutor.{referral.interlocutor}",
        f"{counted}purpose.{referral.purpose}",
        f"{counted}status.{referral.status}",
    ]
    if referral.sent_on is not None and referral.answered_on is not None:
        waited = days(referral.sent_on, referral.answered_on)
        answers = f"{referral.platform}.answer_days."
        keys.append(f"{answers}all.{waited}")
        keys.append(f"{answers}interlocutor.{referral.interlocutor}.{waited}")
    return keys


# -- counters kept per event: the first, smaller statistics --------------------------------------


def increments(event: RecordedEvent) -> dict[str, int]:
    """Reports received and cases opened, counted per event (never taken back)."""
    data = event.data
    if event.type == "ReportReceived":
        return _counts(data["platform"], "reports", data["channel"], data["facts"]["kinds"])
    if event.type == "CaseOpened":
        return _counts(data["platform"], "open_cases", data["channel"], data["kinds"])
    return {}


def _counts(platform: str, measure: str, channel: str, kinds: list[str]) -> dict[str, int]:
    counts = {f"{platform}.{measure}.total": 1, f"{platform}.{measure}.channel.{channel}": 1}
    for kind in kinds:
        counts[f"{platform}.{measure}.kind.{kind}"] = 1
    return counts


def nest(flat: dict[str, int]) -> dict[str, Any]:
    """{'SG.reports.total': 3} -> {'SG': {'reports': {'total': 3}}}, as MongoDB stores it."""
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        *path, leaf = key.split(".")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


# -- the fold -----------------------------------------------------------------------------------


class StatisticsFold:
    """The statistics state after a prefix of the log: entities, per-event counts, position."""

    def __init__(self) -> None:
        self.entities: dict[str, Entity] = {}
        self.entity_positions: dict[str, int] = {}
        self.event_counts: Counter = Counter()
        self.position = 0
        self.events = 0

    def apply(self, event: RecordedEvent) -> None:
        if event.type in ("ReportReceived", "CaseOpened"):
            self.event_counts.update(increments(event))
        key = entity_key(event)
        if key is not None:
            source = source_key(event)
            entities = self.entities
            updated = apply(
                entities.get(key), event, entities.get(source) if source is not None else None
            )
            if updated is not None:
                entities[key] = updated
                self.entity_positions[key] = event.position
        self.position = event.position
        self.events += 1

    def counts(self, calendar: WorkingDayCalendar) -> Counter:
        """Every counter, as the live read model holds it (without its zeros)."""
        total = Counter(self.event_counts)
        for entity in self.entities.values():
            total.update(contribution(entity, calendar))
        return total


class MemoCalendar(WorkingDayCalendar):
    """The working-day calendar, remembering its sums: a fold asks the same few thousand days
    again and again."""

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self._sums: dict[tuple[date, int], date] = {}

    def add_working_days(self, day: date, n: int) -> date:
        key = (day, n)
        found = self._sums.get(key)
        if found is None:
            found = self._sums[key] = super().add_working_days(day, n)
        return found
