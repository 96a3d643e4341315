"""The live statistics read model in MongoDB: fed by its catch-up subscription, every event counts
once (redelivered, or cut between its two writes), and a rebuild from the log equals it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

import pytest
from pymongo.collection import Collection
from pymongo.errors import AutoReconnect

from allodiscri.kernel.events import ANY, NewEvent
from allodiscri.platform import rebuild as blue_green
from allodiscri.platform.subscriptions import CatchUpSubscription, Checkpoints
from services.reporting import statistics as adapter
from services.reporting import views
from services.reporting.domain import STATISTICS_TYPES
from tests.helpers import meta
from tests.integration.test_statistics_history import END, START, History
from tests.unit.test_statistics import Log

CALENDAR = adapter.calendar()
MIDDLE = START + (END - START) / 2


@pytest.fixture
def history(store):
    """Forty reports' events with streams named as the services name them, half stored."""
    clock = [START]
    store._clock = lambda: clock[0]
    planned = History(7, 40, START, END, streams="per-id")
    planned.append(store, clock, until=MIDDLE)
    return planned, clock


def live_subscription(store, database) -> CatchUpSubscription:
    return CatchUpSubscription(
        adapter.SUBSCRIPTION,
        store,
        Checkpoints(database),
        lambda event: adapter.apply(database, event, CALENDAR),
        types=STATISTICS_TYPES,
    )


def folded(store) -> tuple[int, dict[str, int]]:
    fold = adapter.fold_log(store)
    return fold.position, dict(fold.counts(CALENDAR))


def test_the_live_read_model_equals_the_fold_and_its_rebuild(store, database, history):
    planned, clock = history
    live = live_subscription(store, database)
    assert live.run_once() > 100
    assert adapter.read_counts(database) == folded(store)
    before = adapter.read_counts(database)

    report = adapter.rebuild(database[adapter.COUNTERS], store, CALENDAR)
    assert report["identical"] is True and report["position"] == before[0]
    assert adapter.read_counts(database) == before

    planned.append(store, clock)  # the rest of the history, on top of the rebuilt model
    live.run_once()
    assert adapter.read_counts(database) == folded(store)
    assert adapter.rebuild(database[adapter.COUNTERS], store, CALENDAR)["identical"] is True
    position, counts = adapter.read_counts(database)
    view = views.detailed("SG", position, counts, END.date(), "cell-manager")
    assert view["cases"] > 20 and view["tables"]["outcome"]["total"] > 5


def test_a_redelivered_event_counts_once(store, database, history):
    live_subscription(store, database).run_once()
    expected = adapter.read_counts(database)
    for event in store.read_all(1, types=STATISTICS_TYPES):
        assert adapter.apply(database, event, CALENDAR) is False
    assert adapter.read_counts(database) == expected


def test_an_event_cut_between_its_two_writes_counts_once_when_handed_again(
    store, database, history, monkeypatch
):
    events = list(store.read_all(1, types=STATISTICS_TYPES))
    closing = next(i for i, event in enumerate(events) if event.type == "CaseClosed")
    for event in events[:closing]:
        adapter.apply(database, event, CALENDAR)
    real_update = Collection.update_one

    def lost_on_the_way(collection, guard, *args, **kwargs):
        if collection.name == adapter.COUNTERS:
            raise AutoReconnect("connection lost after the entity was written")
        return real_update(collection, guard, *args, **kwargs)

    monkeypatch.setattr(Collection, "update_one", lost_on_the_way)
    with pytest.raises(AutoReconnect):
        adapter.apply(database, events[closing], CALENDAR)
    monkeypatch.setattr(Collection, "update_one", real_update)
    entity = database[adapter.ENTITIES].find_one({"facts.status": "closed"})
    assert entity["position"] == events[closing].position and entity["pending"]

    for event in events[closing:]:
        assert adapter.apply(database, event, CALENDAR) is True
    assert adapter.read_counts(database) == folded(store)


def test_a_rebuild_repairs_a_wrong_read_model_and_says_it_was_wrong(store, database, history):
    live_subscription(store, database).run_once()
    database[adapter.COUNTERS].update_one(
        {"_id": adapter.LIVE}, {"$inc": {"counts.SG.cases.channel.web": 3}}
    )
    assert adapter.read_counts(database) != folded(store)
    assert adapter.rebuild(database[adapter.COUNTERS], store, CALENDAR)["identical"] is False
    assert adapter.read_counts(database) == folded(store)


def test_a_live_worker_waits_while_a_rebuild_holds_the_read_model(store, database, history):
    planned, clock = history
    live_subscription(store, database).run_once()
    planned.append(store, clock, until=MIDDLE + (END - MIDDLE) / 4)
    counters = database[adapter.COUNTERS]
    position = adapter.read_counts(database)[0]
    assert adapter._freeze(counters, "rebuild-under-test")
    worker = threading.Thread(target=live_subscription(store, database).run_once)
    worker.start()
    time.sleep(0.3)
    assert worker.is_alive() and adapter.read_counts(database)[0] == position
    counters.update_one({"_id": adapter.LIVE}, {"$set": {"frozen_by": None}})
    worker.join(timeout=10)
    assert adapter.read_counts(database) == folded(store)


def test_the_platform_s_blue_green_rebuild_agrees_with_the_live_model(store, database, history):
    """`allodiscri projections diff|rebuild reporting-statistics`, once the projection is
    registered in services/projections.py, folds event by event through the same code."""
    live_subscription(store, database).run_once()
    report = blue_green.rebuild(adapter.PROJECTION, store, database, switch=False, pause_grace=0)
    assert report.events > 100 and report.identical, report.differences


def test_a_worker_frozen_between_its_two_writes_counts_its_event_if_the_rebuild_fails(
    store, database, history, monkeypatch
):
    events = list(store.read_all(1, types=STATISTICS_TYPES))
    for event in events[:-1]:
        adapter.apply(database, event, CALENDAR)
    counters = database[adapter.COUNTERS]
    write_entity = adapter._apply_to_entity

    def then_a_rebuild_freezes(*args):
        change = write_entity(*args)
        assert adapter._freeze(counters, "rebuild-that-will-fail")
        return change

    monkeypatch.setattr(adapter, "_apply_to_entity", then_a_rebuild_freezes)
    applied = []
    worker = threading.Thread(
        target=lambda: applied.append(adapter.apply(database, events[-1], CALENDAR))
    )
    worker.start()
    time.sleep(0.3)
    assert worker.is_alive() and adapter.read_counts(database)[0] < events[-1].position
    counters.update_one({"_id": adapter.LIVE}, {"$set": {"frozen_by": None}})  # it failed
    worker.join(timeout=10)
    assert applied == [True] and adapter.read_counts(database) == folded(store)


def test_a_rebuild_that_lost_its_freeze_gives_up_and_leaves_the_read_model_as_it_was(
    store, database, history, monkeypatch
):
    """A rebuild whose freeze lapsed and was taken by another rebuild must not switch the read
    model under the other: it fails saying so, drops what it wrote, and keeps the other's freeze."""
    live_subscription(store, database).run_once()
    before = adapter.read_counts(database)
    counters = database[adapter.COUNTERS]
    fold_log = adapter.fold_log
    folds = []

    def then_another_rebuild_takes_over(*args, **kwargs):
        folds.append(fold_log(*args, **kwargs))
        if len(folds) == 2:  # folded to the head, about to switch
            counters.update_one(
                {"_id": adapter.LIVE},
                {"$set": {"frozen_by": "rebuild-other", "frozen_until": time.time() + 600}},
            )
        return folds[-1]

    monkeypatch.setattr(adapter, "fold_log", then_another_rebuild_takes_over)
    with pytest.raises(adapter.RebuildRunning, match="lost its freeze of the statistics"):
        adapter.rebuild(counters, store, CALENDAR)
    monkeypatch.setattr(adapter, "fold_log", fold_log)

    live = counters.find_one({"_id": adapter.LIVE})
    assert (live["frozen_by"], live["entities"]) == ("rebuild-other", "statistics_entities")
    collections = database.list_collection_names()
    assert "statistics_entities" in collections
    assert [name for name in collections if name.startswith("statistics_entities_")] == []
    counters.update_one({"_id": adapter.LIVE}, {"$set": {"frozen_by": None}})
    assert adapter.read_counts(database) == before


def test_the_projection_counts_deadlines_with_the_platform_s_closed_days(database, monkeypatch):
    """`allodiscri projections` applies events with the calendar of CLOSED_DAYS: a report of
    Monday 2 March 2026 must be acknowledged 7 working days later, on the 11th, and answered 3
    months after that; both one day later when the 3rd is closed."""
    log = Log()
    log.report(date(2026, 3, 2))
    monkeypatch.setenv("CLOSED_DAYS", "2026-03-03")
    for event in log.events:
        adapter.project(database, event)
    position, counts = adapter.read_counts(database)
    assert position == 2
    due = {key: n for key, n in counts.items() if ".compliance." in key}
    assert due == {
        "SG.compliance.acknowledgement.due.2026-03-12": 1,
        "SG.compliance.feedback.due.2026-06-12": 1,
    }


def test_figures_as_of_an_instant_leave_out_what_was_recorded_after_it(store):
    """A report of 2 March and one of 9 March: the figures as of 5 March hold the first only."""
    clock = [datetime(2026, 3, 2, 9, tzinfo=UTC)]
    store._clock = lambda: clock[0]
    for day, channel in ((2, "web"), (9, "phone")):
        clock[0] = datetime(2026, 3, day, 9, tzinfo=UTC)
        report_id = f"6f1c5a2e-1111-4222-8333-44445555666{day}"
        data = {
            "report_id": report_id,
            "platform": "SG",
            "channel": channel,
            "received_at": clock[0].isoformat(),
            "declarant": {"role": "victim", "perimeter": None, "status": None},
            "facts": {"kinds": ["violence"], "criteria": []},
        }
        store.append(f"report-{report_id}", NewEvent("ReportReceived", data, meta()), ANY)
    fold = adapter.as_of(store, datetime(2026, 3, 5, 12, tzinfo=UTC))
    assert (fold.position, fold.events) == (1, 1)
    reports = {k: n for k, n in fold.counts(CALENDAR).items() if k.startswith("SG.reports.")}
    assert reports == {
        "SG.reports.total": 1,
        "SG.reports.channel.web": 1,
        "SG.reports.kind.violence": 1,
    }
