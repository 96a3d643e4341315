"""Counters attached from outside the store: commands sent, and duplicate-key conflicts met.

They show where an append's time goes (round trips per event, retries per append) without
changing a line of the store.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pymongo import monitoring
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from allodiscri.kernel.events import AppendResult, ExpectedVersion, NewEvent
from allodiscri.platform.store import EventStore


class CommandCounter(monitoring.CommandListener):
    """Commands a client started, by name (insert, find, getMore, ...)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def conflicting_index(error: DuplicateKeyError) -> str:
    """Which unique index refused the insert: MongoDB says keyPattern, nx-27017 an index name."""
    details = error.details or {}
    key_pattern = details.get("keyPattern")
    if key_pattern:
        return "+".join(key_pattern)
    message = str(details.get("errmsg", error))
    for marker, name in (("stream_version", "stream+version"), ("position", "position")):
        if marker in message:
            return name
    return "_id" if "_id" in message else "unknown"


class _ConflictCountingCollection:
    """The events collection, with every DuplicateKeyError of `insert_one` counted."""

    def __init__(self, collection: Collection, store: ConflictCountingStore):
        self._collection = collection
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    def insert_one(self, document: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return self._collection.insert_one(document, *args, **kwargs)
        except DuplicateKeyError as error:
            self._store.record_conflict(conflicting_index(error))
            raise


class ConflictCountingStore(EventStore):
    """The real store; only counts the conflicts each append had to retry past."""

    def __init__(self, database: Database, **options: Any):
        super().__init__(database, **options)
        self.events = _ConflictCountingCollection(self.events, self)  # type: ignore[assignment]
        self.conflicts_by_index: Counter[str] = Counter()
        self.conflicts_per_append: list[int] = []
        self._conflicts_now = 0

    def record_conflict(self, index: str) -> None:
        self.conflicts_by_index[index] += 1
        self._conflicts_now += 1

    def append(
        self, stream: str, event: NewEvent, expected_version: ExpectedVersion
    ) -> AppendResult:
        self._conflicts_now = 0
        try:
            return super().append(stream, event, expected_version)
        finally:
            self.conflicts_per_append.append(self._conflicts_now)
