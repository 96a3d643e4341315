"""A ministry service subscribing to Allo Discri's events with plain kombu (no nameko).

It binds its own durable queue, so events wait for it while it is down, and it remembers the
ids of the events it handled in a SQLite file, so an event delivered twice (Allo Discri
publishes at least once) is handled once, across restarts too.

    python examples/subscriber.py amqp://guest:guest@localhost:5672// hr-office.case-events \\
        cases.events:CaseOpened cases.events:CaseClosed --state hr-office.sqlite
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections.abc import Callable

from kombu import Connection, Consumer, Exchange, Queue


class EventSubscriber:
    def __init__(self, amqp_uri: str, queue: str, bindings: list[str], state_file: str):
        self.connection = Connection(amqp_uri)
        self.queue = Queue(queue, durable=True, auto_delete=False)
        self.bindings = [binding.split(":", 1) for binding in bindings]
        self.seen = sqlite3.connect(state_file)
        self.seen.execute("CREATE TABLE IF NOT EXISTS handled (event_id TEXT PRIMARY KEY)")

    def declare(self) -> None:
        channel = self.connection.default_channel
        self.queue(channel).declare()
        for exchange, routing_key in self.bindings:
            topic = Exchange(exchange, type="topic", durable=True)
            topic(channel).declare()
            self.queue(channel).bind_to(exchange=topic, routing_key=routing_key)

    def drain(self, handle: Callable[[dict], None], idle_seconds: float = 1.0) -> int:
        """Handle what is waiting, each event once; return how many were new."""
        self.declare()
        handled = 0

        def on_message(body: dict, message) -> None:
            nonlocal handled
            with self.seen:  # the id is recorded with the handling, or neither is
                known = self.seen.execute(
                    "SELECT 1 FROM handled WHERE event_id = ?", (body["id"],)
                ).fetchone()
                if not known:
                    handle(body)
                    self.seen.execute("INSERT INTO handled VALUES (?)", (body["id"],))
                    handled += 1
            message.ack()

        with Consumer(self.connection, [self.queue], callbacks=[on_message], accept=["json"]):
            while True:
                try:
                    self.connection.drain_events(timeout=idle_seconds)
                except TimeoutError:
                    return handled

    def close(self) -> None:
        self.seen.close()
        self.connection.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("amqp_uri")
    parser.add_argument("queue")
    parser.add_argument("bindings", nargs="+", help="exchange:routing_key")
    parser.add_argument("--state", default="subscriber.sqlite")
    args = parser.parse_args()
    subscriber = EventSubscriber(args.amqp_uri, args.queue, args.bindings, args.state)
    try:
        while True:
            subscriber.drain(lambda event: print(json.dumps(event, ensure_ascii=False)))
    except KeyboardInterrupt:
        subscriber.close()


if __name__ == "__main__":
    main()
