"""Applying a stream's events to its read-model document exactly once, in version order.

Each document follows one stream and remembers the stream version it has applied. An event at
or below it is a redelivery and changes nothing; an event further ahead than the next version
waits for the catch-up subscription, which always brings them in order. So a service may also
project its own event right after appending it (read-your-writes) without ever skipping one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from allodiscri.kernel.events import RecordedEvent

Fold = Callable[[dict[str, Any] | None, RecordedEvent], dict[str, Any]]

APPLIED_VERSION = "applied_version"


def apply_in_order(collection: Collection, key: str, event: RecordedEvent, fold: Fold) -> bool:
    """Fold `event` into document `key`; False when already applied or not yet its turn."""
    current = collection.find_one({"_id": key})
    applied = 0 if current is None else current[APPLIED_VERSION]
    if event.version != applied + 1:
        return False
    updated = {**fold(current, event), "_id": key, APPLIED_VERSION: event.version}
    if current is None:
        try:
            collection.insert_one(updated)
        except DuplicateKeyError:
            return False
        return True
    result = collection.replace_one({"_id": key, APPLIED_VERSION: applied}, updated)
    return result.modified_count == 1


def insert_once(collection: Collection, document: dict[str, Any]) -> bool:
    """For read models with one document per event (`_id` = event id)."""
    try:
        collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True


@dataclass(frozen=True)
class Projection:
    """A read model: the events it follows, the collections it writes, how it folds an event.

    `name` is also its catch-up subscription's name, so the service that runs it live and the
    operator who rebuilds it (`allodiscri projections …`) mean the same thing.
    """

    name: str
    collections: tuple[str, ...]
    project: Callable[[Any, RecordedEvent], Any]
    types: frozenset[str] | None = None
    stream_types: frozenset[str] | None = None
