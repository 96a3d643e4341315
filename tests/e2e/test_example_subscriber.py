"""The example subscriber sees every case opened exactly once, across its own restart."""

from allodiscri.publishing import AmqpPublisher
from allodiscri.store import event_from_document
from examples.subscriber import EventSubscriber
from tests.helpers import eventually, report


def test_every_case_opened_is_handled_once_across_a_restart(
    cluster, database, platform_config, tmp_path
):
    state = str(tmp_path / "subscriber.sqlite")
    handled = []

    def subscriber():
        return EventSubscriber(
            platform_config["AMQP_URI"], "hr-office.case-events", ["cases.events:CaseOpened"], state
        )

    first = subscriber()
    first.declare()  # the queue exists before the events: none is missed
    before = {cluster.intake.submit_report(report())["report_id"] for _ in range(3)}
    eventually(lambda: first.drain(handled.append, 0.2) >= 0 and len(handled) >= 3)
    first.close()

    # Down for a while: cases keep opening, and one is published again.
    during = {cluster.intake.submit_report(report())["report_id"] for _ in range(2)}
    eventually(lambda: database.events.count_documents({"type": "CaseOpened"}) == 5)
    again = database.events.find_one({"type": "CaseOpened"})
    publisher = AmqpPublisher(platform_config["AMQP_URI"])
    publisher.publish("cases", event_from_document(again))
    publisher.close()

    second = subscriber()
    eventually(lambda: second.drain(handled.append, 0.2) >= 0 and len(handled) >= 5)
    assert second.drain(handled.append, 0.5) == 0
    second.close()
    opened = {e["data"]["case_id"] for e in database.events.find({"type": "CaseOpened"})}
    assert [event["data"]["case_id"] for event in handled].count(again["data"]["case_id"]) == 1
    assert {event["data"]["case_id"] for event in handled} == opened == before | during
    assert len(handled) == 5
