"""The statistics read model in MongoDB: live updates, reads and rebuilds from the log."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from allodiscri.events import RecordedEvent
from allodiscri.store import EventStore
from services.reporting.domain import STATISTICS_TYPES, increments, nest

LIVE = "live"


def apply(collection: Collection, event: RecordedEvent) -> bool:
    """Add one event's counts and its position in one atomic write; False if already in."""
    counts = increments(event)
    update: dict[str, Any] = {"$set": {"position": event.position}}
    if counts:
        update["$inc"] = {f"counts.{key}": value for key, value in counts.items()}
    guard = {"_id": LIVE, "position": {"$lt": event.position}}
    if collection.update_one(guard, update).matched_count == 1:
        return True
    # No live document yet, or the event is already in. Create the document rather than
    # upsert: an upsert that creates it treats dotted $inc paths differently across servers.
    try:
        collection.insert_one({"_id": LIVE, "position": 0, "counts": {}})
    except DuplicateKeyError:
        return False
    return collection.update_one(guard, update).matched_count == 1


def read(collection: Collection, platform: str) -> dict[str, Any]:
    document = collection.find_one({"_id": LIVE}) or {"position": 0, "counts": {}}
    counts = document.get("counts", {}).get(platform, {})
    return {
        "platform": platform,
        "position": document["position"],
        "reports": counts.get("reports", {}),
        "open_cases": counts.get("open_cases", {}),
    }


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, int]:
    flat: dict[str, int] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def rebuild(collection: Collection, store: EventStore) -> dict[str, Any]:
    """Recompute from the whole log, then switch the live document to the result.

    The live projection keeps running meanwhile: the rebuild folds up to the head it saw, then
    catches up with whatever the live one applied since, and swaps only when both stand at the
    same position, so the swap loses no event. Returns whether the live counts were identical.
    """
    totals: Counter = Counter()
    position = 0
    last_folded = 0
    folded = 0
    while True:
        head = store.head_position()
        for event in store.read_all(position + 1, to_position=head, types=STATISTICS_TYPES):
            totals.update(increments(event))
            folded += 1
            last_folded = event.position
        position = head
        live = collection.find_one({"_id": LIVE}) or {"position": 0, "counts": {}}
        if live["position"] > position:
            continue
        identical = flatten(live.get("counts", {})) == dict(totals)
        # Positioned like the live document: at the last event it counts, every later one
        # (relevant or not) lies beyond the head the rebuild read.
        rebuilt = {"_id": LIVE, "position": last_folded, "counts": nest(dict(totals))}
        swapped = collection.replace_one(
            {"_id": LIVE, "position": live["position"]}, rebuilt, upsert=live["position"] == 0
        )
        if swapped.matched_count == 1 or swapped.upserted_id is not None:
            return {"position": position, "identical": identical, "events": folded}
