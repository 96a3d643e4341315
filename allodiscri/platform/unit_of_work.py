"""The unit of work over the event store and the key store: the production adapter of the
port in `allodiscri.kernel.unit_of_work`, one per worker (nameko builds it per call)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import Refused
from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.events import ANY, ExpectedVersion, Metadata, RecordedEvent, stream_name
from allodiscri.platform.crypto import DataKeys, SubjectErased
from allodiscri.platform.store import EventStore


def erased_case_refusal(erased: SubjectErased) -> Refused:
    """Whatever the command (a declarant's addition or file, an interlocutor's answer…), the
    caller is told plainly why nothing personal can be recorded for this case."""
    return Refused(f"case {erased.subject} was erased: nothing personal is recorded for it")


@dataclass
class StoreUnitOfWork:
    """Records with the metadata of the running call (service, action, correlation id)."""

    store: EventStore
    keys: DataKeys
    service: str
    action: str
    correlation_id: str
    recorded: list[RecordedEvent] = field(default_factory=list)

    def read_stream(self, stream: str, *, to_version: int | None = None) -> Iterator[RecordedEvent]:
        return self.store.read_stream(stream, to_version=to_version)

    def find(self, event_id: str) -> RecordedEvent | None:
        return self.store.find(event_id)

    def last_events(self, stream_type: str, **data_equals: Any) -> list[RecordedEvent]:
        return self.store.last_events(stream_type, **data_equals)

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
        meta = Metadata(
            actor_id=actor.id,
            actor_role=actor.role,
            platform=actor.platform,
            service=self.service,
            correlation_id=self.correlation_id,
            causation_id=causation_id,
        )
        event = CATALOGUE.new_event(event_type, data, meta, event_id=event_id)
        try:
            result = self.store.append(stream_name(stream_type, stream_id), event, expected_version)
        except SubjectErased as erased:
            raise erased_case_refusal(erased) from erased
        self.recorded.append(result.event)
        return result.event

    def erase_keys(self, subject: str) -> None:
        self.keys.erase(subject)

    def open(self, data: Any, subject: str | None = None) -> Any:
        """Opened with the key read afresh: an erasure made elsewhere counts at once. Read
        models and messages hold sealed fields; only what a permitted reader sees is opened."""
        if self.store.cipher is None:
            return data
        return self.store.cipher.open(data, subject, fresh=True)

    def open_events(self, events: Iterable[RecordedEvent]) -> list[RecordedEvent]:
        """Events about to be shown, opened with their keys read afresh in one query."""
        if self.store.cipher is None:
            return list(events)
        return list(self.store.cipher.open_events(events, fresh=True))

    def deny(self, actor: Actor, reason: str) -> None:
        record_denial(self.store, self.service, self.correlation_id, self.action, actor, reason)


def record_denial(
    store: EventStore, service: str, correlation_id: str, action: str, actor: Actor, reason: str
) -> None:
    """An AccessDenied event on the day's `denied-` stream: who tried what, and why not."""
    claimed = Actor(
        _storable(actor.id, 100), _storable(actor.role, 50), _storable(actor.platform, 20)
    )
    meta = Metadata(
        actor_id=claimed.id,
        actor_role=claimed.role,
        platform=claimed.platform,
        service=service,
        correlation_id=correlation_id,
    )
    data = {
        "action": action,
        "reason": _storable(reason, 500),
        "claimed_actor_id": claimed.id,
        "claimed_role": claimed.role,
        "claimed_platform": claimed.platform,
    }
    event = CATALOGUE.new_event("AccessDenied", data, meta)
    day = datetime.now(UTC).date().isoformat()
    store.append(stream_name("denied", day), event, ANY)


def _storable(claimed: str, limit: int) -> str:
    """A claimed value as a trace can keep it: what a forged token says is not text we trust,
    so what cannot be stored as UTF-8 text is shown escaped instead of failing the trace."""
    text = str(claimed)[:limit]
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
