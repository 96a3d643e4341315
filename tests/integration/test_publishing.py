"""Publishing is a subscription: stored events reach RabbitMQ even across a crash."""

import pytest
from kombu import Connection, Exchange, Queue

from allodiscri.kernel.events import ANY
from allodiscri.platform.publishing import AmqpPublisher, envelope, from_envelope
from allodiscri.platform.subscriptions import CatchUpSubscription, Checkpoints
from tests.helpers import drain, new_event


class Crash(Exception):
    pass


@pytest.fixture
def amqp(rabbit_config):
    with Connection(rabbit_config["AMQP_URI"]) as connection:
        queue = Queue(
            "subscriber",
            exchange=Exchange("cases.events", type="topic", durable=True),
            routing_key="#",
            durable=True,
        )
        queue(connection.default_channel).declare()
        yield connection, queue


def relay(store, database, publisher, crash_after=None):
    published = []

    def publish(event):
        publisher.publish("cases", event)
        published.append(event.position)
        if event.position == crash_after:
            raise Crash("process died after publishing, before saving its checkpoint")

    return CatchUpSubscription(
        "cases-relay", store, Checkpoints(database), publish, stream_types=frozenset({"case"})
    )


def test_a_crash_between_publish_and_checkpoint_loses_nothing_and_dedupes_by_id(
    store, database, amqp, rabbit_config
):
    connection, queue = amqp
    for _ in range(3):
        store.append("case-1", new_event(), ANY)
    store.append("report-1", new_event(), ANY)  # another service's stream: not ours to publish
    publisher = AmqpPublisher(rabbit_config["AMQP_URI"])
    with pytest.raises(Crash):
        relay(store, database, publisher, crash_after=2).run_once()
    # Stored after the crash, before any restart: still published once the relay is back.
    store.append("case-2", new_event(), ANY)
    relay(store, database, publisher).run_once()
    publisher.close()

    messages = drain(connection, queue)
    positions = [body["position"] for body, _ in messages]
    assert positions == [1, 2, 2, 3, 5]  # position 2 again: at-least-once, never lost
    seen, effects = set(), []
    for body, message in messages:
        if message.properties["message_id"] not in seen:  # what a subscriber does
            seen.add(message.properties["message_id"])
            effects.append(body["position"])
    assert effects == [1, 2, 3, 5]


def test_an_envelope_round_trips_to_the_stored_event(store):
    store.append("case-1", new_event(note="é"), ANY)
    event = next(store.read_all())
    assert from_envelope(envelope(event)) == event
