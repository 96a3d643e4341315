"""Statistics as a pure fold over events: what each event adds to which counter.

Counters are keyed `<platform>.<measure>.<dimension>.<code>`, so platforms stay apart and one
atomic `$inc` applies an event. Kinds are multi-valued: a report counts once in each of its
kinds, so the kind counts add up to more than the report count.
"""

from __future__ import annotations

from typing import Any

from allodiscri.events import RecordedEvent

STATISTICS_TYPES = frozenset({"ReportReceived", "CaseOpened"})


def increments(event: RecordedEvent) -> dict[str, int]:
    data = event.data
    if event.type == "ReportReceived":
        return _counts(data["platform"], "reports", data["channel"], data["facts"]["kinds"])
    if event.type == "CaseOpened":
        return _counts(data["platform"], "open_cases", data["channel"], data["kinds"])
    return {}


def _counts(platform: str, measure: str, channel: str, kinds: list[str]) -> dict[str, int]:
    counts = {f"{platform}.{measure}.total": 1, f"{platform}.{measure}.channel.{channel}": 1}
    for kind in kinds:
        counts[f"{platform}.{measure}.kind.{kind}"] = 1
    return counts


def nest(flat: dict[str, int]) -> dict[str, Any]:
    """{'SG.reports.total': 3} -> {'SG': {'reports': {'total': 3}}}, as MongoDB stores it."""
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        *path, leaf = key.split(".")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree
