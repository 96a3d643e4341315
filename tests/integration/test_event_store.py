"""The event store's contract, against a real MongoDB-wire server."""

from datetime import UTC, datetime, timedelta

import pytest

from allodiscri.events import (
    ANY,
    NO_STREAM,
    EventIdConflict,
    NewEvent,
    PositionGap,
    WrongExpectedVersion,
)
from allodiscri.hashing import GENESIS_HASH, document_hash
from allodiscri.store import EventStore
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
