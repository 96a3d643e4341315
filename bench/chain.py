"""Event documents built and checked exactly as the store writes them, without going through it.

A bulk load of a million events through `append` would take most of an hour; `insert_many` of
documents built here takes minutes. `check_builder_matches_store` guards that the two stay
identical, and `verify_chain` proves what a run left in a collection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import Any

from pymongo import ASCENDING
from pymongo.collection import Collection

from allodiscri.kernel.events import NewEvent, stream_type_of
from allodiscri.kernel.hashing import GENESIS_HASH, document_hash, stored_time
from allodiscri.platform.store import EventStore
from bench.workload import Entry

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
"""recorded_at of position 0; position p is recorded p milliseconds later."""

MAX_PROBLEMS = 10


def event_document(
    stream: str,
    event: NewEvent,
    *,
    version: int,
    position: int,
    recorded_at: datetime,
    prev_hash: str,
) -> dict[str, Any]:
    """The document `EventStore.append` would insert for this event at this place."""
    document = {
        "_id": event.id,
        "stream": stream,
        "stream_type": stream_type_of(stream),
        "version": version,
        "position": position,
        "type": event.type,
        "schema_version": event.schema_version,
        "data": event.data,
        "meta": event.meta.to_dict(),
        "recorded_at": stored_time(recorded_at),
        "prev_hash": prev_hash,
    }
    document["hash"] = document_hash(document, prev_hash)
    return document


def chained_documents(entries: Iterable[Entry]) -> Iterator[dict[str, Any]]:
    """A valid log from position 1: dense positions and versions, chained hashes."""
    versions: dict[str, int] = {}
    prev_hash = GENESIS_HASH
    for position, (stream, event) in enumerate(entries, start=1):
        version = versions.get(stream, 0) + 1
        versions[stream] = version
        document = event_document(
            stream,
            event,
            version=version,
            position=position,
            recorded_at=BASE_TIME + timedelta(milliseconds=position),
            prev_hash=prev_hash,
        )
        prev_hash = document["hash"]
        yield document


def check_builder_matches_store(entry: Entry) -> None:
    """Fail fast if the store's document shape drifted from `event_document`.

    Uses the store's private `_document` on purpose: it is the one definition of the shape.
    """
    stream, event = entry
    moment = BASE_TIME + timedelta(milliseconds=42)
    store = EventStore({"events": None}, clock=lambda: moment)  # type: ignore[arg-type]
    store._head = (41, "ab" * 32, None)
    expected = store._document(stream, stream_type_of(stream), 7, event)
    built = event_document(
        stream, event, version=7, position=42, recorded_at=moment, prev_hash="ab" * 32
    )
    if built != expected or list(built) != list(expected):
        raise RuntimeError(f"bench documents differ from the store's: {built} != {expected}")


@dataclass
class BulkLoad:
    events: int
    seconds: float
    head_position: int
    head_hash: str


def bulk_load(
    collection: Collection,
    entries: Iterable[Entry],
    *,
    batch: int = 1000,
    after_batch: Callable[[int], None] | None = None,
) -> BulkLoad:
    """Insert a chained log with `insert_many`, one ordered batch at a time.

    `after_batch(events_loaded)` runs between batches, outside the timed load.
    """
    paused = 0.0
    started = perf_counter()
    pending: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    count = 0
    for document in chained_documents(entries):
        pending.append(document)
        if len(pending) == batch:
            collection.insert_many(pending, ordered=True)
            count += len(pending)
            last = pending[-1]
            pending = []
            if after_batch is not None:
                pause_started = perf_counter()
                after_batch(count)
                paused += perf_counter() - pause_started
    if pending:
        collection.insert_many(pending, ordered=True)
        count += len(pending)
        last = pending[-1]
    head_position = last["position"] if last else 0
    head_hash = last["hash"] if last else GENESIS_HASH
    return BulkLoad(count, perf_counter() - started - paused, head_position, head_hash)


@dataclass
class ChainCheck:
    """What a walk of the whole log found; `ok` means an auditor would accept it."""

    events: int = 0
    head_position: int = 0
    head_hash: str = GENESIS_HASH
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(collection: Collection, expected_events: int) -> ChainCheck:
    """Positions dense 1..N, each hash recomputed, stream versions dense, times monotonic."""
    check = ChainCheck()
    versions: dict[str, int] = {}
    previous_time: datetime | None = None

    def problem(text: str) -> None:
        if len(check.problems) < MAX_PROBLEMS:
            check.problems.append(text)

    for document in collection.find().sort("position", ASCENDING).batch_size(2000):
        position = document["position"]
        if position != check.head_position + 1:
            problem(f"position {check.head_position + 1} missing (next is {position})")
        if document["prev_hash"] != check.head_hash:
            problem(f"position {position}: prev_hash is not the hash before it")
        if document_hash(document, document["prev_hash"]) != document["hash"]:
            problem(f"position {position}: hash does not match content")
        stream = document["stream"]
        if document["version"] != versions.get(stream, 0) + 1:
            problem(f"position {position}: {stream} jumps to version {document['version']}")
        versions[stream] = document["version"]
        recorded_at = stored_time(document["recorded_at"])
        if previous_time is not None and recorded_at < previous_time:
            problem(f"position {position}: recorded_at goes back in time")
        previous_time = recorded_at
        check.events += 1
        check.head_position = position
        check.head_hash = document["hash"]
    if check.events != expected_events:
        problem(f"{check.events} events stored, {expected_events} expected")
    return check
