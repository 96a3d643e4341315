"""Intake: reports in. Thin entrypoints over services.intake.domain."""

from __future__ import annotations

from datetime import UTC, datetime

from nameko.rpc import rpc

from allodiscri.actors import Actor
from allodiscri.boundary import EXPECTED_ERRORS, load
from allodiscri.dependencies import EventRelay, EventStoreProvider
from allodiscri.events import NO_STREAM
from allodiscri.permissions import Access, Forbidden
from services.intake.domain import receive_report
from services.intake.schemas import ReportSubmissionSchema

DECLARANT_ACTOR_ID = "declarant"


class IntakeService:
    name = "intake"

    events = EventStoreProvider()
    relay = EventRelay(stream_types=("report",))
    access = Access()

    @rpc(expected_exceptions=(*EXPECTED_ERRORS, Forbidden))
    def submit_report(self, report, actor=None):
        """Validate and record a report; return its id. Without an actor, the declarant files it."""
        filer = None if actor is None else self.access.actor(actor)
        submission = load(ReportSubmissionSchema(), report, "report")
        if filer is None:
            filer = Actor(DECLARANT_ACTOR_ID, "declarant", submission["platform"])
        received = receive_report(submission, filer, datetime.now(UTC))
        self.events.record(
            "report",
            received.report_id,
            "ReportReceived",
            received.data,
            actor=filer,
            expected_version=NO_STREAM,
            event_id=received.event_id,
        )
        return received.report_id
