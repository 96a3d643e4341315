"""The referrals service's read model: one document per referral, folded from its stream.

The fold is pure; `PROJECTION` applies it in version order (see
allodiscri.platform.projections), both live and when an operator rebuilds it.
"""

from __future__ import annotations

from typing import Any

from allodiscri.kernel.events import RecordedEvent
from allodiscri.platform.projections import Projection, apply_in_order
from services.referrals import domain

REFERRAL_VIEWS = "referrals_view"


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
