"""The unit of work in memory: the same contract as `StoreUnitOfWork`, no broker, no database.

Handlers run against it in the fast tier of tests. It keeps the rules a handler relies on —
events built through the catalogue (so checked against their contract), optimistic
concurrency per stream, idempotency by event id, and refusal to record anything personal for
an erased case — and holds nothing sealed (opening is the identity).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.contracts import EACH
from allodiscri.kernel.events import (
    ANY,
    NO_STREAM,
    EventIdConflict,
    ExpectedVersion,
    Metadata,
    RecordedEvent,
    WrongExpectedVersion,
    stream_name,
    stream_type_of,
)
from allodiscri.kernel.hashing import GENESIS_HASH
from allodiscri.platform.crypto import SubjectErased, subject_of
from allodiscri.platform.unit_of_work import erased_case_refusal


@dataclass
class InMemoryUnitOfWork:
    service: str = "test"
    events: list[RecordedEvent] = field(default_factory=list)
    erased: set[str] = field(default_factory=set)
    denials: list[tuple[Actor, str]] = field(default_factory=list)
    recorded: list[RecordedEvent] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))

    def read_stream(self, stream: str, *, to_version: int | None = None) -> Iterator[RecordedEvent]:
        for event in self.events:
            if event.stream == stream and (to_version is None or event.version <= to_version):
                yield event

    def find(self, event_id: str) -> RecordedEvent | None:
        return next((event for event in self.events if event.id == event_id), None)

    def last_events(self, stream_type: str, **data_equals: Any) -> list[RecordedEvent]:
        streams = sorted(
            {
                event.stream
                for event in self.events
                if event.stream_type == stream_type
                and all(event.data.get(name) == value for name, value in data_equals.items())
            }
        )
        return [list(self.read_stream(stream))[-1] for stream in streams]

    def record(
        self,
        stream_type: str,
        stream_id: str,
        event_type: str,
        data: dict[str, Any],
        *,
        actor: Actor,
        expected_version: ExpectedVersion,
        event_id: str | None = None,
        causation_id: str | None = None,
    ) -> RecordedEvent:
        meta = Metadata(actor.id, actor.role, actor.platform, self.service, "test", causation_id)
        event = CATALOGUE.new_event(event_type, data, meta, event_id=event_id)
        stream = stream_name(stream_type, stream_id)
        earlier = self.find(event.id)
        if earlier is not None:
            if (earlier.stream, earlier.type, earlier.data) != (stream, event.type, event.data):
                raise EventIdConflict(event.id, earlier.stream)
            return earlier
        subject = subject_of(event.data)
        if subject in self.erased and _carries_personal_data(event.data, event.type):
            raise erased_case_refusal(SubjectErased(subject))
        actual = max((e.version for e in self.read_stream(stream)), default=None)
        if expected_version == NO_STREAM and actual is not None:
            raise WrongExpectedVersion(stream, expected_version, actual)
        if expected_version not in (NO_STREAM, ANY) and expected_version != actual:
            raise WrongExpectedVersion(stream, expected_version, actual)
        recorded = RecordedEvent(
            id=event.id,
            stream=stream,
            stream_type=stream_type_of(stream),
            version=(actual or 0) + 1,
            position=len(self.events) + 1,
            type=event.type,
            schema_version=event.schema_version,
            data=event.data,
            meta=event.meta,
            recorded_at=self.now,
            prev_hash=self.events[-1].hash if self.events else GENESIS_HASH,
            hash=f"memory-{len(self.events) + 1}",
        )
        self.events.append(recorded)
        self.recorded.append(recorded)
        return recorded

    def erase_keys(self, subject: str) -> None:
        self.erased.add(subject)

    def open(self, data: Any, subject: str | None = None) -> Any:
        return data

    def open_events(self, events: Iterable[RecordedEvent]) -> list[RecordedEvent]:
        return [dataclasses.replace(event) for event in events]

    def deny(self, actor: Actor, reason: str) -> None:
        self.denials.append((actor, reason))


def _carries_personal_data(data: dict[str, Any], event_type: str) -> bool:
    """Whether a personal field has a value: what sealing would need a key for."""

    def values(node: Any, path: tuple[str, ...]) -> Iterator[Any]:
        if not path:
            yield node
        elif path[0] == EACH and isinstance(node, list):
            for item in node:
                yield from values(item, path[1:])
        elif isinstance(node, dict) and path[0] in node:
            yield from values(node[path[0]], path[1:])

    return any(
        value is not None
        for path in CATALOGUE.personal_paths(event_type)
        for value in values(data, path)
    )
