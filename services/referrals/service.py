"""Referrals: asks interlocutors to act on a case, and lists a case's referrals."""

from __future__ import annotations

from nameko.rpc import rpc

from allodiscri.actors import ActorSchema
from allodiscri.boundary import EXPECTED_ERRORS, load, load_uuid
from allodiscri.dependencies import EventRelay, EventStoreProvider, ReadModels
from allodiscri.entrypoints import catch_up
from allodiscri.events import NO_STREAM, RecordedEvent, stream_name
from allodiscri.projections import apply_once
from services.referrals.domain import apply_to_view, case_standing, request_referral
from services.referrals.schemas import ReferralRequestSchema

REFERRAL_VIEWS = "referrals_view"


class ReferralsService:
    name = "referrals"

    events = EventStoreProvider()
    read_models = ReadModels()
    relay = EventRelay(stream_types=("referral",))

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def request_referral(self, case_id, interlocutor, actor, command_id=None):
        """Record a referral on an open case of the actor's platform; return the referral id."""
        requester = load(ActorSchema(), actor, "actor")
        request = load(
            ReferralRequestSchema(),
            {"case_id": case_id, "interlocutor": interlocutor, "command_id": command_id},
            "referral",
        )
        case_id = str(request["case_id"])
        case_events = self.events.store.read_stream(stream_name("case", case_id))
        referral_id, event_id, data = request_referral(
            case_standing(case_id, case_events),
            case_id,
            request["interlocutor"],
            requester,
            str(request["command_id"]) if request["command_id"] else None,
        )
        recorded = self.events.record(
            "referral",
            referral_id,
            "ReferralRequested",
            data,
            actor=requester,
            expected_version=NO_STREAM,
            event_id=event_id,
        )
        # Read-your-writes: apply our own event now; the catch-up finds it already applied.
        for event in self.events.store.read_stream(
            recorded.stream, from_version=recorded.version, to_version=recorded.version
        ):
            self.project_referral_view(event)
        return referral_id

    @rpc(expected_exceptions=EXPECTED_ERRORS)
    def list_referrals(self, case_id, actor):
        reader = load(ActorSchema(), actor, "actor")
        case_id = load_uuid(case_id, "case_id")
        views = self.read_models[REFERRAL_VIEWS].find(
            {"case_id": case_id, "platform": reader.platform}, {"_id": 0}
        )
        return [
            {**view, "requested_at": view["requested_at"].isoformat()}
            for view in sorted(views, key=lambda view: view["position"])
        ]

    @catch_up("referrals-view", stream_types=["referral"])
    def project_referral_view(self, event: RecordedEvent):
        apply_once(self.read_models[REFERRAL_VIEWS], event.stream_id, event, apply_to_view)
