"""The event records that cross every boundary: what a writer proposes and what the log holds.

Plain dataclasses with no I/O, so domain code and tests can build them without a store.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

NO_STREAM = "no-stream"
"""Expected version meaning: the stream must not exist yet."""
ANY = "any"
"""Expected version meaning: append whatever the stream's version is."""

ExpectedVersion = int | str


@dataclass(frozen=True)
class Metadata:
    """Who did it, for which platform, and why (correlation and causation), as auditors need it."""

    actor_id: str
    actor_role: str
    platform: str
    service: str
    correlation_id: str
    causation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "actor_id": self.actor_id,
            "actor_role": self.actor_role,
            "platform": self.platform,
            "service": self.service,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Metadata:
        return cls(
            actor_id=raw["actor_id"],
            actor_role=raw["actor_role"],
            platform=raw["platform"],
            service=raw["service"],
            correlation_id=raw["correlation_id"],
            causation_id=raw.get("causation_id"),
        )


@dataclass(frozen=True)
class NewEvent:
    """An event proposed for appending; `id` makes retries idempotent, so callers may fix it."""

    type: str
    data: dict[str, Any]
    meta: Metadata
    schema_version: int = 1
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the log holds it, with its place in the stream and in the global order."""

    id: str
    stream: str
    stream_type: str
    version: int
    position: int
    type: str
    schema_version: int
    data: dict[str, Any]
    meta: Metadata
    recorded_at: datetime
    prev_hash: str
    hash: str

    @property
    def stream_id(self) -> str:
        """The aggregate id: the stream name without its type prefix."""
        return self.stream[len(self.stream_type) + 1 :]


@dataclass(frozen=True)
class AppendResult:
    stream: str
    version: int
    position: int
    event_id: str
    event: RecordedEvent
    """The event as the log holds it (sealed fields sealed), so no caller reads it back."""


def stream_name(stream_type: str, stream_id: str) -> str:
    return f"{stream_type}-{stream_id}"


def stream_type_of(stream: str) -> str:
    stream_type, sep, rest = stream.partition("-")
    if not sep or not stream_type or not rest:
        raise ValueError(f"stream name {stream!r} is not '<type>-<id>'")
    return stream_type


class EventStoreError(Exception):
    """Base of every error the event store raises on purpose."""


class WrongExpectedVersion(EventStoreError):
    def __init__(self, stream: str, expected: ExpectedVersion, actual: int | None):
        self.stream = stream
        self.expected = expected
        self.actual = actual
        shown = "no stream" if actual is None else actual
        super().__init__(f"stream {stream!r}: expected version {expected!r}, actual {shown}")


class EventIdConflict(EventStoreError):
    """The same event id was appended before with other content: a client bug, never a retry."""

    def __init__(self, event_id: str, stream: str):
        self.event_id = event_id
        self.stream = stream
        super().__init__(f"event id {event_id} is already stored with different content")


class PositionGap(EventStoreError):
    """A hole in the global positions: an integrity alarm, never something to skip."""

    def __init__(self, expected: int, found: int):
        self.expected = expected
        self.found = found
        super().__init__(f"global position {expected} is missing (next stored is {found})")
