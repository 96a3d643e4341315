"""Reporting: the statistics projection, fed from the log, and its rebuild."""

from __future__ import annotations

from nameko.rpc import rpc

from allodiscri.boundary import EXPECTED_ERRORS
from allodiscri.dependencies import EventStoreProvider, ReadModels
from allodiscri.entrypoints import catch_up
from allodiscri.events import RecordedEvent
from allodiscri.permissions import Access, Forbidden
from services.reporting import statistics
from services.reporting.domain import STATISTICS_TYPES

STATISTICS = "statistics"
ERRORS = (*EXPECTED_ERRORS, Forbidden)


class ReportingService:
    name = "reporting"

    events = EventStoreProvider()
    read_models = ReadModels()
    access = Access()

    @catch_up("reporting-statistics", types=STATISTICS_TYPES)
    def project_statistics(self, event: RecordedEvent):
        statistics.apply(self.read_models[STATISTICS], event)

    @rpc(expected_exceptions=ERRORS)
    def get_statistics(self, actor):
        reader = self.access.actor(actor)
        return statistics.read(self.read_models[STATISTICS], reader.platform)

    @rpc(expected_exceptions=ERRORS)
    def rebuild_statistics(self, actor):
        self.access.actor(actor)
        return statistics.rebuild(self.read_models[STATISTICS], self.events.store)
