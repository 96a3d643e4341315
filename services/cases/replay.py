"""An auditor's replay of one case: its state and timeline exactly as they stood at an instant.

Folds the log, not the read models, so the answer holds even if a view were wrong.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from allodiscri.kernel.boundary import NotFound
from allodiscri.kernel.case_states import apply
from allodiscri.platform.store import EventStore
from services.cases.views import case_to_document, timeline_entry

TIMELINE_STREAMS = ("case", "referral", "deadline", "report")


def replay_case(store: EventStore, case_id: str, as_of: datetime | None = None) -> dict[str, Any]:
    events = {event.id: event for event in store.read_related(as_of, case_id=case_id)}
    events |= {event.id: event for event in store.read_related(as_of, report_id=case_id)}
    ordered = sorted(events.values(), key=lambda event: event.position)
    case = None
    for event in ordered:
        if event.stream_type == "case" and event.stream_id == case_id:
            case = apply(case, event)
    if case is None:
        raise NotFound("case", case_id)
    return {
        "as_of": as_of.isoformat() if as_of else None,
        "state": case_to_document(case),
        "timeline": [
            {key: value for key, value in timeline_entry(event).items() if key != "_id"}
            for event in ordered
            if event.stream_type in TIMELINE_STREAMS and event.type != "ReportReceived"
        ],
        "access": [
            {
                "at": event.recorded_at,
                "type": event.type,
                "actor_id": event.meta.actor_id,
                "what": event.data.get("what"),
            }
            for event in ordered
            if event.stream_type == "access"
        ],
    }
