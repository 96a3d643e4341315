"""What other ministry services see: the envelopes on the exchanges, and robust consumers."""

import json
import uuid
from datetime import UTC, datetime

from kombu import Connection, Exchange, Queue
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_container

from allodiscri.kernel.hashing import document_hash
from allodiscri.platform.publishing import AmqpPublisher
from allodiscri.platform.store import event_from_document
from services.cases.service import CasesService
from tests.helpers import drain, eventually, meta, report

ENVELOPE_FIELDS = {
    "envelope_version", "id", "type", "schema_version", "stream", "stream_type", "version",
    "position", "recorded_at", "data", "meta", "prev_hash", "hash",
}  # fmt: skip


def test_a_plain_kombu_consumer_receives_each_case_opened_with_the_envelope(
    cluster, platform_config, database
):
    with Connection(platform_config["AMQP_URI"]) as connection:
        queue = Queue(
            "ministry-hr.case-events",
            exchange=Exchange("cases.events", type="topic", durable=True),
            routing_key="CaseOpened",
            durable=True,
        )
        queue(connection.default_channel).declare()
        report_ids = {cluster.intake.submit_report(report())["report_id"] for _ in range(3)}
        received = []
        eventually(lambda: received.extend(drain(connection, queue, 0.2)) or len(received) >= 3)
    bodies = [body for body, _ in received]
    assert {body["data"]["case_id"] for body in bodies} == report_ids
    for body, message in received:
        assert set(body) == ENVELOPE_FIELDS
        assert body["type"] == "CaseOpened" and body["stream"] == f"case-{body['data']['case_id']}"
        assert message.properties["message_id"] == body["id"]
        assert message.delivery_info["routing_key"] == "CaseOpened"
        stored = database.events.find_one({"_id": body["id"]})
        assert document_hash(stored, body["prev_hash"]) == body["hash"] == stored["hash"]


def test_a_report_delivered_twice_opens_its_case_once(platform, platform_config, database):
    # A report known only to the broker, so that only the broker path can open its case.
    stored = _report_received_document()
    cases = get_container(platform, CasesService)
    handled = []

    def both_handled(worker_ctx, result, exc_info):
        if worker_ctx.args[0]["id"] == stored["_id"]:
            handled.append(exc_info)
        return len(handled) == 2

    publisher = AmqpPublisher(platform_config["AMQP_URI"])
    with entrypoint_waiter(cases, "on_report_received", callback=both_handled, timeout=20):
        publisher.publish("intake", event_from_document(stored))
        publisher.publish("intake", event_from_document(stored))
    publisher.close()
    assert handled == [None, None]
    case_events = list(database.events.find({"stream": f"case-{stored['data']['report_id']}"}))
    assert [event["type"] for event in case_events] == ["CaseOpened"]
    assert case_events[0]["meta"]["causation_id"] == stored["_id"]


def _report_received_document():
    report_id = str(uuid.uuid4())
    data = {**report(), "report_id": report_id, "received_at": "2026-11-28T09:00:00+00:00"}
    return {
        "_id": str(uuid.uuid4()),
        "stream": f"report-{report_id}",
        "stream_type": "report",
        "version": 1,
        "position": 1_000_000,
        "type": "ReportReceived",
        "schema_version": 1,
        "data": data,
        "meta": meta().to_dict(),
        "recorded_at": datetime.now(UTC),
        "prev_hash": "0" * 64,
        "hash": "0" * 64,
    }


def test_a_poison_message_goes_to_the_dead_letter_queue(cluster, platform_config, database):
    queue_name = "evt-intake-ReportReceived--cases.on_report_received"
    with Connection(platform_config["AMQP_URI"]) as connection:
        producer = connection.Producer()
        producer.publish(
            {"not": "an envelope"},
            exchange=Exchange("intake.events", type="topic", durable=True),
            routing_key="ReportReceived",
            serializer="json",
            message_id="poison-1",
        )
        dead_letters = Queue(f"{queue_name}.dead-letter", no_declare=True)
        letters = eventually(lambda: drain(connection, dead_letters, timeout=0.2))
    assert [json.loads(message.body) for _, message in letters] == [{"not": "an envelope"}]
    assert database.events.count_documents({}) == 0
