"""What the statistics RPCs answer: figures for one platform, shown as the caller's role may
see them, and never carrying an identifier. Pure: the counters come from the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from services.reporting.confidentiality import (
    RULE,
    THRESHOLD,
    ensure_no_identifiers,
    protect,
    protect_counts,
    sees_exact_counts,
)
from services.reporting.domain import nest
from services.reporting.figures import figures, platform_counts

UNIT = (
    "A case is a report handled by this platform: each report it received, and each case "
    "transferred to it. A transferred report counts on both platforms (as 'transferred' in the "
    "sender, with received_from = the sender in the receiver): leave out the cases received by "
    "transfer to add platforms up. Figures never name a case or a person."
)


def confidentiality(role: str) -> dict[str, Any]:
    if sees_exact_counts(role):
        return {"exact_counts": True, "rule": "Exact counts: the cell's own view."}
    return {"exact_counts": False, "threshold": THRESHOLD, "rule": RULE}


def detailed(
    platform: str,
    position: int,
    counts: Mapping[str, int],
    today: date,
    role: str,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Every table, duration and compliance figure of `platform` for `role`."""
    raw = figures(platform_counts(counts, platform), today)
    shown = raw if sees_exact_counts(role) else protect(raw)
    view = {
        "platform": platform,
        "position": position,
        "as_of": as_of.isoformat() if as_of else None,
        "today": today.isoformat(),
        "unit": UNIT,
        "confidentiality": confidentiality(role),
        **shown,
    }
    return ensure_no_identifiers(view)


def summary(platform: str, position: int, counts: Mapping[str, int], role: str) -> dict[str, Any]:
    """The first statistics: reports received and cases opened, by channel and kind."""
    mine = nest(platform_counts(counts, platform))
    reports, opened = mine.get("reports", {}), mine.get("open_cases", {})
    if not sees_exact_counts(role):
        reports, opened = protect_counts(reports), protect_counts(opened)
    view = {
        "platform": platform,
        "position": position,
        "reports": reports,
        "open_cases": opened,
        "confidentiality": confidentiality(role),
    }
    return ensure_no_identifiers(view)
