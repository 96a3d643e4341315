"""Applying an event to a read-model document exactly once.

Each document remembers the last position applied to it; an event at or below that position
is a redelivery and changes nothing. So a catch-up handler that runs twice after a crash, or a
broker message delivered twice, leaves the same read model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from allodiscri.events import RecordedEvent

Fold = Callable[[dict[str, Any] | None, RecordedEvent], dict[str, Any]]


def apply_once(collection: Collection, key: str, event: RecordedEvent, fold: Fold) -> bool:
    """Fold `event` into document `key`; False when it was already applied."""
    current = collection.find_one({"_id": key})
    if current is not None and current.get("position", 0) >= event.position:
        return False
    updated = fold(current, event)
    updated["_id"] = key
    updated["position"] = event.position
    if current is None:
        try:
            collection.insert_one(updated)
        except DuplicateKeyError:
            return False
        return True
    result = collection.replace_one({"_id": key, "position": current.get("position", 0)}, updated)
    return result.modified_count == 1
