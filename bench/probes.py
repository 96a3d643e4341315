"""The point reads behind every append path, timed as the log grows.

An append reads the head on a cold cache or after a conflict, a stream's version for a new or
contended stream, and an event by id after a duplicate key. A read whose time grows with the
log turns each of those into a scan; this table is where that shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from pymongo import DESCENDING
from pymongo.collection import Collection

from allodiscri.platform.store import EventStore
from bench.stats import median

ABSENT_STREAM = "case-00000000-0000-4000-8000-000000000000"
EQ_FORM = 'same query as {"stream": {"$eq": ...}} (diagnostic)'


@dataclass
class ProbeRow:
    log_events: int
    stream_events: int
    milliseconds: dict[str, float]


def _timed_ms(read: Callable[[], Any], repeats: int) -> float:
    read()  # warm-up: connection, server caches
    timings = []
    for _ in range(repeats):
        started = perf_counter()
        read()
        timings.append(perf_counter() - started)
    return median(timings) * 1000


def probe_point_reads(collection: Collection, repeats: int = 3) -> ProbeRow:
    """Time each read against the current log; the stream probed is the head event's."""
    store = EventStore(collection.database)
    head = collection.find_one({}, {"stream": 1, "position": 1}, sort=[("position", DESCENDING)])
    stream, head_position, event_id = head["stream"], head["position"], head["_id"]
    reads: dict[str, Callable[[], Any]] = {
        "head_position()": store.head_position,
        "stream_version(stream)": lambda: store.stream_version(stream),
        "stream_version(new stream)": lambda: store.stream_version(ABSENT_STREAM),
        EQ_FORM: lambda: collection.find_one(
            {"stream": {"$eq": stream}}, {"version": 1}, sort=[("version", DESCENDING)]
        ),
        "find_one by _id": lambda: collection.find_one({"_id": event_id}),
        "read_all, last 1,000 events": lambda: sum(
            1 for _ in store.read_all(max(1, head_position - 999))
        ),
    }
    milliseconds = {name: _timed_ms(read, repeats) for name, read in reads.items()}
    return ProbeRow(head_position, store.stream_version(stream) or 0, milliseconds)
