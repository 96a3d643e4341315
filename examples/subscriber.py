"""A ministry service subscribing to Allo Discri's events with plain kombu (no nameko).

It binds its own durable queue, so events wait for it while it is down, and it records the
ids of the events it handled in a SQLite file, so an event delivered twice (Allo Discri
publishes at least once) is handled once, across restarts too. It acks only after the id is
committed: a crash in between means a redelivery, which the record then drops.

    python examples/subscriber.py amqp://guest:guest@localhost:5672// hr-office.case-events \\
        cases.events:CaseOpened cases.events:CaseClosed --state hr-office.sqlite

If the broker goes away it exits; restarting it (systemd, a container) loses nothing.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections.abc import Callable
from typing import Any

from kombu import Connection, Consumer, Exchange, Queue

Handler = Callable[[dict[str, Any]], None]


def parse_binding(text: str) -> tuple[str, str]:
    """`cases.events:CaseOpened` → the exchange and the routing key (`#` for every type)."""
    exchange, _, routing_key = text.partition(":")
    if not exchange or not routing_key:
        raise ValueError(f"expected exchange:routing_key, got {text!r}")
    return exchange, routing_key


class EventSubscriber:
    def __init__(self, amqp_uri: str, queue: str, bindings: list[str], state_file: str):
        self.connection = Connection(amqp_uri)
        self.queue = Queue(queue, durable=True, auto_delete=False)
        self.bindings = [parse_binding(binding) for binding in bindings]
        self.state = sqlite3.connect(state_file)
        self.state.execute("CREATE TABLE IF NOT EXISTS handled (event_id TEXT PRIMARY KEY)")
        self.duplicates: list[str] = []
        """Ids delivered again and dropped since this subscriber started."""

    def declare(self) -> None:
        """The queue and its bindings: from then on, events wait in it for us."""
        self.connection.ensure_connection(max_retries=5)
        channel = self.connection.default_channel
        self.queue(channel).declare()
        for exchange_name, routing_key in self.bindings:
            exchange = Exchange(exchange_name, type="topic", durable=True)
            exchange(channel).declare()
            self.queue(channel).bind_to(exchange=exchange, routing_key=routing_key)

    def drain(self, handle: Handler, idle_seconds: float | None = 1.0) -> int:
        """Handle what arrives, each event once, until idle that long (None: for ever).

        Returns how many events were new. If `handle` raises, its event is neither recorded nor
        acked: the broker delivers it again.
        """
        self.declare()
        new_events = 0

        def on_message(body: Any, message) -> None:
            nonlocal new_events
            event_id = body.get("id") if isinstance(body, dict) else None
            if not isinstance(event_id, str):
                message.reject()  # not an envelope: no retry can make it one
                return
            with self.state:  # the id commits with the handling, or neither does
                inserted = self.state.execute(
                    "INSERT OR IGNORE INTO handled (event_id) VALUES (?)", (event_id,)
                )
                if inserted.rowcount == 1:
                    handle(body)
                    new_events += 1
                else:
                    self.duplicates.append(event_id)
            message.ack()

        with Consumer(
            self.connection,
            [self.queue],
            callbacks=[on_message],
            accept=["json"],
            on_decode_error=lambda message, error: message.reject(),  # not JSON: never will be
            prefetch_count=20,
        ):
            while True:
                try:
                    self.connection.drain_events(timeout=idle_seconds)
                except TimeoutError:
                    return new_events

    def close(self) -> None:
        self.state.close()
        self.connection.release()


def print_event(event: dict[str, Any]) -> None:
    print(json.dumps(event, ensure_ascii=False), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("amqp_uri")
    parser.add_argument("queue", help="your own queue's name, e.g. hr-office.case-events")
    parser.add_argument("bindings", nargs="+", help="exchange:routing_key, e.g. cases.events:#")
    parser.add_argument("--state", default="subscriber.sqlite", help="the handled ids' file")
    args = parser.parse_args(argv)
    try:
        subscriber = EventSubscriber(args.amqp_uri, args.queue, args.bindings, args.state)
    except ValueError as error:
        parser.error(str(error))
    try:
        subscriber.drain(print_event, idle_seconds=None)
    except KeyboardInterrupt:
        pass
    finally:
        subscriber.close()


if __name__ == "__main__":
    main()
