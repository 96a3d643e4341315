"""Scenario (b): `read_all` into event objects against raw pymongo cursors over the same log.

Two raw baselines: the plain `find().sort("position")` a hand-written replay would use, and
the same position windows `read_all` queries but left as dicts, which isolates the store's own
cost (event objects and the density check) from the server's cost of the query shape.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from pymongo import ASCENDING
from pymongo.collection import Collection

from allodiscri.platform.store import EventStore
from bench.stats import median

READ_ALL = "read_all -> RecordedEvent"
RAW_CURSOR = 'raw find().sort("position")'
RAW_WINDOWS = "raw windows of 1000, dicts"
WINDOW = 1000


def _raw_windows(collection: Collection, last: int) -> Iterable[dict[str, Any]]:
    for start in range(1, last + 1, WINDOW):
        query = {"position": {"$gte": start, "$lte": min(start + WINDOW - 1, last)}}
        yield from collection.find(query).sort("position", ASCENDING)


def readers(collection: Collection, events: int) -> dict[str, Callable[[], Iterable[Any]]]:
    store = EventStore(collection.database)
    return {
        READ_ALL: lambda: store.read_all(batch_size=WINDOW),
        RAW_CURSOR: lambda: collection.find().sort("position", ASCENDING),
        RAW_WINDOWS: lambda: _raw_windows(collection, events),
    }


@dataclass
class ReplayComparison:
    events: int
    seconds: dict[str, list[float]] = field(default_factory=dict)
    first_event_seconds: dict[str, list[float]] = field(default_factory=dict)
    """How long each run waited for its first event: the server's work before it answers."""

    def rate(self, reader: str) -> float:
        return self.events / median(self.seconds[reader])

    def ratio(self, reader: str, baseline: str) -> float:
        return self.rate(reader) / self.rate(baseline)


def compare_replays(collection: Collection, events: int, repeats: int) -> ReplayComparison:
    comparison = ReplayComparison(events)
    candidates = readers(collection, events)
    names = list(candidates)
    for repeat in range(repeats):
        # Rotate the order so no reader always runs on a warm (or cold) server.
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            started = perf_counter()
            first = None
            count = 0
            for _ in candidates[name]():
                if first is None:
                    first = perf_counter() - started
                count += 1
            elapsed = perf_counter() - started
            if count != events:
                raise RuntimeError(f"{name} read {count} of {events} events")
            comparison.seconds.setdefault(name, []).append(elapsed)
            comparison.first_event_seconds.setdefault(name, []).append(first or 0.0)
            print(f"  {name}: {events / elapsed:,.0f} events/s", file=sys.stderr)
    return comparison
