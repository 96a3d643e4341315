"""The legal deadlines of a case and the alerts they raise. Pure: no I/O, no wall-clock.

Shared by the cases service (alerts, the queue) and the statistics (legal compliance).

Directive 2019/1937 as transposed by décret 2022-1284: the declarant is acknowledged within
7 working days of the report's receipt, gets feedback within 3 months of the acknowledgement,
and, on request, a meeting within 20 working days. Deadlines derive from the case's dates, so
replaying the same facts always yields the same deadlines; `today` is only an input to alerts.

Every date here is a calendar date in the platform's timezone (Europe/Paris for metropolitan
cells): converting a received_at instant to its local date is the caller's job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Literal

from allodiscri.kernel.workdays import WorkingDayCalendar, add_months

ACKNOWLEDGEMENT_WORKING_DAYS = 7
FEEDBACK_MONTHS = 3
MEETING_WORKING_DAYS = 20

DeadlineKind = Literal["acknowledgement", "feedback", "meeting"]
AlertLevel = Literal["approaching", "missed"]


@dataclass(frozen=True)
class CaseDates:
    """The facts of a case that start or meet a deadline."""

    received_on: date
    acknowledged_on: date | None = None
    first_feedback_on: date | None = None
    """The first time the declarant was informed after the acknowledgement."""
    meeting_requested_on: date | None = None
    meeting_held_on: date | None = None
    """The first interview held on or after the request."""

    def __post_init__(self) -> None:
        for earlier, later in (
            ("received_on", "acknowledged_on"),
            ("acknowledged_on", "first_feedback_on"),
            ("meeting_requested_on", "meeting_held_on"),
        ):
            start, end = getattr(self, earlier), getattr(self, later)
            if start is not None and end is not None and end < start:
                raise ValueError(f"{later} {end} is before {earlier} {start}")


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    due_on: date
    started_on: date
    met_on: date | None
    """When the obligation was met, if it was."""

    @property
    def met_in_time(self) -> bool:
        """Met on or before the due day; False both when met late and when not met yet."""
        return self.met_on is not None and self.met_on <= self.due_on


@dataclass(frozen=True)
class Alert:
    kind: DeadlineKind
    level: AlertLevel
    due_on: date


def case_deadlines(facts: CaseDates, calendar: WorkingDayCalendar) -> list[Deadline]:
    """The deadlines the facts have started so far: acknowledgement and feedback always, the
    meeting once requested."""
    deadlines = [
        Deadline(
            kind="acknowledgement",
            due_on=calendar.add_working_days(facts.received_on, ACKNOWLEDGEMENT_WORKING_DAYS),
            started_on=facts.received_on,
            met_on=facts.acknowledged_on,
        )
    ]
    # Directive 2019/1937 art. 9(1)(f): three months from the acknowledgement or, if none was
    # sent, from the end of the seven working days after the report.
    feedback_from = facts.acknowledged_on or deadlines[0].due_on
    deadlines.append(
        Deadline(
            kind="feedback",
            due_on=add_months(feedback_from, FEEDBACK_MONTHS),
            started_on=feedback_from,
            met_on=facts.first_feedback_on,
        )
    )
    if facts.meeting_requested_on is not None:
        deadlines.append(
            Deadline(
                kind="meeting",
                due_on=calendar.add_working_days(facts.meeting_requested_on, MEETING_WORKING_DAYS),
                started_on=facts.meeting_requested_on,
                met_on=facts.meeting_held_on,
            )
        )
    return deadlines


def alerts(
    deadlines: Iterable[Deadline],
    today: date,
    calendar: WorkingDayCalendar,
    warn_working_days: int = 2,
) -> list[Alert]:
    """What needs a listener's attention today: unmet deadlines that are missed, or due within
    `warn_working_days` working days (the due day itself included). A deadline met, even late,
    is history for the compliance statistics, not an alert."""
    raised = []
    for deadline in deadlines:
        if deadline.met_on is not None:
            continue
        if today > deadline.due_on:
            raised.append(Alert(deadline.kind, "missed", deadline.due_on))
        elif calendar.working_days_between(today, deadline.due_on) <= warn_working_days:
            raised.append(Alert(deadline.kind, "approaching", deadline.due_on))
    return raised
