"""Publishing is a subscription: a catch-up reader relays stored events to RabbitMQ.

Each event goes to its owner's nameko events exchange (`<service>.events`, topic, durable),
routing key = event type, body = the JSON envelope below, persistent, with publisher confirms.
The checkpoint moves only after the broker confirmed, so a crash loses nothing; it may publish
an event again, which subscribers drop by its id (`message_id` = event id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kombu import Connection, Exchange, Producer

from allodiscri.kernel.events import RecordedEvent
from allodiscri.kernel.hashing import format_time
from allodiscri.platform.store import event_from_document

ENVELOPE_VERSION = 1


def envelope(event: RecordedEvent) -> dict[str, Any]:
    return {
        "envelope_version": ENVELOPE_VERSION,
        "id": event.id,
        "type": event.type,
        "schema_version": event.schema_version,
        "stream": event.stream,
        "stream_type": event.stream_type,
        "version": event.version,
        "position": event.position,
        "recorded_at": format_time(event.recorded_at),
        "data": event.data,
        "meta": event.meta.to_dict(),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def events_exchange(service: str) -> Exchange:
    """The same exchange nameko's EventDispatcher and event_handler use."""
    return Exchange(f"{service}.events", type="topic", durable=True, auto_delete=False)


class AmqpPublisher:
    """Publishes with confirms on one connection; safe to share within one green thread."""

    def __init__(self, amqp_uri: str):
        self._connection = Connection(amqp_uri, transport_options={"confirm_publish": True})
        self._producer: Producer | None = None
        self._declared: set[str] = set()

    def publish(self, service: str, event: RecordedEvent) -> None:
        exchange = events_exchange(service)
        if self._producer is None:
            self._producer = Producer(self._connection)
        self._producer.publish(
            envelope(event),
            exchange=exchange,
            routing_key=event.type,
            serializer="json",
            delivery_mode=2,
            message_id=event.id,
            declare=[] if exchange.name in self._declared else [exchange],
            retry=True,
            retry_policy={"max_retries": 5, "interval_start": 0.2, "interval_step": 0.5},
        )
        self._declared.add(exchange.name)

    def close(self) -> None:
        self._connection.release()


def from_envelope(body: dict[str, Any]) -> RecordedEvent:
    """The event a subscriber received, back as the object the store would have read."""
    document = {key: value for key, value in body.items() if key != "id"}
    document["_id"] = body["id"]
    document["recorded_at"] = datetime.fromisoformat(body["recorded_at"].replace("Z", "+00:00"))
    return event_from_document(document)
