"""The port a use case is given: everything a handler may do to the world, and nothing more.

Handlers read streams, record events (getting them back as the log holds them), destroy a
case's keys, open sealed fields for a reader about to see them, and leave a denial trace. Two
adapters implement it: `allodiscri.platform.unit_of_work.StoreUnitOfWork` over the event store
and the key store, and `allodiscri.platform.memory.InMemoryUnitOfWork` for fast tests. Both
build events through the catalogue, so a handler's event is checked against its contract
either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.events import ExpectedVersion, RecordedEvent


class UnitOfWork(Protocol):
    recorded: list[RecordedEvent]
    """What this unit recorded, in order: the service projects it into its read models."""

    def read_stream(
        self, stream: str, *, to_version: int | None = None
    ) -> Iterator[RecordedEvent]: ...

    def find(self, event_id: str) -> RecordedEvent | None: ...

    def last_events(self, stream_type: str, **data_equals: Any) -> list[RecordedEvent]:
        """The latest event of each `stream_type` stream having an event with these data."""
        ...

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
        """Append one event; the same `event_id` again returns the first event, adds nothing."""
        ...

    def erase_keys(self, subject: str) -> None:
        """Destroy the data key of `subject` (a case or report id): its sealed data is gone."""
        ...

    def open(self, data: Any, subject: str | None = None) -> Any:
        """`data` with its sealed fields opened, for a permitted reader about to see them."""
        ...

    def open_events(self, events: Iterable[RecordedEvent]) -> list[RecordedEvent]: ...

    def deny(self, actor: Actor, reason: str) -> None:
        """Leave the access-denied trace of the running action (e.g. another platform's case)."""
        ...
