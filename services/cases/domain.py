"""Opening a case for a received report. Pure: no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from allodiscri.kernel.events import RecordedEvent

NAMESPACE = uuid.UUID("0e6f7a52-3c2d-4b8e-8f4c-8f1d2a7b9c11")


@dataclass(frozen=True)
class CaseOpening:
    case_id: str
    event_id: str
    data: dict[str, Any]


def open_case_for(report: RecordedEvent) -> CaseOpening:
    """The CaseOpened fact for a ReportReceived event.

    The case takes the report's id and the event id derives from the report event's id, so
    however often the report is delivered, the case is opened once.
    """
    facts = report.data["facts"]
    case_id = report.data["report_id"]
    return CaseOpening(
        case_id=case_id,
        event_id=str(uuid.uuid5(NAMESPACE, f"CaseOpened:{report.id}")),
        data={
            "case_id": case_id,
            "report_id": report.data["report_id"],
            "platform": report.data["platform"],
            "channel": report.data["channel"],
            "kinds": facts["kinds"],
            "criteria": facts["criteria"],
            "received_at": report.data["received_at"],
            "transferred_from": None,
        },
    )
