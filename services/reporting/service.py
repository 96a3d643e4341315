"""Reporting: the statistics projection, fed from the log; figures live or as of an instant;
exports; and the rebuild."""

from __future__ import annotations

from datetime import datetime

from nameko.dependency_providers import Config
from nameko.rpc import rpc

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import EXPECTED_ERRORS, load
from allodiscri.kernel.events import RecordedEvent
from allodiscri.kernel.workdays import PLATFORM_TIMEZONE, local_date
from allodiscri.platform.access import Access, Forbidden
from allodiscri.platform.dependencies import EventLog, ReadModels
from allodiscri.platform.entrypoints import catch_up
from services.permissions import PERMISSIONS
from services.reporting import export, statistics, views
from services.reporting.confidentiality import ensure_no_identifiers
from services.reporting.domain import STATISTICS_TYPES, MemoCalendar
from services.reporting.schemas import StatisticsExportSchema, StatisticsQuerySchema

ERRORS = (*EXPECTED_ERRORS, Forbidden, statistics.RebuildRunning)


class ReportingService:
    name = "reporting"

    event_log = EventLog()
    read_models = ReadModels()
    access = Access(PERMISSIONS)
    config = Config()

    @catch_up(statistics.SUBSCRIPTION, types=STATISTICS_TYPES)
    def project_statistics(self, event: RecordedEvent):
        statistics.apply(self.read_models, event, self._calendar())

    @rpc(expected_exceptions=ERRORS)
    def get_statistics(self, actor):
        """Reports received and cases opened, by channel and kind (the first statistics)."""
        reader = self.access.actor(actor)
        position, counts = statistics.read_counts(self.read_models)
        return views.summary(reader.platform, position, counts, reader.role)

    @rpc(expected_exceptions=ERRORS)
    def get_detailed_statistics(self, actor, as_of=None):
        """Every table, duration and compliance figure; `as_of` (ISO instant) replays the log
        up to that instant, so published figures can be reproduced exactly later."""
        reader = self.access.actor(actor)
        query = load(StatisticsQuerySchema(), {"as_of": as_of}, "statistics query")
        return self._view(reader, query["as_of"])

    @rpc(expected_exceptions=ERRORS)
    def export_statistics(self, actor, table, format="csv", as_of=None):
        """One table (see services.reporting.export.EXPORTABLE) as CSV or JSON text."""
        reader = self.access.actor(actor)
        query = load(
            StatisticsExportSchema(),
            {"table": table, "format": format, "as_of": as_of},
            "statistics export",
        )
        view = self._view(reader, query["as_of"])
        return ensure_no_identifiers(export.render(view, query["table"], query["format"]))

    @rpc(expected_exceptions=ERRORS)
    def rebuild_statistics(self, actor):
        self.access.actor(actor)
        counters = self.read_models[statistics.COUNTERS]
        return statistics.rebuild(counters, self.event_log, self._calendar())

    def _view(self, reader: Actor, moment: datetime | None):
        if moment is None:
            position, counts = statistics.read_counts(self.read_models)
            today = datetime.now(PLATFORM_TIMEZONE).date()
        else:
            fold = statistics.as_of(self.event_log, moment)
            position, counts = fold.position, fold.counts(self._calendar())
            today = local_date(moment)
        return views.detailed(reader.platform, position, counts, today, reader.role, moment)

    def _calendar(self) -> MemoCalendar:
        return statistics.calendar(str(self.config.get("CLOSED_DAYS") or ""))
