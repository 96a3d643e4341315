"""Referrals: what a referral needs from its case, and the referral view. Pure, no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from allodiscri.actors import Actor
from allodiscri.boundary import NotFound, Refused
from allodiscri.events import RecordedEvent

NAMESPACE = uuid.UUID("a3f4c1d2-7e8b-4c5a-9d6e-1b2c3d4e5f60")


@dataclass(frozen=True)
class CaseStanding:
    """The little a referral must know of its case, folded from the case's own events."""

    case_id: str
    platform: str
    open: bool


def case_standing(case_id: str, events: Iterable[RecordedEvent]) -> CaseStanding | None:
    standing = None
    for event in events:
        if event.type == "CaseOpened":
            standing = CaseStanding(case_id, event.data["platform"], open=True)
    return standing


def request_referral(
    standing: CaseStanding | None,
    case_id: str,
    interlocutor: str,
    actor: Actor,
    command_id: str | None,
) -> tuple[str, str, dict[str, Any]]:
    """(referral id, event id, ReferralRequested data), or a refusal naming the rule."""
    if standing is None or standing.platform != actor.platform:
        # Another platform's case does not exist for this actor: no hint that it does.
        raise NotFound("case", case_id)
    if not standing.open:
        raise Refused(f"case {case_id} is closed: a closed case takes no referral")
    referral_id = str(uuid.uuid5(NAMESPACE, f"referral:{command_id}")) if command_id else None
    referral_id = referral_id or str(uuid.uuid4())
    data = {
        "referral_id": referral_id,
        "case_id": case_id,
        "platform": standing.platform,
        "interlocutor": interlocutor,
    }
    return referral_id, str(uuid.uuid5(NAMESPACE, f"ReferralRequested:{referral_id}")), data


def apply_to_view(view: dict[str, Any] | None, event: RecordedEvent) -> dict[str, Any]:
    if event.type == "ReferralRequested":
        return {
            **event.data,
            "status": "requested",
            "requested_at": event.recorded_at,
            "requested_by": event.meta.actor_id,
            "version": event.version,
        }
    if view is None:
        raise ValueError(f"{event.type} at position {event.position} precedes ReferralRequested")
    return {**view, "version": event.version}
