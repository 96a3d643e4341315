"""Catch-up subscriptions: durable checkpoints, failures that stop, holes that alarm; leases."""

import logging
import time

import pytest
from greenlet import GreenletExit

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


def test_a_first_event_that_fails_is_handed_again_from_the_start(store, database):
    """No checkpoint saved yet: the failure is recorded, and the retry starts at position 1."""
    fill(store, 2)
    handed = []

    def fails_once_on_first(event):
        handed.append(event.position)
        if handed == [1]:
            raise RuntimeError("read model unavailable")

    before = time.time()
    with pytest.raises(RuntimeError):
        subscription(store, database, fails_once_on_first).run_once()
    status = Checkpoints(database).status("s")
    assert status["position"] == 0
    assert before <= status["updated_at"] <= time.time()
    assert status["problem"] == (
        "handler failed at position 1 (Noted): RuntimeError('read model unavailable')"
    )
    assert subscription(store, database, fails_once_on_first).run_once() == 2
    assert handed == [1, 1, 2]


def test_a_poison_first_event_is_quarantined_with_what_identifies_it(store, database):
    fill(store, 2)
    poison_id = next(store.read_all()).id

    def poisoned(event):
        if event.position == 1:
            raise ValueError("cannot project this event")

    follower = subscription(store, database, poisoned)
    for _ in range(2):
        with pytest.raises(ValueError):
            follower.run_once()
    before = time.time()
    assert follower.run_once() == 1
    [quarantined] = Checkpoints(database).status("s")["quarantined"]
    assert before <= quarantined.pop("at") <= time.time()
    assert quarantined == {
        "subscription": "s",
        "position": 1,
        "event_id": poison_id,
        "type": "Noted",
        "reason": "handler failed at position 1 (Noted): ValueError('cannot project this event')",
    }


def test_attempts_are_counted_per_event(store, database):
    """Two failures at one event, then two at the next: neither is quarantined yet."""
    fill(store, 3)
    failures = {2: 2, 3: 2}

    def flaky(event):
        if failures.get(event.position, 0):
            failures[event.position] -= 1
            raise RuntimeError(f"failed at {event.position}")

    follower = subscription(store, database, flaky)
    for position in (2, 2, 3, 3):
        with pytest.raises(RuntimeError, match=f"failed at {position}"):
            follower.run_once()
    assert follower.run_once() == 1
    status = Checkpoints(database).status("s")
    assert (status["position"], status["quarantined"]) == (3, [])


def test_quarantined_events_are_listed_in_log_order(store, database):
    fill(store, 4)

    def poisoned(event):
        if event.position in (2, 4):
            raise ValueError(f"poison at {event.position}")

    follower = subscription(store, database, poisoned, max_attempts=1)
    assert follower.run_once() == 2
    status = Checkpoints(database).status("s")
    assert [entry["position"] for entry in status["quarantined"]] == [2, 4]
    assert status["position"] == 4


def test_one_subscriber_status_shows_none_of_another_s_quarantine(store, database):
    fill(store, 1)

    def poisoned(event):
        raise ValueError("poison")

    subscription(store, database, poisoned, max_attempts=1).run_once()
    assert Checkpoints(database).status("other")["quarantined"] == []


def test_a_subscriber_killed_mid_run_resumes_after_the_last_event_it_handled(store, database):
    """Killing the service's thread raises GreenletExit in the handler, which no `except
    Exception` sees: the checkpoint saved after each event is all there is."""
    fill(store, 4)
    handed = []

    def killed_at_third(event):
        if event.position == 3 and 3 not in handed:
            handed.append(3)
            raise GreenletExit
        handed.append(event.position)

    with pytest.raises(GreenletExit):
        subscription(store, database, killed_at_third).run_once()
    assert Checkpoints(database).load("s") == 2
    assert subscription(store, database, killed_at_third).run_once() == 2
    assert handed == [1, 2, 3, 3, 4]


def test_a_stopping_service_leaves_the_rest_for_later(store, database):
    """`keep_going` is asked before each event: once it says no, nothing more is handed."""
    fill(store, 4)
    handed = []
    follower = subscription(store, database, lambda e: handed.append(e.position))
    assert follower.run_once(keep_going=lambda: len(handed) < 2) == 2
    assert Checkpoints(database).load("s") == 2
    assert follower.run_once() == 2
    assert handed == [1, 2, 3, 4]


def test_unwanted_events_before_a_failure_or_a_hole_are_passed_for_good(store, database):
    """What the subscriber does not want moves its checkpoint even when the run stops."""
    fill(store, 2, event_type="Other")
    fill(store, 1, event_type="Wanted")

    def fails(event):
        raise RuntimeError("read model unavailable")

    wanted = frozenset({"Wanted"})
    with pytest.raises(RuntimeError):
        subscription(store, database, fails, types=wanted).run_once()
    assert Checkpoints(database).load("s") == 2

    fill(store, 2, event_type="Other")  # positions 4 and 5
    store.events.delete_one({"position": 5})
    fill(store, 1, event_type="Wanted")
    follower = CatchUpSubscription(
        "t", store, Checkpoints(database), lambda e: None, types=frozenset({"Nothing"})
    )
    with pytest.raises(PositionGap):
        follower.run_once()
    assert Checkpoints(database).load("t") == 4


def test_a_hole_before_anything_was_handled_is_still_reported(store, database):
    fill(store, 2)
    store.events.delete_one({"position": 1})
    with pytest.raises(PositionGap):
        subscription(store, database, lambda e: None).run_once()
    status = Checkpoints(database).status("s")
    assert status["position"] == 0
    assert status["problem"] == "integrity alarm: global position 1 is missing (next stored is 2)"


def test_the_alarm_and_the_failures_are_logged_for_the_operators(store, database, caplog):
    fill(store, 4)
    store.events.delete_one({"position": 3})

    def fails_on_second(event):
        if event.position == 2:
            raise RuntimeError("boom")

    follower = subscription(store, database, fails_on_second, max_attempts=2)
    with caplog.at_level(logging.ERROR, logger="allodiscri.platform.subscriptions"):
        with pytest.raises(RuntimeError):
            follower.run_once()
        with pytest.raises(PositionGap):
            follower.run_once()
    failed, failed_again, quarantined, alarm = caplog.records
    failure = "handler failed at position 2 (Noted): RuntimeError('boom')"
    assert (failed.getMessage(), failed.subscription, failed.attempts) == (failure, "s", 1)
    assert "RuntimeError: boom" in failed.trace
    assert (failed_again.getMessage(), failed_again.attempts) == (failure, 2)
    assert (quarantined.getMessage(), quarantined.subscription) == (
        f"event quarantined: {failure}",
        "s",
    )
    assert alarm.getMessage() == "integrity alarm: global position 3 is missing (next stored is 4)"
    assert (alarm.subscription, alarm.alarm) == ("s", "position-gap")


def test_checkpoints_say_when_they_last_moved(database):
    """`projections status` calls a subscriber stuck from this time."""
    checkpoints = Checkpoints(database)
    before = time.time()
    checkpoints.save("s", 1)
    assert before <= checkpoints.status("s")["updated_at"] <= time.time()
    checkpoints.report_problem("t", "integrity alarm")
    assert before <= checkpoints.status("t")["updated_at"] <= time.time()
    assert checkpoints.status("unknown") == {
        "name": "unknown",
        "position": 0,
        "updated_at": None,
        "problem": None,
        "quarantined": [],
    }


def test_every_subscriber_with_a_checkpoint_is_named_in_order(database):
    checkpoints = Checkpoints(database)
    for name in ("relay", "cases-views", "statistics"):
        checkpoints.save(name, 1)
    checkpoints.report_problem("broken", "integrity alarm")
    assert checkpoints.names() == ["broken", "cases-views", "relay", "statistics"]


def test_a_lease_is_held_until_the_instant_it_expires(database):
    now = [1000.0]
    leases = Leases(database, clock=lambda: now[0])
    assert leases.acquire("relay", "a", ttl=10)
    now[0] = 1010.0
    assert not leases.acquire("relay", "b", ttl=10)
    now[0] = 1010.5
    assert leases.acquire("relay", "b", ttl=10)
    now[0] = 1020.0  # b renewed it at 1010.5: held until 1020.5
    assert not leases.acquire("relay", "a", ttl=10)


def test_a_lease_is_released_only_by_its_holder(database):
    now = [1000.0]
    leases = Leases(database, clock=lambda: now[0])
    assert leases.acquire("relay", "a", ttl=10)
    leases.release("relay", "b")
    assert not leases.acquire("relay", "b", ttl=10)


def test_a_rebuild_takes_the_lease_whoever_holds_it(database):
    """The live subscriber then cannot renew it until the rebuild is over."""
    now = [1000.0]
    leases = Leases(database, clock=lambda: now[0])
    leases.take("cases-views", "rebuild", ttl=60)  # nobody held it
    assert not leases.acquire("cases-views", "live", ttl=10)
    leases.release("cases-views", "rebuild")
    assert leases.acquire("cases-views", "live", ttl=10)
    leases.take("cases-views", "rebuild", ttl=60)  # taken from the live holder
    now[0] = 1050.0
    assert not leases.acquire("cases-views", "live", ttl=10)
    now[0] = 1060.5
    assert leases.acquire("cases-views", "live", ttl=10)


def test_each_subscriber_counts_its_own_failures(store, database):
    """Two subscribers stuck on the same event: one's attempts never hasten the other's
    quarantine."""
    fill(store, 1)

    def fails(event):
        raise RuntimeError("read model unavailable")

    first, second = (
        CatchUpSubscription(name, store, Checkpoints(database), fails) for name in ("a", "b")
    )
    for _ in range(2):
        with pytest.raises(RuntimeError):
            first.run_once()
    with pytest.raises(RuntimeError):
        second.run_once()
    assert Checkpoints(database).status("b")["quarantined"] == []


def test_quarantining_an_event_again_keeps_one_entry(store, database):
    """A rerun after a crash between the quarantine and the checkpoint quarantines it again."""
    fill(store, 1)
    event = next(store.read_all())
    checkpoints = Checkpoints(database)
    checkpoints.quarantine("s", event, "first time")
    checkpoints.quarantine("s", event, "after a crash")
    [entry] = checkpoints.status("s")["quarantined"]
    assert entry["reason"] == "first time"
