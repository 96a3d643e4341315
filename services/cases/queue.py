"""The case queue: which of a platform's cases a listener works on next.

Filters run in MongoDB where they can; "overdue" is computed from each case's dates and the
working-day calendar at the time of asking, so it is never stale.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pymongo.collection import Collection

from allodiscri.kernel.case_states import PHASES, dates_of
from allodiscri.kernel.deadlines import case_deadlines
from allodiscri.kernel.workdays import WorkingDayCalendar
from services.cases.views import case_from_document
from services.cases.workflow import LIVE

SUMMARY_FIELDS = (
    "case_id",
    "platform",
    "status",
    "phase",
    "channel",
    "kinds",
    "criteria",
    "listener_id",
    "version",
    "opened_at",
    "received_on",
    "last_event_at",
    "outcome",
)


def overdue_deadlines(document: dict[str, Any], today: date, calendar: WorkingDayCalendar):
    case = case_from_document(document)
    if case.status not in LIVE:
        return []
    return [
        {"deadline": deadline.kind, "due_on": deadline.due_on.isoformat()}
        for deadline in case_deadlines(dates_of(case), calendar)
        if deadline.met_on is None and deadline.due_on < today
    ]


def select(
    cases: Collection,
    platform: str,
    query: dict[str, Any],
    today: date,
    calendar: WorkingDayCalendar,
) -> dict[str, Any]:
    mongo_filter: dict[str, Any] = {"platform": platform}
    statuses = set(query.get("status") or [])
    if "phase" in query:
        in_phase = {status.value for status, phase in PHASES.items() if phase == query["phase"]}
        statuses = statuses & in_phase if statuses else in_phase
    if statuses or "status" in query or "phase" in query:
        mongo_filter["status"] = {"$in": sorted(statuses)}
    for field in ("listener_id", "channel"):
        if field in query:
            mongo_filter[field] = query[field]
    if "kind" in query:
        mongo_filter["kinds"] = query["kind"]
    sort_key = query["sort"].lstrip("-")
    descending = query["sort"].startswith("-")
    rows = []
    for document in cases.find(mongo_filter):
        overdue = overdue_deadlines(document, today, calendar)
        if "overdue" in query and bool(overdue) != query["overdue"]:
            continue
        rows.append({**{name: document.get(name) for name in SUMMARY_FIELDS}, "overdue": overdue})
    known = sorted(
        (row for row in rows if row[sort_key] is not None),
        key=lambda row: row[sort_key],
        reverse=descending,
    )
    rows = known + [row for row in rows if row[sort_key] is None]
    start = (query["page"] - 1) * query["page_size"]
    return {
        "total": len(rows),
        "page": query["page"],
        "page_size": query["page_size"],
        "cases": rows[start : start + query["page_size"]],
    }
