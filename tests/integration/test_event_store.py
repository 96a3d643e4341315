"""The event store's contract, against a real MongoDB-wire server."""

from datetime import UTC, datetime, timedelta
from operator import itemgetter

import pytest
from pymongo import monitoring
from pymongo.errors import DuplicateKeyError

from allodiscri.kernel.events import (
    ANY,
    NO_STREAM,
    EventIdConflict,
    EventStoreError,
    NewEvent,
    PositionGap,
    WrongExpectedVersion,
)
from allodiscri.kernel.hashing import GENESIS_HASH, document_hash
from allodiscri.platform.mongo import connect
from allodiscri.platform.store import EventStore, _lost_the_position_race
from tests.helpers import meta, new_event


def test_appends_take_dense_versions_and_positions(store):
    assert store.append("case-a", new_event(), NO_STREAM).version == 1
    assert store.append("case-b", new_event(), NO_STREAM).position == 2
    result = store.append("case-a", new_event(), 1)
    assert (result.version, result.position) == (2, 3)
    assert [(e.stream, e.version, e.position) for e in store.read_all()] == [
        ("case-a", 1, 1),
        ("case-b", 1, 2),
        ("case-a", 2, 3),
    ]


def test_each_stored_event_carries_the_documented_fields_and_chains(store):
    store.append("case-a", new_event(), NO_STREAM)
    store.append("case-a", new_event(), 1)
    documents = list(store.events.find().sort("position"))
    assert set(documents[0]) == {
        "_id", "stream", "stream_type", "version", "position", "type", "schema_version",
        "data", "meta", "recorded_at", "prev_hash", "hash",
    }  # fmt: skip
    assert set(documents[0]["meta"]) == {
        "actor_id", "actor_role", "platform", "service", "correlation_id", "causation_id",
    }  # fmt: skip
    assert documents[0]["prev_hash"] == GENESIS_HASH
    assert documents[1]["prev_hash"] == documents[0]["hash"]
    for document in documents:
        assert document_hash(document, document["prev_hash"]) == document["hash"]


def test_an_appended_event_id_again_returns_the_first_result_and_stores_nothing(store):
    event = new_event()
    first = store.append("case-a", event, NO_STREAM)
    store.append("case-a", new_event(), 1)
    assert store.append("case-a", event, NO_STREAM) == first
    assert store.append("case-a", event, 1) == first
    assert store.append("case-a", event, ANY) == first
    # A fresh store (another process) has no cache and must answer the same.
    assert EventStore(store.events.database).append("case-a", event, NO_STREAM) == first
    assert store.events.count_documents({}) == 2


def test_an_event_id_reused_for_other_content_is_refused(store):
    event = new_event()
    store.append("case-a", event, NO_STREAM)
    with pytest.raises(EventIdConflict):
        store.append("case-b", event, NO_STREAM)
    other = NewEvent(type=event.type, data={"note": "changed"}, meta=event.meta, id=event.id)
    with pytest.raises(EventIdConflict):
        store.append("case-a", other, 1)
    assert store.events.count_documents({}) == 1


def test_expected_version_rules(store):
    store.append("case-a", new_event(), NO_STREAM)
    with pytest.raises(WrongExpectedVersion) as conflict:
        store.append("case-a", new_event(), NO_STREAM)
    assert (conflict.value.expected, conflict.value.actual) == (NO_STREAM, 1)
    with pytest.raises(WrongExpectedVersion) as conflict:
        store.append("case-a", new_event(), 5)
    assert (conflict.value.expected, conflict.value.actual) == (5, 1)
    with pytest.raises(WrongExpectedVersion) as conflict:
        store.append("case-new", new_event(), 1)
    assert conflict.value.actual is None
    assert "actual no stream" in str(conflict.value)
    assert store.append("case-a", new_event(), ANY).version == 2
    assert store.append("case-new", new_event(), ANY).version == 1
    assert store.events.count_documents({}) == 3


def test_a_stale_writer_gets_a_conflict_not_a_lost_update(store):
    other_process = EventStore(store.events.database)
    store.append("case-a", new_event(), NO_STREAM)
    assert other_process.append("case-a", new_event(), 1).version == 2
    with pytest.raises(WrongExpectedVersion) as conflict:
        store.append("case-a", new_event(), 1)
    assert conflict.value.actual == 2
    # Its cached head is stale too; the next append still lands at the true head.
    assert store.append("case-b", new_event(), NO_STREAM).position == 3


@pytest.mark.parametrize("bad", [0, -1, True, "1", None, 1.0])
def test_invalid_expected_versions_and_stream_names_are_refused(store, bad):
    with pytest.raises(ValueError):
        store.append("case-a", new_event(), bad)
    with pytest.raises(ValueError, match="'<type>-<id>'"):
        store.append("nostreamtype", new_event(), NO_STREAM)
    assert store.events.count_documents({}) == 0


def test_read_stream_ranges_and_as_of(database):
    moments = iter(datetime(2026, 3, day, 12, tzinfo=UTC) for day in range(1, 10))
    store = EventStore(database, clock=lambda: next(moments))
    store.ensure_indexes()
    for expected in [NO_STREAM, 1, 2, 3]:
        store.append("case-a", new_event(), expected)
        store.append("case-b", new_event(), ANY)
    versions = [e.version for e in store.read_stream("case-a", from_version=2, to_version=3)]
    assert versions == [2, 3]
    # case-a events were recorded on 1, 3, 5, 7 March; as of 5 March 23:00, three of them.
    as_of = datetime(2026, 3, 5, 23, tzinfo=UTC)
    assert [e.version for e in store.read_stream("case-a", as_of=as_of)] == [1, 2, 3]
    naive_utc = as_of.replace(tzinfo=None)
    assert len(list(store.read_stream("case-a", as_of=naive_utc))) == 3
    assert list(store.read_stream("case-unknown")) == []


def test_recorded_times_never_go_back_along_positions(database):
    moments = iter([datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)])
    store = EventStore(database, clock=lambda: next(moments))
    store.append("case-a", new_event(), NO_STREAM)
    store.append("case-b", new_event(), NO_STREAM)
    first, second = store.read_all()
    assert second.recorded_at == first.recorded_at


def test_read_all_filters_and_reads_in_windows(store):
    for index in range(25):
        stream = f"case-{index % 3}" if index % 2 else f"report-{index}"
        event_type = "Odd" if index % 2 else "Even"
        store.append(stream, NewEvent(event_type, {"i": index}, meta()), ANY)
    everything = list(store.read_all(batch_size=4))
    assert [e.position for e in everything] == list(range(1, 26))
    assert [e.data["i"] for e in store.read_all(10, batch_size=3)] == list(range(9, 25))
    odd = list(store.read_all(types={"Odd"}, batch_size=4))
    assert [e.data["i"] for e in odd] == list(range(1, 25, 2))
    reports = list(store.read_all(stream_types={"report"}, batch_size=7))
    assert {e.stream_type for e in reports} == {"report"} and len(reports) == 13
    assert list(store.read_all(5, to_position=7)) == everything[4:7]


def test_read_all_raises_on_a_hole_instead_of_skipping_it(store):
    for _ in range(6):
        store.append("case-a", new_event(), ANY)
    store.events.delete_one({"position": 3})
    with pytest.raises(PositionGap) as gap:
        list(store.read_all(batch_size=10))
    assert (gap.value.expected, gap.value.found) == (3, 4)
    with pytest.raises(PositionGap):
        list(store.read_all(batch_size=2))  # the hole ends a window


def test_the_store_rereads_the_head_when_the_log_moved(store):
    store.append("case-a", new_event(), NO_STREAM)
    other = EventStore(store.events.database)
    for _ in range(3):
        other.append("case-b", new_event(), ANY)
    assert store.append("case-a", new_event(), 1).position == 5
    assert store.head_position() == 5
    assert store.stream_version("case-b") == 3


def test_upcaster_applies_on_every_read(database):
    store = EventStore(database, upcaster=lambda e: e.__class__(**{**e.__dict__, "data": {}}))
    store.append("case-a", new_event(), NO_STREAM)
    assert next(store.read_stream("case-a")).data == {}
    assert next(store.read_all()).data == {}


def test_times_are_utc_aware_when_read(store):
    store.append("case-a", new_event(), NO_STREAM)
    event = next(store.read_all())
    assert event.recorded_at.utcoffset() == timedelta(0)


def log_of(store, count):
    for _ in range(count):
        store.append("case-a", new_event(), ANY)


@pytest.mark.parametrize(
    "hole, batch_size",
    [
        (3, 3),  # the last position of the first window [1, 3]
        (6, 3),  # the last position of the second window [4, 6]
        (4, 3),  # the first position of the second window
        (1, 3),  # the very first position of the log
        (5, 3),  # the middle of the second window
        (5, 10),  # the middle of a window larger than the log
    ],
)
def test_read_all_reports_a_hole_wherever_it_falls_in_a_window(store, hole, batch_size):
    """A hole is an integrity alarm at any offset in a window, the last one included: a window
    that ends early must not let the next one start past the hole."""
    log_of(store, 9)
    store.events.delete_one({"position": hole})
    with pytest.raises(PositionGap) as gap:
        list(store.read_all(batch_size=batch_size))
    assert (gap.value.expected, gap.value.found) == (hole, hole + 1)


def test_a_hole_spanning_two_windows_names_the_first_missing_and_the_next_stored(store):
    """The alarm says where the hole starts and where the log resumes, across windows."""
    log_of(store, 9)
    store.events.delete_many({"position": {"$in": [3, 4]}})
    with pytest.raises(PositionGap) as gap:
        list(store.read_all(batch_size=3))
    assert (gap.value.expected, gap.value.found) == (3, 5)


def test_read_all_yields_every_event_before_a_hole_at_the_end_of_a_window(store):
    """Events before the hole are handed out, then the read stops: it never goes past it."""
    log_of(store, 6)
    store.events.delete_one({"position": 3})
    seen = []
    with pytest.raises(PositionGap):
        for event in store.read_all(batch_size=3):
            seen.append(event.position)
    assert seen == [1, 2]


def test_read_all_from_a_position_inside_a_window_checks_from_there(store):
    """A catch-up reader resuming at a hole is stopped at once; one resuming past it is not."""
    log_of(store, 6)
    store.events.delete_one({"position": 4})
    with pytest.raises(PositionGap) as gap:
        list(store.read_all(4, batch_size=3))
    assert (gap.value.expected, gap.value.found) == (4, 5)
    assert [e.position for e in store.read_all(5, batch_size=3)] == [5, 6]


@pytest.mark.parametrize("start", [0, -3])
def test_read_all_from_zero_or_below_reads_from_the_first_position(store, start):
    """Positions start at 1: a checkpoint of 0 means "from the beginning", not a hole."""
    log_of(store, 3)
    assert [e.position for e in store.read_all(start, batch_size=2)] == [1, 2, 3]


def day(number, hour=12, millisecond=0):
    return datetime(2026, 3, number, hour, tzinfo=UTC) + timedelta(milliseconds=millisecond)


@pytest.fixture
def dated_store(database):
    """Five events recorded on 1, 2, 2, 4 and 5 March at noon (two at the same instant)."""
    moments = iter([day(1), day(2), day(2), day(4), day(5)])
    store = EventStore(database, clock=lambda: next(moments))
    store.ensure_indexes()
    for index in range(5):
        actor = "listener-1" if index % 2 == 0 else "listener-2"
        store.append(
            f"case-{index}",
            NewEvent("Noted", {"case_id": "c-1", "i": index}, meta(actor_id=actor)),
            NO_STREAM,
        )
    return store


@pytest.mark.parametrize(
    "moment, position",
    [
        (day(1, millisecond=-1), 0),  # before the first event: nothing
        (day(1), 1),  # exactly at an event's time: that event is included
        (day(1, millisecond=1), 1),
        (day(2, millisecond=-1), 1),
        (day(2), 3),  # two events at one instant: both
        (day(4), 4),
        (day(5), 5),  # exactly the head's time
        (day(9), 5),  # after the head
        (day(1).replace(tzinfo=None), 1),  # a naive time is UTC
        (day(1) + timedelta(microseconds=999), 1),  # finer than BSON's milliseconds
    ],
)
def test_position_at_is_the_last_position_recorded_at_or_before_the_moment(
    dated_store, moment, position
):
    """ "As of" instants are inclusive and exact to the millisecond, at both ends of the log."""
    assert dated_store.position_at(moment) == position


def test_position_at_on_an_empty_log_is_zero(store):
    assert store.position_at(day(1)) == 0


def test_position_at_raises_on_a_hole_instead_of_guessing(dated_store):
    """The binary search lands on the hole: an alarm, not a wrong "as of" answer."""
    dated_store.events.delete_one({"position": 3})
    with pytest.raises(PositionGap) as gap:
        dated_store.position_at(day(5))
    assert (gap.value.expected, gap.value.found) == (3, 4)


def test_read_by_actor_includes_the_events_exactly_at_since_and_until(dated_store):
    """An audit trail "from X to Y" covers what was done at X and at Y, nothing outside."""
    trail = dated_store.read_by_actor
    assert [e.position for e in trail("listener-1")] == [1, 3, 5]
    assert [e.position for e in trail("listener-1", since=day(2), until=day(5))] == [3, 5]
    assert [e.position for e in trail("listener-1", since=day(2, millisecond=1))] == [5]
    assert [e.position for e in trail("listener-1", until=day(5, millisecond=-1))] == [1, 3]
    assert [e.position for e in trail("listener-2", since=day(2), until=day(2))] == [2]


def test_read_related_as_of_includes_the_events_recorded_at_that_instant(dated_store):
    """A case replayed "as of" an instant shows what was recorded at that very instant."""
    assert [e.position for e in dated_store.read_related(case_id="c-1")] == [1, 2, 3, 4, 5]
    assert [e.position for e in dated_store.read_related(day(4), case_id="c-1")] == [1, 2, 3, 4]
    assert [
        e.position for e in dated_store.read_related(day(1, millisecond=-1), case_id="c-1")
    ] == []


def test_last_events_gives_the_latest_event_of_each_matching_stream(store):
    """The current state of each referral of a case is its latest event, even when that event
    no longer carries the data the streams were found by."""
    store.append("referral-1", new_event("Requested", case_id="c-1"), NO_STREAM)
    store.append("referral-2", new_event("Requested", case_id="c-1"), NO_STREAM)
    store.append("referral-1", new_event("Sent", case_id="c-1"), 1)
    store.append("referral-1", new_event("Answered", note="no case id"), 2)
    store.append("referral-3", new_event("Requested", case_id="c-2"), NO_STREAM)
    store.append("case-1", new_event("Opened", case_id="c-1"), NO_STREAM)
    lasts = store.last_events("referral", case_id="c-1")
    assert [(e.stream, e.version, e.type) for e in lasts] == [
        ("referral-1", 3, "Answered"),
        ("referral-2", 1, "Requested"),
    ]


def test_an_event_id_conflict_names_the_event_and_the_stream_that_holds_it(store):
    """The client bug is traced from the refusal: which id, already used in which stream."""
    event = NewEvent("Noted", {"note": "x"}, meta(), id="event-1")
    store.append("case-a", event, NO_STREAM)
    with pytest.raises(EventIdConflict) as conflict:
        store.append("case-b", event, NO_STREAM)
    assert (conflict.value.event_id, conflict.value.stream) == ("event-1", "case-a")


def test_a_writer_whose_clock_is_behind_the_log_records_at_the_time_of_the_last_event(database):
    """Another instance with a slower clock (no cache: it reads the head from the log) must
    not record an event earlier than the one before it, or "as of" would skip it."""
    ahead = EventStore(database, clock=lambda: datetime(2026, 3, 2, 12, tzinfo=UTC))
    ahead.append("case-a", new_event(), NO_STREAM)
    behind = EventStore(database, clock=lambda: datetime(2026, 3, 1, 12, tzinfo=UTC))
    behind.append("case-b", new_event(), NO_STREAM)
    assert [e.recorded_at for e in behind.read_all()] == [
        datetime(2026, 3, 2, 12, tzinfo=UTC),
        datetime(2026, 3, 2, 12, tzinfo=UTC),
    ]


def test_read_all_in_windows_of_one_event_reads_everything(store):
    """The smallest window still moves forward: one position per query, none skipped."""
    log_of(store, 3)
    assert [e.position for e in store.read_all(batch_size=1)] == [1, 2, 3]


def test_a_read_up_to_a_position_the_log_no_longer_reaches_is_an_alarm(store):
    """A reader sent up to a position (a rebuild's frozen head) finds the tail gone: the alarm
    says where the log stops and that nothing is stored after it (-1)."""
    log_of(store, 6)
    with pytest.raises(PositionGap) as gap:
        list(store.read_all(to_position=8, batch_size=3))
    assert (gap.value.expected, gap.value.found) == (7, -1)


@pytest.fixture
def restored_store(store):
    """Six events (case-0 and case-1 in turn, all about case c-1, all by listener-1), as a
    restore from a backup may leave them: inserted newest first, so the server's natural order
    is the reverse of the log's."""
    for index in range(6):
        event = NewEvent("Noted", {"case_id": "c-1", "i": index}, meta(actor_id="listener-1"))
        store.append(f"case-{index % 2}", event, ANY)
    documents = list(store.events.find())
    store.events.delete_many({})
    for document in sorted(documents, key=itemgetter("position"), reverse=True):
        store.events.insert_one(document)
    return EventStore(store.events.database)


def test_every_read_follows_the_log_order_not_the_storage_order(restored_store):
    """MongoDB promises no order without a sort: after a restore, streams still read in version
    order and the log, a case and an actor's trail in position order."""
    assert [e.version for e in restored_store.read_stream("case-0")] == [1, 2, 3]
    assert [e.data["i"] for e in restored_store.read_stream("case-0")] == [0, 2, 4]
    assert [e.position for e in restored_store.read_all()] == [1, 2, 3, 4, 5, 6]
    assert [e.position for e in restored_store.read_related(case_id="c-1")] == [1, 2, 3, 4, 5, 6]
    assert [e.position for e in restored_store.read_by_actor("listener-1")] == [1, 2, 3, 4, 5, 6]
    assert [(e.stream, e.version) for e in restored_store.last_events("case", case_id="c-1")] == [
        ("case-0", 3),
        ("case-1", 3),
    ]


def test_a_hole_in_a_restored_log_names_the_next_position_not_any_later_one(restored_store):
    """The alarm points at where the log resumes, whatever order the documents are stored in."""
    restored_store.events.delete_one({"position": 2})
    with pytest.raises(PositionGap) as gap:
        list(restored_store.read_all(batch_size=10))
    assert (gap.value.expected, gap.value.found) == (2, 3)


def duplicate(message, **details):
    return DuplicateKeyError(message, 11000, {"code": 11000, "errmsg": message, **details})


@pytest.mark.parametrize(
    "conflict, lost_the_position_race",
    [
        # MongoDB names the index in keyPattern, whatever its message says: here the database's
        # name contains "_id", which a look at the message alone would misread.
        (
            duplicate(
                "E11000 duplicate key error collection: cellule_idf.events index: "
                "position_unique dup key: { position: 3 }",
                keyPattern={"position": 1},
                keyValue={"position": 3},
            ),
            True,
        ),
        (
            duplicate(
                "E11000 duplicate key error collection: cellule_idf.events index: "
                'stream_version_unique dup key: { stream: "case-a", version: 2 }',
                keyPattern={"stream": 1, "version": 1},
                keyValue={"stream": "case-a", "version": 2},
            ),
            False,
        ),
        (
            duplicate(
                "E11000 duplicate key error collection: cellule.events index: _id_ dup key: "
                '{ _id: "e-1" }',
                keyPattern={"_id": 1},
                keyValue={"_id": "e-1"},
            ),
            False,
        ),
        # The development server only words it, naming its own indexes.
        (duplicate("UNIQUE constraint failed: index 'idx_events_position'"), True),
        (duplicate("UNIQUE constraint failed: index 'idx_events_stream_version'"), False),
        (duplicate("UNIQUE constraint failed: events._id"), False),
        # A wording that names other keys besides the position is not a lost race.
        (duplicate("UNIQUE constraint failed: events.position, events._id"), False),
        (duplicate("UNIQUE constraint failed: events.stream, events.position"), False),
    ],
)
def test_only_a_conflict_on_the_position_index_alone_is_a_lost_race(
    conflict, lost_the_position_race
):
    """A lost race only needs the head read again; a conflict on the stream's version or on
    the event id must also look the event up (idempotent retry) and re-read the version, or a
    stale cache would retry the same insert until the attempts run out."""
    assert _lost_the_position_race(conflict) is lost_the_position_race


class CommandNames(monitoring.CommandListener):
    """The names of the commands a client sends, in order."""

    def __init__(self):
        self.names = []

    def started(self, event):
        self.names.append(event.command_name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def test_with_one_writer_an_append_to_a_stream_it_wrote_is_one_round_trip(mongo_uri, database):
    """The writer remembers the head and its streams' versions (docs/eventstore.md): once it
    has written a stream, each further append is a single insert, whatever the expectation."""
    commands = CommandNames()
    client = connect(mongo_uri, event_listeners=[commands])
    try:
        store = EventStore(client.get_database(database.name))
        store.append("case-a", new_event(), NO_STREAM)
        commands.names.clear()
        store.append("case-a", new_event(), 1)
        store.append("case-a", new_event(), ANY)
        assert commands.names == ["insert", "insert"]
        commands.names.clear()
        # A conflict is seen in the cache; only the look-up for an idempotent retry remains.
        with pytest.raises(WrongExpectedVersion):
            store.append("case-a", new_event(), NO_STREAM)
        assert commands.names == ["find"]
    finally:
        client.close()


def test_a_fresh_writer_checks_expectations_against_the_log_itself(store):
    """Another process, with nothing cached, still refuses a stream that exists and appends
    after its last version."""
    store.append("case-a", new_event(), NO_STREAM)
    store.append("case-a", new_event(), 1)
    with pytest.raises(WrongExpectedVersion) as conflict:
        EventStore(store.events.database).append("case-a", new_event(), NO_STREAM)
    assert conflict.value.actual == 2
    assert EventStore(store.events.database).append("case-a", new_event(), ANY).version == 3


def test_find_returns_the_event_with_that_id_or_nothing(store):
    store.append("case-a", new_event(), NO_STREAM)
    store.append("case-a", NewEvent("Noted", {"note": "second"}, meta(), id="event-2"), 1)
    found = store.find("event-2")
    assert (found.id, found.stream, found.version, found.position, found.data) == (
        "event-2",
        "case-a",
        2,
        2,
        {"note": "second"},
    )
    assert store.find("no-such-event") is None


def test_an_invalid_expected_version_is_refused_with_what_is_allowed(store):
    """The caller's bug is explained: the three accepted forms and the value it passed."""
    with pytest.raises(ValueError) as refusal:
        store.append("case-a", new_event(), 0)
    assert str(refusal.value) == (
        "expected_version must be 'no-stream', 'any' or a version >= 1, not 0"
    )


def test_the_indexes_guard_positions_and_stream_versions_and_serve_audits(store):
    """Unique positions and (stream, version) pairs turn every race into a conflict; the case
    and actor indexes serve the audit reads. Creating them again (a restart) changes nothing."""
    store.ensure_indexes()
    indexes = {
        tuple(spec["key"]): spec.get("unique", False)
        for spec in store.events.index_information().values()
    }
    assert indexes == {
        (("_id", 1),): False,  # unique by nature, not flagged
        (("position", 1),): True,
        (("stream", 1), ("version", 1)): True,
        (("data.case_id", 1),): False,
        (("meta.actor_id", 1),): False,
    }


def test_an_append_the_database_refuses_for_ever_ends_in_an_error_not_a_hang(store):
    """A conflict that no retry can resolve (here a unique index an operator added) stops after
    a bounded number of attempts, naming the stream."""
    store.events.create_index("type", unique=True)
    store.append("case-a", new_event("Noted"), NO_STREAM)
    with pytest.raises(EventStoreError) as failure:
        store.append("case-b", new_event("Noted"), NO_STREAM)
    assert str(failure.value) == "could not append to 'case-b' after 200 attempts (contention)"
    assert store.events.count_documents({}) == 1
