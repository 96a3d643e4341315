"""nameko entrypoints: catch-up subscriptions from the log, and broker handlers that dead-letter.

`@catch_up` is how a service follows the event log: subscribers that matter (projections,
process managers) never depend on a broker message that could be lost, because nameko's
EventDispatcher publishes with `mandatory=False` and drops events sent before a queue exists.
"""

from __future__ import annotations

import logging

from eventlet.event import Event
from kombu import Connection, Exchange, Queue
from nameko.events import EventHandler
from nameko.extensions import Entrypoint

from allodiscri.kernel.events import RecordedEvent
from allodiscri.platform import serialization  # noqa: F401  (registers the broker's JSON)
from allodiscri.platform.dependencies import LeasedLoop, MongoConnection
from allodiscri.platform.subscriptions import CatchUpSubscription, Checkpoints

log = logging.getLogger(__name__)

DEAD_LETTER_EXCHANGE = "allodiscri.dead-letter"


class CatchUp(Entrypoint):
    """Hands each matching event of the log to the decorated method, one worker at a time."""

    mongo = MongoConnection()

    def __init__(self, subscription: str, types=None, stream_types=None, **kwargs):
        self.subscription_name = subscription
        self.types = frozenset(types) if types else None
        self.stream_types = frozenset(stream_types) if stream_types else None
        super().__init__(**kwargs)

    def start(self):
        # Built at start: the shared MongoConnection is only certain to be set up by then.
        subscription = CatchUpSubscription(
            name=self.subscription_name,
            store=self.mongo.store,
            checkpoints=Checkpoints(self.mongo.database),
            handler=self.handle_event,
            types=self.types,
            stream_types=self.stream_types,
        )
        self.loop = LeasedLoop(self.container, self.mongo, subscription)
        self.loop.start()

    def stop(self):
        self.loop.stop()

    def kill(self):
        self.loop.kill()

    def handle_event(self, event: RecordedEvent) -> None:
        done = Event()

        def handle_result(worker_ctx, result, exc_info):
            done.send((result, exc_info))
            return result, exc_info

        self.container.spawn_worker(
            self,
            (event,),
            {},
            context_data={"correlation_id": event.meta.correlation_id},
            handle_result=handle_result,
        )
        _, exc_info = done.wait()
        if exc_info is not None:
            raise exc_info[1]


catch_up = CatchUp.decorator


class DeadLetteringEventHandler(EventHandler):
    """An event_handler whose failures go to a dead-letter queue instead of being dropped.

    nameko acks a failed message (losing it) or requeues it forever; here a failure rejects it
    without requeue, and RabbitMQ moves it to `<queue>.dead-letter` for an operator to inspect.
    """

    def setup(self):
        super().setup()
        dead_letter_queue = f"{self.queue.name}.dead-letter"
        self.dead_letter_exchange = Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)
        self.dead_letter_queue = Queue(
            dead_letter_queue,
            exchange=self.dead_letter_exchange,
            routing_key=dead_letter_queue,
            durable=True,
        )
        self.queue = Queue(
            self.queue.name,
            exchange=self.queue.exchange,
            routing_key=self.queue.routing_key,
            durable=True,
            queue_arguments={
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": dead_letter_queue,
            },
        )

    def start(self):
        with Connection(self.container.config["AMQP_URI"]) as connection:
            self.dead_letter_queue(connection.default_channel).declare()
        super().start()

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        log.error(
            "event %s dead-lettered: %r",
            message.properties.get("message_id"),
            exc_info[1],
            extra={"queue": self.queue.name},
        )
        if message.channel.connection:
            message.reject(requeue=False)


dead_lettering_event_handler = DeadLetteringEventHandler.decorator
