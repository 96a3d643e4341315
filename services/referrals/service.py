"""Referrals: asks interlocutors to act on a case and follows their answers. Thin entrypoints
over services.referrals.{domain,handlers}; the read model is in services.referrals.views."""

from __future__ import annotations

import os
from datetime import datetime

from nameko.dependency_providers import Config
from nameko.rpc import rpc
from nameko.timer import timer

from allodiscri.kernel.boundary import EXPECTED_ERRORS, NotFound, jsonable, load, load_uuid
from allodiscri.kernel.events import RecordedEvent
from allodiscri.kernel.workdays import PLATFORM_TIMEZONE, WorkingDayCalendar
from allodiscri.platform.access import Access, Forbidden
from allodiscri.platform.dependencies import EventRelay, ReadModels, UnitOfWorkProvider
from allodiscri.platform.entrypoints import catch_up
from services.permissions import PERMISSIONS
from services.referrals import handlers
from services.referrals.schemas import (
    COMMAND_SCHEMAS,
    ReferralCommandSchema,
    ReferralRequestSchema,
)
from services.referrals.views import PROJECTION, REFERRAL_VIEWS

ERRORS = (*EXPECTED_ERRORS, Forbidden)
# nameko reads a timer's interval when the class is defined, so it comes from the environment.
REMINDER_CHECK_INTERVAL = float(os.environ.get("REMINDER_CHECK_INTERVAL", "300"))
WAITING_FOR_AN_ANSWER = ["sent", "acknowledged"]


class ReferralsService:
    name = "referrals"

    work = UnitOfWorkProvider()
    read_models = ReadModels()
    access = Access(PERMISSIONS)
    config = Config()
    relay = EventRelay(stream_types=("referral",))

    # -- commands ------------------------------------------------------------------------------

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
        referral_id = handlers.request_referral(
            self.work,
            str(request["case_id"]),
            request["interlocutor"],
            request["purpose"],
            requester,
            str(request["command_id"]) if request["command_id"] else None,
        )
        self._project_recorded()
        return referral_id

    def _execute(self, command: str, referral_id, actor, expected_version, details):
        worker = self.access.actor(actor)
        envelope = load(
            ReferralCommandSchema(),
            {"referral_id": referral_id, "expected_version": expected_version},
            command,
        )
        parsed = load(COMMAND_SCHEMAS[command](), details, command)
        result = handlers.execute(
            self.work,
            str(envelope["referral_id"]),
            parsed,
            worker,
            envelope["expected_version"],
        )
        self._project_recorded()
        return result

    def _project_recorded(self) -> None:
        """Read your writes: what this call recorded is in the view before it answers (the
        catch-up projection applies it once more, harmlessly)."""
        for event in self.work.recorded:
            PROJECTION.project(self.read_models, event)

    # -- queries -------------------------------------------------------------------------------

    @rpc(expected_exceptions=ERRORS)
    def get_referral(self, referral_id, actor):
        reader = self.access.actor(actor)
        referral_id = load_uuid(referral_id, "referral_id")
        view = self.read_models[REFERRAL_VIEWS].find_one(
            {"_id": referral_id, "platform": reader.platform}, {"_id": 0, "applied_version": 0}
        )
        if view is None:
            raise NotFound("referral", referral_id)
        return jsonable(self.work.open(view, view["case_id"]))

    @rpc(expected_exceptions=ERRORS)
    def list_referrals(self, case_id, actor):
        reader = self.access.actor(actor)
        case_id = load_uuid(case_id, "case_id")
        views = self.read_models[REFERRAL_VIEWS].find(
            {"case_id": case_id, "platform": reader.platform}, {"_id": 0, "applied_version": 0}
        )
        views = self.work.open(list(views), case_id)  # one case: its key looked up once
        return jsonable(sorted(views, key=lambda view: view["requested_at"]))

    # -- clocks and reactions ------------------------------------------------------------------

    @timer(interval=REMINDER_CHECK_INTERVAL)
    def remind_overdue(self):
        """Remind interlocutors whose answer is overdue; every instance may run it, each
        reminder is recorded once (see handlers.remind_overdue)."""
        waiting = self.read_models[REFERRAL_VIEWS].find(
            {"status": {"$in": WAITING_FOR_AN_ANSWER}}, {"_id": 1}
        )
        try:
            handlers.remind_overdue(
                self.work,
                [view["_id"] for view in waiting],
                datetime.now(PLATFORM_TIMEZONE).date(),
                WorkingDayCalendar(),
                int(self.config.get("REFERRAL_REMINDER_WORKING_DAYS", 15)),
            )
        finally:
            self._project_recorded()

    @catch_up(PROJECTION.name, stream_types=PROJECTION.stream_types)
    def project_referral_view(self, event: RecordedEvent):
        PROJECTION.project(self.read_models, event)

    @catch_up("referrals-withdraw-on-closure", types=["CaseClosed"])
    def withdraw_with_closed_case(self, event: RecordedEvent):
        """A case closed with "withdraw" withdraws its open referrals, once each."""
        try:
            handlers.withdraw_with_closed_case(self.work, event)
        finally:
            self._project_recorded()


def _referral_command(name: str):
    """The RPC entrypoint of one referral command: every command has the same envelope
    (referral id, actor, the version the caller saw) and its own details, checked by its
    schema in `COMMAND_SCHEMAS`."""

    @rpc(expected_exceptions=ERRORS)
    def command(self, referral_id, actor, expected_version, **details):
        return self._execute(name, referral_id, actor, expected_version, details)

    command.__name__ = command.__qualname__ = name
    return command


for _name in COMMAND_SCHEMAS:
    setattr(ReferralsService, _name, _referral_command(_name))
