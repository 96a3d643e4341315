"""Minutes of an oral report: drafted by the listener, shown to the declarant, rectified or
confirmed by them, then signed (décret 2022-1284: oral reports are recorded as minutes the
declarant can check, rectify and sign). Pure: each step is an event on the report's stream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from allodiscri.kernel.events import RecordedEvent
from allodiscri.kernel.statemachine import Transition, WorkflowRefusal, command_name


class MinutesStatus(StrEnum):
    DRAFTED = "drafted"
    SHOWN = "shown"
    RECTIFIED = "rectified"
    CONFIRMED = "confirmed"
    SIGNED = "signed"


@dataclass(frozen=True)
class Minutes:
    report_id: str
    status: MinutesStatus
    text: str
    version: int  # of the report stream


@dataclass(frozen=True)
class ShowMinutes:
    pass


@dataclass(frozen=True)
class RectifyMinutes:
    text: str


@dataclass(frozen=True)
class ConfirmMinutes:
    pass


@dataclass(frozen=True)
class SignMinutes:
    pass


M = MinutesStatus
MINUTES_WORKFLOW: dict[type, Transition] = {
    ShowMinutes: Transition(
        "MinutesShown",
        frozenset({M.DRAFTED, M.RECTIFIED}),
        "the minutes are shown to the declarant once drafted or rectified",
        M.SHOWN,
    ),
    RectifyMinutes: Transition(
        "MinutesRectified",
        frozenset({M.SHOWN}),
        "the declarant rectifies minutes that were shown to them",
        M.RECTIFIED,
    ),
    ConfirmMinutes: Transition(
        "MinutesConfirmed",
        frozenset({M.SHOWN}),
        "the declarant confirms minutes that were shown to them",
        M.CONFIRMED,
    ),
    SignMinutes: Transition(
        "MinutesSigned",
        frozenset({M.CONFIRMED}),
        "the declarant signs the minutes they confirmed (rectified minutes are shown again)",
        M.SIGNED,
    ),
}
EVENT_STATUS = {t.event: t.to for t in MINUTES_WORKFLOW.values()} | {"MinutesDrafted": M.DRAFTED}


def fold(events: Iterable[RecordedEvent]) -> Minutes | None:
    minutes = None
    for event in events:
        if event.type == "MinutesDrafted":
            minutes = Minutes(event.data["report_id"], M.DRAFTED, event.data["text"], 0)
        if minutes is None:
            continue
        change: dict[str, Any] = {"version": event.version}
        if event.type in EVENT_STATUS:
            change["status"] = EVENT_STATUS[event.type]
        if event.type == "MinutesRectified":
            change["text"] = event.data["text"]
        minutes = dataclasses.replace(minutes, **change)
    return minutes


def decide(minutes: Minutes, command) -> tuple[str, dict[str, Any]]:
    transition = MINUTES_WORKFLOW[type(command)]
    if minutes.status not in transition.allowed_in:
        raise WorkflowRefusal(
            command_name(type(command)), minutes.status, transition.rule, "minutes"
        )
    data: dict[str, Any] = {"report_id": minutes.report_id}
    if isinstance(command, RectifyMinutes):
        data["text"] = command.text
    return transition.event, data
