"""Receiving a report: pure rules, no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import Refused

NAMESPACE = uuid.UUID("5d0c1f8e-0b7e-4f0e-9a59-2f1f0a1c6b01")
CLOCK_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class ReceivedReport:
    report_id: str
    event_id: str
    data: dict[str, Any]


def report_id_for(submission: dict[str, Any]) -> str:
    """Derived from the caller's submission id when there is one (for e-mail, from the
    message's key), so a retried submission names the same report; random otherwise."""
    submission_id = submission.get("submission_id")
    if submission_id:
        return str(uuid.uuid5(NAMESPACE, f"report:{submission_id}"))
    return str(uuid.uuid4())


def receive_report(
    submission: dict[str, Any],
    actor: Actor,
    now: datetime,
    report_id: str,
    attachments: list[dict[str, Any]] | None = None,
    source_reference: str | None = None,
) -> ReceivedReport:
    """The ReportReceived fact for a validated submission.

    The event id derives from the report id, so a retried submission is stored once.
    """
    if actor.platform != submission["platform"]:
        raise Refused(
            f"actor of platform {actor.platform} cannot file a report for {submission['platform']}"
        )
    received_at = submission.get("received_at") or now
    if received_at > now + CLOCK_TOLERANCE:
        raise Refused("a report cannot be received in the future (received_at)")
    return ReceivedReport(
        report_id=report_id,
        event_id=str(uuid.uuid5(NAMESPACE, f"ReportReceived:{report_id}")),
        data={
            "report_id": report_id,
            "platform": submission["platform"],
            "channel": submission["channel"],
            "received_at": received_at.isoformat(),
            "declarant": submission["declarant"],
            "facts": submission["facts"],
            "attachments": list(attachments or []),
            "source_reference": source_reference,
        },
    )
