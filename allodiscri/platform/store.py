"""The event store on MongoDB: one document per event, one atomic insert per append.

Equality filters are written `{"$eq": value}`: the same on MongoDB, and the only form the
development server (nx-27017) serves from an index rather than a full scan.

Ordering without transactions: a writer inserts position p+1 only after it has seen p (the
head). Unique indexes on `position`, on (`stream`, `version`) and on `_id` turn every race into a
duplicate-key error, after which the writer looks again. So positions are dense, appear in
order, and a catch-up reader can never pass a hole that is filled later.

Caches are lower bounds only: the head and the stream versions we remember can be stale but
never ahead of the log (it only grows), so a stale cache costs one conflict and a re-read,
never a gap.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from allodiscri.kernel.events import (
    ANY,
    NO_STREAM,
    AppendResult,
    EventIdConflict,
    EventStoreError,
    ExpectedVersion,
    Metadata,
    NewEvent,
    PositionGap,
    RecordedEvent,
    WrongExpectedVersion,
    stream_type_of,
)
from allodiscri.kernel.hashing import GENESIS_HASH, document_hash, stored_time
from allodiscri.platform.crypto import FieldCipher

log = logging.getLogger(__name__)

EVENTS_COLLECTION = "events"
MAX_APPEND_ATTEMPTS = 200

Upcaster = Callable[[RecordedEvent], RecordedEvent]


class EventStore:
    def __init__(
        self,
        database: Database,
        *,
        upcaster: Upcaster | None = None,
        cipher: FieldCipher | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.events: Collection = database[EVENTS_COLLECTION]
        self._upcaster = upcaster
        self.cipher = cipher
        """Seals personal fields on append; reads return them sealed (see `FieldCipher.open`)."""
        self._clock = clock
        self._lock = threading.Lock()
        self._head: tuple[int, str, datetime | None] | None = None
        self._stream_versions: dict[str, int] = {}

    def ensure_indexes(self) -> None:
        self.events.create_index([("position", ASCENDING)], unique=True, name="position_unique")
        self.events.create_index(
            [("stream", ASCENDING), ("version", ASCENDING)],
            unique=True,
            name="stream_version_unique",
        )
        # Every stream of this domain belongs to a case (reports, referrals, access traces),
        # and auditors ask for everything one actor did.
        self.events.create_index([("data.case_id", ASCENDING)], name="case_id")
        self.events.create_index([("meta.actor_id", ASCENDING)], name="actor_id")

    # -- writing ---------------------------------------------------------------------------

    def append(
        self, stream: str, event: NewEvent, expected_version: ExpectedVersion
    ) -> AppendResult:
        """Store one event at the end of `stream` and of the global log, or raise.

        Appending the same event id again returns the first result and stores nothing.
        """
        _check_expected_version(expected_version)
        stream_type = stream_type_of(stream)
        proposed = event
        if self.cipher is not None:
            event = self.cipher.seal_event(event)
        with self._lock:
            for attempt in range(MAX_APPEND_ATTEMPTS):
                try:
                    version = self._next_version(stream, expected_version)
                except WrongExpectedVersion:
                    earlier = self._already_stored(stream, proposed)
                    if earlier is not None:
                        return earlier
                    raise
                document = self._document(stream, stream_type, version, event)
                try:
                    self.events.insert_one(document)
                except DuplicateKeyError as conflict:
                    self._head = None
                    if not _lost_the_position_race(conflict):
                        earlier = self._already_stored(stream, proposed)
                        if earlier is not None:
                            return earlier
                        self._stream_versions.pop(stream, None)
                    if attempt > 2:
                        time.sleep(random.uniform(0, 0.002 * min(attempt, 20)))
                    continue
                self._head = (document["position"], document["hash"], document["recorded_at"])
                self._stream_versions[stream] = version
                stored = self._event(document)
                return AppendResult(stream, version, stored.position, event.id, stored)
        raise EventStoreError(
            f"could not append to {stream!r} after {MAX_APPEND_ATTEMPTS} attempts (contention)"
        )

    def _next_version(self, stream: str, expected: ExpectedVersion) -> int:
        known = self._stream_versions.get(stream)
        if expected == NO_STREAM:
            actual = known if known is not None else self.stream_version(stream)
            if actual is not None:
                raise WrongExpectedVersion(stream, expected, actual)
            return 1
        if expected == ANY:
            actual = known if known is not None else self.stream_version(stream)
            return (actual or 0) + 1
        if known != expected:
            actual = self.stream_version(stream)
            if actual != expected:
                raise WrongExpectedVersion(stream, expected, actual)
        return expected + 1

    def _document(
        self, stream: str, stream_type: str, version: int, event: NewEvent
    ) -> dict[str, Any]:
        head_position, head_hash, head_time = self._head or self._read_head()
        recorded_at = stored_time(self._clock())
        if head_time is not None and recorded_at < head_time:
            # Keep time monotonic along positions, so "as of" is always a prefix of the log.
            recorded_at = head_time
        document = {
            "_id": event.id,
            "stream": stream,
            "stream_type": stream_type,
            "version": version,
            "position": head_position + 1,
            "type": event.type,
            "schema_version": event.schema_version,
            "data": event.data,
            "meta": event.meta.to_dict(),
            "recorded_at": recorded_at,
            "prev_hash": head_hash,
        }
        document["hash"] = document_hash(document, head_hash)
        return document

    def _read_head(self) -> tuple[int, str, datetime | None]:
        head = self.events.find_one(
            {}, {"position": 1, "hash": 1, "recorded_at": 1}, sort=[("position", DESCENDING)]
        )
        if head is None:
            return 0, GENESIS_HASH, None
        return head["position"], head["hash"], stored_time(head["recorded_at"])

    def _already_stored(self, stream: str, event: NewEvent) -> AppendResult | None:
        stored = self.events.find_one({"_id": event.id})
        if stored is None:
            return None
        stored_data = stored["data"] if self.cipher is None else self.cipher.open(stored["data"])
        same = (
            stored["stream"] == stream
            and stored["type"] == event.type
            and stored["schema_version"] == event.schema_version
            and stored_data == event.data
        )
        if not same:
            raise EventIdConflict(event.id, stored["stream"])
        return AppendResult(
            stored["stream"], stored["version"], stored["position"], event.id, self._event(stored)
        )

    # -- reading ---------------------------------------------------------------------------

    def find(self, event_id: str) -> RecordedEvent | None:
        document = self.events.find_one({"_id": event_id})
        return None if document is None else self._event(document)

    def stream_version(self, stream: str) -> int | None:
        last = self.events.find_one(
            {"stream": {"$eq": stream}}, {"version": 1}, sort=[("version", DESCENDING)]
        )
        return None if last is None else last["version"]

    def last_events(self, stream_type: str, **data_equals: Any) -> list[RecordedEvent]:
        """The latest event of each `stream_type` stream that has an event with these data."""
        query = {"stream_type": stream_type}
        query |= {f"data.{name}": {"$eq": value} for name, value in data_equals.items()}
        streams = sorted(
            {document["stream"] for document in self.events.find(query, {"stream": 1})}
        )
        lasts = []
        for stream in streams:
            last = self.events.find_one({"stream": {"$eq": stream}}, sort=[("version", DESCENDING)])
            lasts.append(self._event(last))
        return lasts

    def read_related(
        self, as_of: datetime | None = None, **data_equals: Any
    ) -> Iterator[RecordedEvent]:
        """Every event whose data has these values (e.g. case_id=…), in log order."""
        query: dict[str, Any] = {
            f"data.{name}": {"$eq": value} for name, value in data_equals.items()
        }
        if as_of is not None:
            query["position"] = {"$lte": self.position_at(as_of)}
        for document in self.events.find(query).sort("position", ASCENDING):
            yield self._event(document)

    def read_by_actor(
        self, actor_id: str, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[RecordedEvent]:
        """Everything an actor did or read (reads are events too), in log order."""
        query: dict[str, Any] = {"meta.actor_id": {"$eq": actor_id}}
        window: dict[str, int] = {}
        if since is not None:
            window["$gt"] = self.position_at(since - timedelta(milliseconds=1))
        if until is not None:
            window["$lte"] = self.position_at(until)
        if window:
            query["position"] = window
        for document in self.events.find(query).sort("position", ASCENDING):
            yield self._event(document)

    def position_at(self, moment: datetime) -> int:
        """The last position recorded at or before `moment` (0 if none).

        Times never go back along positions, so a binary search over positions finds it
        without any index on time.
        """
        moment = stored_time(moment)
        low, high = 0, self.head_position()
        while low < high:
            middle = (low + high + 1) // 2
            document = self.events.find_one({"position": middle}, {"recorded_at": 1})
            if document is None:
                raise PositionGap(middle, self._next_position_after(middle))
            if stored_time(document["recorded_at"]) <= moment:
                low = middle
            else:
                high = middle - 1
        return low

    def head_position(self) -> int:
        return self._read_head()[0]

    def read_stream(
        self,
        stream: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        as_of: datetime | None = None,
        batch_size: int = 500,
    ) -> Iterator[RecordedEvent]:
        """The stream's events in version order, optionally only those recorded by `as_of`.

        "As of" goes through `position_at`, which compares times exactly in Python: servers
        differ in how finely they compare dates in queries.
        """
        version_range: dict[str, int] = {"$gte": from_version}
        if to_version is not None:
            version_range["$lte"] = to_version
        query: dict[str, Any] = {"stream": {"$eq": stream}, "version": version_range}
        if as_of is not None:
            query["position"] = {"$lte": self.position_at(as_of)}
        cursor = self.events.find(query).sort("version", ASCENDING).batch_size(batch_size)
        for document in cursor:
            yield self._event(document)

    def read_all(
        self,
        from_position: int = 1,
        *,
        to_position: int | None = None,
        types: frozenset[str] | set[str] | None = None,
        stream_types: frozenset[str] | set[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[RecordedEvent]:
        """Every event from `from_position` to the head (as seen at the call), in order.

        Reads fixed position windows, so memory stays flat however long the log. Unfiltered
        reads prove each window is dense and raise `PositionGap` on a hole.
        """
        last = self.head_position() if to_position is None else to_position
        filtered = bool(types or stream_types)
        start = max(from_position, 1)
        while start <= last:
            end = min(start + batch_size - 1, last)
            query: dict[str, Any] = {"position": {"$gte": start, "$lte": end}}
            if types:
                query["type"] = {"$in": sorted(types)}
            if stream_types:
                query["stream_type"] = {"$in": sorted(stream_types)}
            expected = start
            for document in self.events.find(query).sort("position", ASCENDING):
                if not filtered and document["position"] != expected:
                    raise PositionGap(expected, document["position"])
                expected = document["position"] + 1
                yield self._event(document)
            if not filtered and expected <= end:
                found = self._next_position_after(expected)
                raise PositionGap(expected, found)
            start = end + 1

    def _next_position_after(self, position: int) -> int:
        later = self.events.find_one(
            {"position": {"$gt": position}}, {"position": 1}, sort=[("position", ASCENDING)]
        )
        return -1 if later is None else later["position"]

    def _event(self, document: dict[str, Any]) -> RecordedEvent:
        event = event_from_document(document)
        return self._upcaster(event) if self._upcaster else event


def event_from_document(document: dict[str, Any]) -> RecordedEvent:
    """The event an `events` document holds, as stored (no upcasting)."""
    return RecordedEvent(
        id=document["_id"],
        stream=document["stream"],
        stream_type=document["stream_type"],
        version=document["version"],
        position=document["position"],
        type=document["type"],
        schema_version=document["schema_version"],
        data=document["data"],
        meta=Metadata.from_dict(document["meta"]),
        recorded_at=document["recorded_at"],
        prev_hash=document["prev_hash"],
        hash=document["hash"],
    )


def _lost_the_position_race(conflict: DuplicateKeyError) -> bool:
    """Whether only the next global position was taken: then only the head needs reading again.

    MongoDB names the index in `keyPattern`; the development server only in its message. An
    event id seen again also ends here once the head is fresh, so idempotency is not lost.
    """
    details = conflict.details or {}
    pattern = details.get("keyPattern")
    if pattern:
        return set(pattern) == {"position"}
    message = str(details.get("errmsg") or conflict)
    return "position" in message and "stream" not in message and "_id" not in message


def _check_expected_version(expected: ExpectedVersion) -> None:
    if expected in (NO_STREAM, ANY):
        return
    if isinstance(expected, bool) or not isinstance(expected, int) or expected < 1:
        raise ValueError(
            f"expected_version must be {NO_STREAM!r}, {ANY!r} or a version >= 1, not {expected!r}"
        )
