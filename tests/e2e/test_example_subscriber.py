"""The example subscriber sees every case opened exactly once, across its own restart."""

import json
import select
import signal
import subprocess
import sys
from pathlib import Path

from kombu import Connection, Exchange, Producer, Queue

from allodiscri.platform.publishing import AmqpPublisher
from allodiscri.platform.store import event_from_document
from examples.subscriber import EventSubscriber
from tests.helpers import eventually, report

QUEUE = "hr-office.case-events"
SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"


def drain_until(subscriber, handled, done):
    def finished():
        subscriber.drain(handled.append, idle_seconds=0.2)
        return done()

    eventually(finished)


def queue_state(amqp_uri, queue_name):
    """(ready messages, consumers) of a queue, or None while it does not exist.

    Unacked messages count once their consumer is gone: the broker puts them back.
    """
    with Connection(amqp_uri) as connection:
        queue = Queue(queue_name, durable=True)(connection.default_channel)
        try:
            declared = queue.queue_declare(passive=True)
        except connection.channel_errors:
            return None
        return declared.message_count, declared.consumer_count


def test_every_case_opened_is_handled_once_across_a_restart(
    cluster, database, platform_config, tmp_path
):
    amqp_uri, state = platform_config["AMQP_URI"], str(tmp_path / "subscriber.sqlite")
    handled = []

    def subscriber():
        return EventSubscriber(amqp_uri, QUEUE, ["cases.events:CaseOpened"], state)

    first = subscriber()
    first.declare()  # the queue exists before the events: none is missed
    before = {cluster.intake.submit_report(report())["report_id"] for _ in range(3)}
    drain_until(first, handled, lambda: len(handled) >= 3)
    first.close()

    # Down for a while: cases keep opening, and one it handled is delivered again.
    during = {cluster.intake.submit_report(report())["report_id"] for _ in range(2)}
    eventually(lambda: database.events.count_documents({"type": "CaseOpened"}) == 5)
    again = database.events.find_one({"_id": handled[0]["id"]})
    publisher = AmqpPublisher(amqp_uri)
    publisher.publish("cases", event_from_document(again))
    publisher.close()

    second = subscriber()  # a new process would start the same way: only the file remembers
    drain_until(second, handled, lambda: len(handled) >= 5 and second.duplicates)
    assert second.drain(handled.append, idle_seconds=0.5) == 0
    assert second.duplicates == [again["_id"]]
    second.close()

    opened = {e["data"]["case_id"] for e in database.events.find({"type": "CaseOpened"})}
    assert len(handled) == len({event["id"] for event in handled}) == 5
    assert {event["data"]["case_id"] for event in handled} == opened == before | during
    assert queue_state(amqp_uri, QUEUE) == (0, 0)  # everything was acked


def test_what_is_not_an_event_is_rejected_not_redelivered_for_ever(platform_config, tmp_path):
    amqp_uri = platform_config["AMQP_URI"]
    subscriber = EventSubscriber(
        amqp_uri, QUEUE, ["cases.events:CaseOpened"], str(tmp_path / "s.sqlite")
    )
    subscriber.declare()
    exchange = Exchange("cases.events", type="topic", durable=True)
    with Connection(amqp_uri) as connection:
        producer = Producer(connection, exchange=exchange, routing_key="CaseOpened")
        producer.publish({"no": "id"}, serializer="json")
        producer.publish(
            b"\x00binary", content_type="application/octet-stream", content_encoding="binary"
        )
    handled = []
    assert subscriber.drain(handled.append, idle_seconds=0.5) == 0
    subscriber.close()
    assert handled == []
    assert queue_state(amqp_uri, QUEUE) == (0, 0)


def test_the_script_prints_each_case_opened(cluster, platform_config, tmp_path):
    amqp_uri = platform_config["AMQP_URI"]
    command = [
        sys.executable, str(SCRIPT), amqp_uri, QUEUE, "cases.events:CaseOpened",
        "--state", str(tmp_path / "script.sqlite"),
    ]  # fmt: skip
    script = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        eventually(lambda: queue_state(amqp_uri, QUEUE) == (0, 1))  # it is listening
        report_id = cluster.intake.submit_report(report())["report_id"]
        printed, _, _ = select.select([script.stdout], [], [], 20)
        assert printed, "the script printed nothing within 20 s"
        line = script.stdout.readline()
    finally:
        script.send_signal(signal.SIGINT)
        script.wait(timeout=10)
    event = json.loads(line)
    assert (event["type"], event["data"]["case_id"]) == ("CaseOpened", report_id)
    assert script.returncode == 0
