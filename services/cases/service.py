"""Cases: the four-phase workflow. Thin entrypoints over services.cases.{workflow,handlers}."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.timer import timer

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import (
    EXPECTED_ERRORS,
    InvalidInput,
    NotFound,
    Refused,
    jsonable,
    load,
    load_uuid,
)
from allodiscri.kernel.events import NO_STREAM, RecordedEvent
from allodiscri.kernel.workdays import PLATFORM_TIMEZONE, WorkingDayCalendar
from allodiscri.platform.access import Access, Forbidden
from allodiscri.platform.dependencies import EventRelay, ReadModels, UnitOfWorkProvider
from allodiscri.platform.entrypoints import catch_up, dead_lettering_event_handler
from allodiscri.platform.publishing import from_envelope
from services.cases import handlers, queue, views
from services.cases.domain import open_case_for
from services.cases.retention import SETTING, RetentionPolicy
from services.cases.schemas import (
    COMMAND_SCHEMAS,
    CommandSchema,
    IdentityDecisionSchema,
    IdentityRequestSchema,
    QueueSchema,
)
from services.cases.workflow import ERASABLE, LIVE
from services.permissions import PERMISSIONS

SYSTEM_ACTOR_ID = "cases-service"
# nameko reads a timer's interval when the class is defined, so it comes from the environment.
DEADLINE_CHECK_INTERVAL = float(os.environ.get("DEADLINE_CHECK_INTERVAL", "300"))
RETENTION_CHECK_INTERVAL = float(os.environ.get("RETENTION_CHECK_INTERVAL", "86400"))
ERRORS = (*EXPECTED_ERRORS, Forbidden)


def _system(platform: str) -> Actor:
    return Actor(SYSTEM_ACTOR_ID, "system", platform)


class Retention(DependencyProvider):
    """The retention policy, read from `RETENTION_YEARS` once, at start: a malformed setting
    stops the service there, not at the first erasure."""

    def setup(self):
        self.policy = RetentionPolicy.parse(self.container.config.get(SETTING))

    def get_dependency(self, worker_ctx) -> RetentionPolicy:
        return self.policy


class CasesService:
    name = "cases"

    work = UnitOfWorkProvider()
    read_models = ReadModels()
    access = Access(PERMISSIONS)
    config = Config()
    retention = Retention()
    relay = EventRelay(stream_types=("case", "access", "deadline"))

    # -- reacting to events -------------------------------------------------------------------

    @dead_lettering_event_handler("intake", "ReportReceived")
    def on_report_received(self, envelope):
        """Fast path: the broker tells us at once."""
        self._open_case(from_envelope(envelope))

    @catch_up("cases-open-from-reports", types=["ReportReceived"])
    def open_cases_from_log(self, event: RecordedEvent):
        """Safe path: the log never loses a report, even one published before we started."""
        self._open_case(event)

    @catch_up("cases-transfers", types=["CaseTransferred"])
    def open_transferred_cases(self, event: RecordedEvent):
        handlers.open_transferred_case(self.work, event, _system(event.data["to_platform"]))

    @catch_up(views.PROJECTION.name, stream_types=views.PROJECTION.stream_types)
    def project_views(self, event: RecordedEvent):
        views.PROJECTION.project(self.read_models, event)

    def _open_case(self, report: RecordedEvent):
        opening = open_case_for(report)
        self.work.record(
            "case",
            opening.case_id,
            "CaseOpened",
            opening.data,
            actor=_system(opening.data["platform"]),
            expected_version=NO_STREAM,
            event_id=opening.event_id,
            causation_id=report.id,
        )

    @timer(interval=DEADLINE_CHECK_INTERVAL)
    def check_deadlines(self):
        """Raise the deadline alerts due today; every instance may run it, each alert is
        recorded once (see handlers.raise_deadline_alerts)."""
        config = self.config
        calendar = self._calendar()
        today = datetime.now(PLATFORM_TIMEZONE).date()
        live = self.read_models[views.CASES].find(
            {"status": {"$in": [status.value for status in LIVE]}}, {"_id": 1}
        )
        for case in live:
            handlers.raise_deadline_alerts(
                self.work,
                case["_id"],
                today,
                calendar,
                int(config.get("DEADLINE_WARNING_DAYS", 2)),
            )
        self._project_recorded()

    @timer(interval=RETENTION_CHECK_INTERVAL, eager=True)
    def apply_retention(self):
        """Erase the cases past their platform's retention; every instance may run it, each
        case is erased once (see handlers.erase_expired). Also run at start: with a daily
        interval, a service restarted more often would otherwise never get there."""
        candidates = self.read_models[views.CASES].find(
            {"status": {"$in": sorted(status.value for status in ERASABLE)}},
            {"_id": 1, "platform": 1, "closed_at": 1},
        )
        handlers.erase_expired(self.work, candidates, self.retention, datetime.now(UTC))
        self._project_recorded()

    def _calendar(self) -> WorkingDayCalendar:
        closed = str(self.config.get("CLOSED_DAYS") or "").split()
        return WorkingDayCalendar(extra_closed_days=[date.fromisoformat(day) for day in closed])

    # -- the workflow's commands ---------------------------------------------------------------

    def _execute(self, command: str, case_id, actor, expected_version, command_id, details):
        worker = self.access.actor(actor)
        envelope = load(
            CommandSchema(),
            {"case_id": case_id, "expected_version": expected_version, "command_id": command_id},
            command,
        )
        parsed = load(COMMAND_SCHEMAS[command](), details, command)
        result = handlers.execute(
            self.work,
            str(envelope["case_id"]),
            parsed,
            worker,
            envelope["expected_version"],
            str(envelope["command_id"]) if envelope["command_id"] else None,
        )
        self._project_recorded()
        return result

    def _project_recorded(self) -> None:
        """Read your writes: what this call recorded is in the views before it answers (the
        catch-up projection applies it once more, harmlessly)."""
        for event in self.work.recorded:
            views.project(self.read_models, event)

    # -- queries, each read traced -------------------------------------------------------------

    def _readable_case(self, case_id, actor) -> tuple[Actor, str, dict]:
        reader = self.access.actor(actor)
        case_id = load_uuid(case_id, "case_id")
        view = self.read_models[views.CASES].find_one(
            {"_id": case_id}, {"_id": 0, "applied_version": 0}
        )
        if view is not None and view["platform"] != reader.platform:
            self.access.deny(reader, f"case {case_id} belongs to another platform")
            view = None
        if view is None:
            raise NotFound("case", case_id)
        return reader, case_id, view

    def _trace(self, reader: Actor, case_id: str, what: str) -> None:
        handlers.record_access(self.work, case_id, reader, "CaseContentRead", {"what": what})
        self._project_recorded()

    @rpc(expected_exceptions=ERRORS)
    def get_case(self, case_id, actor):
        """The case and the facts reported (not the declarant's identity)."""
        reader, case_id, view = self._readable_case(case_id, actor)
        report = self.read_models[views.REPORTS].find_one({"_id": view["report_id"]}) or {}
        self._trace(reader, case_id, "case")
        return jsonable(
            {
                **view,
                "facts": self.work.open(report.get("facts"), view["report_id"]),
                "open_referrals": handlers.open_referrals(self.work, case_id),
            }
        )

    @rpc(expected_exceptions=ERRORS)
    def list_cases(self, actor, filters=None):
        """The case queue of the actor's platform: filtered, sorted, paginated. No content and
        no identity, so no read trace: opening a case is what gets traced."""
        reader = self.access.actor(actor)
        query = load(QueueSchema(), filters or {}, "filters")
        today = datetime.now(PLATFORM_TIMEZONE).date()
        calendar = self._calendar()
        selected = queue.select(
            self.read_models[views.CASES], reader.platform, query, today, calendar
        )
        return jsonable(selected)

    @rpc(expected_exceptions=ERRORS)
    def get_timeline(self, case_id, actor):
        """Every step of the case and of its referrals, in order, with who and when."""
        reader, case_id, _ = self._readable_case(case_id, actor)
        entries = self.read_models[views.TIMELINE].find({"case_id": case_id}, {"_id": 0})
        self._trace(reader, case_id, "timeline")
        return jsonable(sorted(entries, key=lambda entry: entry["position"]))

    @rpc(expected_exceptions=ERRORS)
    def get_identity(self, case_id, actor):
        """The declarant's identity: for the assigned listener, or with a granted request."""
        reader, case_id, view = self._readable_case(case_id, actor)
        assigned = reader.role == "listener" and view["listener_id"] == reader.id
        if not assigned and not views.identity_granted(self.read_models, case_id, reader.id):
            raise Forbidden(
                reader.id,
                reader.role,
                "cases.get_identity",
                "the identity is shown to the assigned listener, or on a granted request",
            )
        report = self.read_models[views.REPORTS].find_one({"_id": view["report_id"]})
        if report is None:
            raise NotFound("report", view["report_id"])
        self._trace(reader, case_id, "identity")
        return self.work.open(report["declarant"], view["report_id"])

    # -- identity access -----------------------------------------------------------------------

    @rpc(expected_exceptions=ERRORS)
    def request_identity_access(self, case_id, reason, actor):
        reader = self.access.actor(actor)
        request = load(IdentityRequestSchema(), {"case_id": case_id, "reason": reason}, "request")
        case_id = str(request["case_id"])
        handlers.load_case(self.work, case_id, reader)
        request_id = str(uuid.uuid4())
        handlers.record_access(
            self.work,
            case_id,
            reader,
            "IdentityAccessRequested",
            {"request_id": request_id, "requester_id": reader.id, "reason": request["reason"]},
        )
        self._project_recorded()
        return request_id

    @rpc(expected_exceptions=ERRORS)
    def grant_identity_access(self, case_id, request_id, actor):
        return self._decide_identity_access(case_id, request_id, None, actor, granted=True)

    @rpc(expected_exceptions=ERRORS)
    def refuse_identity_access(self, case_id, request_id, reason, actor):
        return self._decide_identity_access(case_id, request_id, reason, actor, granted=False)

    def _decide_identity_access(self, case_id, request_id, reason, actor, granted: bool):
        manager = self.access.actor(actor)
        decision = load(
            IdentityDecisionSchema(),
            {"case_id": case_id, "request_id": request_id, "reason": reason},
            "decision",
        )
        case_id, request_id = str(decision["case_id"]), str(decision["request_id"])
        handlers.load_case(self.work, case_id, manager)
        access = self.read_models[views.IDENTITY_ACCESS].find_one({"_id": case_id}) or {}
        request = access.get("requests", {}).get(request_id)
        if request is None:
            raise NotFound("identity access request", request_id)
        if request["status"] != "requested":
            raise Refused(f"request {request_id} was already {request['status']}")
        if not granted and not decision["reason"]:
            raise InvalidInput("decision", {"reason": ["A refusal gives its reason."]})
        data = {"request_id": request_id, "requester_id": request["requester_id"]}
        if not granted:
            data["reason"] = decision["reason"]
        handlers.record_access(
            self.work,
            case_id,
            manager,
            "IdentityAccessGranted" if granted else "IdentityAccessRefused",
            data,
            event_id=str(uuid.uuid5(handlers.NAMESPACE, f"decision:{request_id}")),
        )
        self._project_recorded()
        return {"request_id": request_id, "status": "granted" if granted else "refused"}


def _workflow_command(name: str):
    """The RPC entrypoint of one workflow command: every command has the same envelope
    (case id, actor, the version the caller saw, an optional command id) and its own details,
    checked by its schema in `COMMAND_SCHEMAS`."""

    @rpc(expected_exceptions=ERRORS)
    def command(self, case_id, actor, expected_version, command_id=None, **details):
        return self._execute(name, case_id, actor, expected_version, command_id, details)

    command.__name__ = command.__qualname__ = name
    command.__doc__ = COMMAND_DOCS.get(name)
    return command


COMMAND_DOCS = {
    "erase_case": (
        'Destroy a closed or transferred case\'s personal data for good (`basis`: "request", '
        'the default, or "retention"). A failed call is retried as it was: erasing again is '
        "harmless."
    ),
}

for _name in COMMAND_SCHEMAS:
    setattr(CasesService, _name, _workflow_command(_name))
