"""Cases: opens a case for every report and answers from the case view."""

from __future__ import annotations

from nameko.rpc import rpc

from allodiscri.actors import Actor, ActorSchema
from allodiscri.boundary import EXPECTED_ERRORS, NotFound, load, load_uuid
from allodiscri.dependencies import EventRelay, EventStoreProvider, ReadModels
from allodiscri.entrypoints import catch_up, dead_lettering_event_handler
from allodiscri.events import NO_STREAM, RecordedEvent
from allodiscri.projections import apply_once
from allodiscri.publishing import from_envelope
from services.cases.domain import apply_to_view, open_case_for

CASE_VIEWS = "cases_view"
SYSTEM_ACTOR_ID = "cases-service"


class CasesService:
    name = "cases"

    events = EventStoreProvider()
    read_models = ReadModels()
    relay = EventRelay(stream_types=("case",))

    @dead_lettering_event_handler("intake", "ReportReceived")
    def on_report_received(self, envelope):
        """Fast path: the broker tells us at once."""
        self._open_case(from_envelope(envelope))

    @catch_up("cases-open-from-reports", types=["ReportReceived"])
    def open_cases_from_log(self, event: RecordedEvent):
        """Safe path: the log never loses a report, even one published before we started."""
        self._open_case(event)

    @catch_up("cases-view", stream_types=["case"])
    def project_case_view(self, event: RecordedEvent):
        apply_once(self.read_models[CASE_VIEWS], event.stream_id, event, apply_to_view)

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def get_case(self, case_id, actor):
        reader = load(ActorSchema(), actor, "actor")
        case_id = load_uuid(case_id, "case_id")
        view = self.read_models[CASE_VIEWS].find_one(
            {"_id": case_id, "platform": reader.platform}, {"_id": 0}
        )
        if view is None:
            raise NotFound("case", case_id)
        view["opened_at"] = view["opened_at"].isoformat()
        return view

    def _open_case(self, report: RecordedEvent):
        opening = open_case_for(report)
        self.events.record(
            "case",
            opening.case_id,
            "CaseOpened",
            opening.data,
            actor=Actor(SYSTEM_ACTOR_ID, "system", opening.data["platform"]),
            expected_version=NO_STREAM,
            event_id=opening.event_id,
            causation_id=report.id,
        )
