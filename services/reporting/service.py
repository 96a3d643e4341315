"""Reporting: the statistics projection, fed from the log, and its rebuild."""

from __future__ import annotations

from nameko.rpc import rpc

from allodiscri.actors import ActorSchema
from allodiscri.boundary import EXPECTED_ERRORS, load
from allodiscri.dependencies import EventStoreProvider, ReadModels
from allodiscri.entrypoints import catch_up
from allodiscri.events import RecordedEvent
from services.reporting import statistics
from services.reporting.domain import STATISTICS_TYPES

STATISTICS = "statistics"


class ReportingService:
    name = "reporting"

    events = EventStoreProvider()
    read_models = ReadModels()

    @catch_up("reporting-statistics", types=STATISTICS_TYPES)
    def project_statistics(self, event: RecordedEvent):
        statistics.apply(self.read_models[STATISTICS], event)

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def get_statistics(self, actor):
        reader = load(ActorSchema(), actor, "actor")
        return statistics.read(self.read_models[STATISTICS], reader.platform)

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def rebuild_statistics(self, actor):
        load(ActorSchema(), actor, "actor")
        return statistics.rebuild(self.read_models[STATISTICS], self.events.store)
