"""Catch-up subscriptions: durable checkpoints, failures that stop, holes that alarm; leases."""

import pytest

from allodiscri.kernel.events import ANY, PositionGap
from allodiscri.platform.subscriptions import CatchUpSubscription, Checkpoints, Leases
from tests.helpers import new_event


def fill(store, count, stream="case-a", event_type="Noted"):
    for _ in range(count):
        store.append(stream, new_event(event_type), ANY)


def subscription(store, database, handler, **options):
    return CatchUpSubscription("s", store, Checkpoints(database), handler, **options)


def test_a_restarted_subscriber_resumes_after_its_checkpoint(store, database):
    handed = []
    fill(store, 5)
    assert subscription(store, database, lambda e: handed.append(e.position)).run_once() == 5
    fill(store, 3)
    # A new object, as after a process restart: only what came after the checkpoint.
    assert subscription(store, database, lambda e: handed.append(e.position)).run_once() == 3
    assert handed == list(range(1, 9))
    status = Checkpoints(database).status("s")
    assert (status["position"], status["problem"], status["quarantined"]) == (8, None, [])


def test_filters_hand_only_wanted_events_but_move_the_checkpoint_past_the_rest(store, database):
    handed = []
    fill(store, 2, event_type="Wanted")
    fill(store, 3, stream="report-b", event_type="Other")
    fill(store, 1, stream="case-c", event_type="Wanted")
    wanted = subscription(store, database, handed.append, types=frozenset({"Wanted"}))
    assert wanted.run_once() == 3
    assert [e.position for e in handed] == [1, 2, 6]
    assert Checkpoints(database).load("s") == 6
    reports = CatchUpSubscription(
        "r", store, Checkpoints(database), handed.append, stream_types=frozenset({"report"})
    )
    assert reports.run_once() == 3


def test_a_failing_handler_stops_at_its_event_and_resumes_there(store, database):
    fill(store, 4)
    handed = []

    def fails_on_third(event):
        if event.position == 3 and not handed.count(3):
            handed.append(3)
            raise RuntimeError("read model unavailable")
        handed.append(event.position)

    with pytest.raises(RuntimeError):
        subscription(store, database, fails_on_third).run_once()
    status = Checkpoints(database).status("s")
    assert status["position"] == 2
    assert "handler failed at position 3" in status["problem"]
    assert subscription(store, database, fails_on_third).run_once() == 2
    assert handed == [1, 2, 3, 3, 4]
    assert Checkpoints(database).status("s")["problem"] is None


def test_a_hole_in_positions_is_an_alarm_never_skipped(store, database):
    fill(store, 5)
    store.events.delete_one({"position": 3})
    handed = []
    follower = subscription(store, database, lambda e: handed.append(e.position))
    for _ in range(2):
        with pytest.raises(PositionGap):
            follower.run_once()
    assert handed == [1, 2]
    status = Checkpoints(database).status("s")
    assert status["position"] == 2
    assert status["problem"] == ("integrity alarm: global position 3 is missing (next stored is 4)")


def test_the_checkpoint_never_moves_back(database):
    checkpoints = Checkpoints(database)
    checkpoints.save("s", 9)
    checkpoints.save("s", 4)
    assert checkpoints.load("s") == 9
    assert checkpoints.load("unknown") == 0


def test_a_lease_has_one_holder_until_it_expires(database):
    now = [1000.0]
    leases = Leases(database, clock=lambda: now[0])
    assert leases.acquire("relay", "a", ttl=10)
    assert not leases.acquire("relay", "b", ttl=10)
    assert leases.acquire("relay", "a", ttl=10)  # renewal
    now[0] += 11
    assert leases.acquire("relay", "b", ttl=10)
    assert not leases.acquire("relay", "a", ttl=10)
    leases.release("relay", "b")
    assert leases.acquire("relay", "a", ttl=10)


def test_a_poison_event_is_quarantined_after_its_attempts_and_never_dropped(store, database):
    fill(store, 4)
    handed = []

    def poisoned(event):
        if event.position == 2:
            raise ValueError("cannot project this event")
        handed.append(event.position)

    follower = subscription(store, database, poisoned)
    for _ in range(2):
        with pytest.raises(ValueError):
            follower.run_once()
    assert handed == [1] and Checkpoints(database).load("s") == 1
    assert follower.run_once() == 2  # third attempt: quarantined, then the rest
    assert handed == [1, 3, 4]
    status = Checkpoints(database).status("s")
    assert status["position"] == 4 and status["problem"] is None
    [quarantined] = status["quarantined"]
    assert quarantined["position"] == 2 and quarantined["type"] == "Noted"
    assert "cannot project this event" in quarantined["reason"]
