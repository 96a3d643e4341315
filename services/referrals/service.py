"""Referrals: asks interlocutors to act on a case and follows their answers."""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from typing import Any

from nameko.dependency_providers import Config
from nameko.rpc import rpc
from nameko.timer import timer

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import EXPECTED_ERRORS, NotFound, Refused, jsonable, load, load_uuid
from allodiscri.kernel.events import NO_STREAM, RecordedEvent, WrongExpectedVersion, stream_name
from allodiscri.kernel.statemachine import WorkflowRefusal
from allodiscri.kernel.workdays import PLATFORM_TIMEZONE, WorkingDayCalendar
from allodiscri.platform.access import Access, Forbidden
from allodiscri.platform.dependencies import (
    EventRecorder,
    EventRelay,
    EventStoreProvider,
    ReadModels,
)
from allodiscri.platform.entrypoints import catch_up
from allodiscri.platform.projections import Projection, apply_in_order
from services.permissions import PERMISSIONS
from services.referrals import domain
from services.referrals.schemas import (
    COMMAND_SCHEMAS,
    ReferralCommandSchema,
    ReferralRequestSchema,
)

REFERRAL_VIEWS = "referrals_view"
SYSTEM_ACTOR_ID = "referrals-service"
ERRORS = (*EXPECTED_ERRORS, Forbidden)
# nameko reads a timer's interval when the class is defined, so it comes from the environment.
REMINDER_CHECK_INTERVAL = float(os.environ.get("REMINDER_CHECK_INTERVAL", "300"))


def fold_view(current: dict[str, Any] | None, event: RecordedEvent) -> dict[str, Any]:
    view = dict(current or {})
    data = event.data
    match event.type:
        case "ReferralRequested":
            view |= {
                **data,
                "requested_at": event.recorded_at,
                "requested_by": event.meta.actor_id,
                "reminders": 0,
            }
        case "ReferralSent":
            view["sent_at"] = event.recorded_at
        case "ReferralAnswered":
            view |= {
                "answered_at": event.recorded_at,
                "answer": data["answer"],
                "measures": data["measures"],
            }
        case "ReferralReminded":
            view["reminders"] = data["reminder"]
    status = domain.EVENT_STATUS.get(event.type)
    if status is not None:
        view["status"] = status.value
    view.setdefault("status", domain.ReferralStatus.REQUESTED.value)
    return {**view, "version": event.version}


PROJECTION = Projection(
    name="referrals-view",
    collections=(REFERRAL_VIEWS,),
    project=lambda database, event: apply_in_order(
        database[REFERRAL_VIEWS], event.stream_id, event, fold_view
    ),
    stream_types=frozenset({"referral"}),
)


class ReferralsService:
    name = "referrals"

    events = EventStoreProvider()
    read_models = ReadModels()
    access = Access(PERMISSIONS)
    config = Config()
    relay = EventRelay(stream_types=("referral",))

    @rpc(expected_exceptions=ERRORS)
    def request_referral(self, case_id, interlocutor, purpose, actor, command_id=None):
        """Record a referral on an open case of the actor's platform; return the referral id."""
        requester = self.access.actor(actor)
        request = load(
            ReferralRequestSchema(),
            {
                "case_id": case_id,
                "interlocutor": interlocutor,
                "purpose": purpose,
                "command_id": command_id,
            },
            "referral",
        )
        case_id = str(request["case_id"])
        referral_id, event_id, data = domain.request_referral(
            self._case_standing(case_id),
            case_id,
            request["interlocutor"],
            request["purpose"],
            requester,
            str(request["command_id"]) if request["command_id"] else None,
        )
        self._record(referral_id, "ReferralRequested", data, requester, NO_STREAM, event_id)
        return referral_id

    def _case_standing(self, case_id: str) -> domain.CaseStanding | None:
        return domain.case_standing(
            case_id, self.events.store.read_stream(stream_name("case", case_id))
        )

    def _record(self, referral_id, event_type, data, actor, expected_version, event_id=None):
        result = self.events.record(
            "referral",
            referral_id,
            event_type,
            data,
            actor=actor,
            expected_version=expected_version,
            event_id=event_id,
        )
        # Read-your-writes: project our own event now; the catch-up finds it already applied.
        self.project_referral_view(self.events.store.find(result.event_id))
        return {"referral_id": referral_id, "event": event_type, "version": result.version}

    def _execute(self, command: str, referral_id, actor, expected_version, details):
        worker = self.access.actor(actor)
        envelope = load(
            ReferralCommandSchema(),
            {"referral_id": referral_id, "expected_version": expected_version},
            command,
        )
        parsed = load(COMMAND_SCHEMAS[command](), details, command)
        referral_id = str(envelope["referral_id"])
        referral = domain.fold(self.events.store.read_stream(stream_name("referral", referral_id)))
        if referral is None or referral.platform != worker.platform:
            raise NotFound("referral", referral_id)
        if referral.version != envelope["expected_version"]:
            raise WrongExpectedVersion(
                stream_name("referral", referral_id), envelope["expected_version"], referral.version
            )
        if isinstance(parsed, domain.SendReferral):
            standing = self._case_standing(referral.case_id)
            if standing is None or not standing.open:
                raise Refused(f"case {referral.case_id} is closed: its referrals are not sent")
        try:
            event_type, data = domain.decide(referral, parsed)
        except WorkflowRefusal as refusal:
            raise Refused(str(refusal)) from None
        return self._record(referral_id, event_type, data, worker, referral.version)

    @rpc(expected_exceptions=ERRORS)
    def send_referral(self, referral_id, actor, expected_version, **details):
        return self._execute("send_referral", referral_id, actor, expected_version, details)

    @rpc(expected_exceptions=ERRORS)
    def acknowledge_referral(self, referral_id, actor, expected_version, **details):
        return self._execute("acknowledge_referral", referral_id, actor, expected_version, details)

    @rpc(expected_exceptions=ERRORS)
    def answer_referral(self, referral_id, actor, expected_version, **details):
        return self._execute("answer_referral", referral_id, actor, expected_version, details)

    @rpc(expected_exceptions=ERRORS)
    def close_referral(self, referral_id, actor, expected_version, **details):
        return self._execute("close_referral", referral_id, actor, expected_version, details)

    @rpc(expected_exceptions=ERRORS)
    def get_referral(self, referral_id, actor):
        reader = self.access.actor(actor)
        referral_id = load_uuid(referral_id, "referral_id")
        view = self.read_models[REFERRAL_VIEWS].find_one(
            {"_id": referral_id, "platform": reader.platform}, {"_id": 0, "applied_version": 0}
        )
        if view is None:
            raise NotFound("referral", referral_id)
        return jsonable(self.events.open(view, view["case_id"]))

    @rpc(expected_exceptions=ERRORS)
    def list_referrals(self, case_id, actor):
        reader = self.access.actor(actor)
        case_id = load_uuid(case_id, "case_id")
        views = self.read_models[REFERRAL_VIEWS].find(
            {"case_id": case_id, "platform": reader.platform}, {"_id": 0, "applied_version": 0}
        )
        views = self.events.open(list(views), case_id)  # one case: its key looked up once
        return jsonable(sorted(views, key=lambda view: view["requested_at"]))

    @timer(interval=REMINDER_CHECK_INTERVAL)
    def remind_overdue(self):
        """Remind interlocutors whose answer is overdue; each reminder is recorded once (its
        event id derives from the referral and the reminder's number)."""
        calendar = WorkingDayCalendar()
        every = int(self.config.get("REFERRAL_REMINDER_WORKING_DAYS", 15))
        today = datetime.now(PLATFORM_TIMEZONE).date()
        waiting = self.read_models[REFERRAL_VIEWS].find(
            {"status": {"$in": ["sent", "acknowledged"]}}, {"_id": 1}
        )
        for view in waiting:
            stream = stream_name("referral", view["_id"])
            referral = domain.fold(self.events.store.read_stream(stream))
            data = domain.reminder_due(referral, today, calendar, every)
            if data is None:
                continue
            self._record(
                referral.referral_id,
                "ReferralReminded",
                data,
                Actor(SYSTEM_ACTOR_ID, "system", referral.platform),
                referral.version,
                str(
                    uuid.uuid5(
                        domain.NAMESPACE, f"reminder:{referral.referral_id}:{data['reminder']}"
                    )
                ),
            )

    @catch_up(PROJECTION.name, stream_types=PROJECTION.stream_types)
    def project_referral_view(self, event: RecordedEvent):
        PROJECTION.project(self.read_models, event)

    @catch_up("referrals-withdraw-on-closure", types=["CaseClosed"])
    def withdraw_with_closed_case(self, event: RecordedEvent):
        """A case closed with "withdraw" withdraws its open referrals, once each."""
        if event.data["referrals_disposition"] != "withdraw":
            return
        system = Actor(SYSTEM_ACTOR_ID, "system", event.meta.platform)
        for referral_id in event.data["open_referrals"]:
            withdraw_once(self.events, referral_id, event, system)
            self.project_referral_view(
                list(self.events.store.read_stream(stream_name("referral", referral_id)))[-1]
            )


def withdraw_once(recorder: EventRecorder, referral_id: str, closure: RecordedEvent, actor):
    referral = domain.fold(recorder.store.read_stream(stream_name("referral", referral_id)))
    if referral is None or referral.status not in domain.OPEN:
        return
    event_type, data = domain.decide(referral, domain.WithdrawReferral("case closed"))
    recorder.record(
        "referral",
        referral_id,
        event_type,
        data,
        actor=actor,
        expected_version=referral.version,
        event_id=str(uuid.uuid5(domain.NAMESPACE, f"withdraw:{referral_id}:{closure.id}")),
        causation_id=closure.id,
    )
