"""Personal fields sealed in the log, their data keys in a database apart, erasure and
master-key rotation, against a real MongoDB-wire server.

Each test reads the stored documents directly, as someone holding a copy of the events would.
"""

import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.events import ANY, NO_STREAM, EventIdConflict
from allodiscri.platform.crypto import (
    KEYS_COLLECTION,
    SEALED,
    DataKeys,
    FieldCipher,
    MasterKey,
    MasterKeyError,
    MasterKeyring,
    SubjectErased,
    UndecryptableField,
    is_sealed,
    keys_database_name,
)
from allodiscri.platform.integrity import verify_log
from allodiscri.platform.store import EventStore
from tests.examples import ExampleBuilder, flip_a_bit, leaves
from tests.helpers import TEST_MASTER_KEY, meta

ERASED = "[effacé]"  # what an erased field reads (README), stated here, not imported
MASTER_A = MasterKey.from_text(TEST_MASTER_KEY)
MASTER_B = MasterKey.from_text("YW5vdGhlciB0ZXN0cy1vbmx5IG1hc3RlciBrZXkgISE=")
PERSONAL_CONTRACTS = [
    contract for contract in CATALOGUE.contracts() if CATALOGUE.personal_paths(contract.type)
]


@pytest.fixture
def keys_database(database):
    """Beside the events database, never in it; dropped with it by the `database` fixture."""
    return database.client.get_database(keys_database_name(database.name))


def data_keys(keys_database, current=MASTER_A, *previous, **options) -> DataKeys:
    return DataKeys(keys_database, MasterKeyring(current, previous), **options)


def cipher_over(keys: DataKeys) -> FieldCipher:
    return FieldCipher(keys, CATALOGUE.personal_paths)


@pytest.fixture
def keys(keys_database):
    return data_keys(keys_database)


@pytest.fixture
def cipher(keys):
    return cipher_over(keys)


@pytest.fixture
def sealed_store(database, cipher):
    store = EventStore(database, upcaster=CATALOGUE.upcast, cipher=cipher)
    store.ensure_indexes()
    return store


def proposed(event_type, builder):
    data = builder.data(CATALOGUE.contract(event_type).schema())
    return CATALOGUE.new_event(event_type, data, meta())


def record(store, event_type, builder, expected=ANY):
    event = proposed(event_type, builder)
    stream_type = CATALOGUE.contract(event_type).stream_type
    store.append(f"{stream_type}-{builder.subject}", event, expected)
    return event


def a_case(store, *event_types):
    """A case's report and a few events, every personal value distinct."""
    builder = ExampleBuilder()
    events = [record(store, "ReportReceived", builder)]
    events += [record(store, event_type, builder) for event_type in event_types]
    return builder, events


def stored(store):
    return list(store.events.find().sort("position"))


# -- round trip of every personal field -------------------------------------------------------


def test_every_event_type_with_personal_fields_is_covered():
    """Guards the parametrized test below against an empty or shrinking catalogue walk."""
    types = {contract.type for contract in PERSONAL_CONTRACTS}
    assert {"ReportReceived", "InterviewHeld", "ReferralAnswered", "MinutesDrafted"} <= types
    assert len(types) >= 21


@pytest.mark.parametrize("contract", PERSONAL_CONTRACTS, ids=lambda contract: contract.type)
def test_every_personal_field_is_sealed_in_the_log_and_opens_back_exactly(
    sealed_store, cipher, contract
):
    builder = ExampleBuilder()
    event = record(sealed_store, contract.type, builder, NO_STREAM)
    document = sealed_store.events.find_one({"_id": event.id})
    paths = set(CATALOGUE.personal_paths(contract.type))
    assert {path for path, value in leaves(document["data"]) if is_sealed(value)} == paths
    assert [(path, value) for path, value in leaves(document["data"]) if path not in paths] == [
        (path, value) for path, value in leaves(event.data) if path not in paths
    ]
    assert builder.personal
    assert "perso-" not in json.dumps(document, default=str, ensure_ascii=False)
    assert cipher.open_event(sealed_store.find(event.id)).data == event.data


def test_clear_fields_stay_queryable(sealed_store, cipher):
    builder, events = a_case(sealed_store, "InterviewHeld", "FactsQualified")
    related = list(sealed_store.read_related(case_id=builder.subject))
    assert [event.type for event in related] == ["InterviewHeld", "FactsQualified"]
    assert is_sealed(related[0].data["notes"])
    assert related[1].data == events[2].data  # nothing personal in a qualification
    report = sealed_store.events.find_one({"type": "ReportReceived"})["data"]
    assert (report["channel"], report["facts"]["kinds"]) == (
        events[0].data["channel"],
        events[0].data["facts"]["kinds"],
    )


def test_an_event_without_personal_fields_is_stored_as_proposed_and_makes_no_key(
    sealed_store, keys_database
):
    builder = ExampleBuilder()
    event = record(sealed_store, "CaseOpened", builder)
    assert sealed_store.events.find_one({"_id": event.id})["data"] == event.data
    assert keys_database[KEYS_COLLECTION].count_documents({}) == 0


def test_data_keys_live_wrapped_in_their_own_database(database, keys_database, sealed_store):
    builder, _ = a_case(sealed_store)
    assert KEYS_COLLECTION not in database.list_collection_names()
    document = keys_database[KEYS_COLLECTION].find_one({"_id": builder.subject})
    assert document["master_key_id"] == MASTER_A.id
    assert isinstance(document["wrapped"], str) and document["created_at"] is not None
    assert MasterKeyring(MASTER_A).unwrap(document) == data_keys(keys_database).key_for_opening(
        builder.subject
    )


def test_two_writers_making_a_case_key_at_once_share_one(keys_database):
    """The second writer looked before the first inserted: its insert loses, it takes theirs."""

    class LookedTooEarly:
        def __init__(self, collection):
            self.collection, self.looked = collection, False

        def find_one(self, *args, **kwargs):
            if not self.looked:
                self.looked = True
                return None
            return self.collection.find_one(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(self.collection, name)

    first, second = data_keys(keys_database), data_keys(keys_database)
    second.collection = LookedTooEarly(second.collection)
    key = first.key_for_sealing("case-1")
    assert second.key_for_sealing("case-1") == key
    assert second.collection.looked
    assert keys_database[KEYS_COLLECTION].count_documents({}) == 1


# -- idempotent appends -----------------------------------------------------------------------


def test_the_same_event_again_returns_the_first_result_despite_fresh_nonces(
    database, keys_database, sealed_store
):
    builder = ExampleBuilder()
    event = proposed("InterviewHeld", builder)
    stream = f"case-{builder.subject}"
    first = sealed_store.append(stream, event, NO_STREAM)
    document = sealed_store.events.find_one({"_id": event.id})
    assert sealed_store.append(stream, event, NO_STREAM) == first
    assert sealed_store.append(stream, event, ANY) == first
    # Another process: no cached head, version or key.
    elsewhere = EventStore(database, cipher=cipher_over(data_keys(keys_database)))
    assert elsewhere.append(stream, event, NO_STREAM) == first
    assert stored(sealed_store) == [document]


@pytest.mark.parametrize("expected", [NO_STREAM, ANY])
def test_the_same_event_id_with_other_personal_text_is_a_conflict(sealed_store, expected):
    builder = ExampleBuilder()
    event = proposed("InterviewHeld", builder)
    stream = f"case-{builder.subject}"
    sealed_store.append(stream, event, NO_STREAM)
    changed = dataclasses.replace(event, data={**event.data, "notes": "autre chose"})
    with pytest.raises(EventIdConflict):
        sealed_store.append(stream, changed, expected)
    assert sealed_store.events.count_documents({}) == 1


# -- the hash chain ---------------------------------------------------------------------------


def test_the_chain_covers_the_ciphertext_and_survives_an_erasure(sealed_store, keys, cipher):
    erased, _ = a_case(sealed_store, "InterviewHeld", "FactsQualified", "DeclarantInformed")
    kept, kept_events = a_case(sealed_store, "InterviewHeld")
    report = verify_log(sealed_store.events)
    assert report.ok and report.events_checked == 6
    before = stored(sealed_store)
    assert keys.erase(erased.subject)
    assert stored(sealed_store) == before
    after = verify_log(sealed_store.events)
    assert after.ok and after.head_hash == report.head_hash
    opened = [cipher.open(document["data"], fresh=True) for document in before]
    assert opened[0]["declarant"]["name"] == ERASED and opened[1]["notes"] == ERASED
    assert opened[4:] == [event.data for event in kept_events]


def test_an_altered_ciphertext_fails_both_the_chain_and_the_opening(sealed_store, cipher):
    builder, _ = a_case(sealed_store, "InterviewHeld")
    document = sealed_store.events.find_one({"type": "InterviewHeld"})
    altered = flip_a_bit(document["data"]["notes"])
    sealed_store.events.update_one({"_id": document["_id"]}, {"$set": {"data.notes": altered}})
    assert [problem.kind for problem in verify_log(sealed_store.events).problems] == ["altered"]
    with pytest.raises(UndecryptableField, match=f"sealed field of {builder.subject}"):
        cipher.open_event(sealed_store.find(document["_id"]))


# -- wrong keys: a clear failure, never garbage -----------------------------------------------


def test_a_wrong_master_key_fails_clearly(keys_database, sealed_store):
    builder, events = a_case(sealed_store)
    wrong = data_keys(keys_database, MasterKey.generate())
    with pytest.raises(MasterKeyError, match=f"master key {MASTER_A.id}, which is not config"):
        cipher_over(wrong).open_event(sealed_store.find(events[0].id))
    with pytest.raises(MasterKeyError):  # nor does it seal more of the case under a new key
        wrong.key_for_sealing(builder.subject)


def test_an_altered_keys_document_fails_clearly(keys_database, sealed_store):
    builder, events = a_case(sealed_store)
    collection = keys_database[KEYS_COLLECTION]
    wrapped = collection.find_one({"_id": builder.subject})["wrapped"]
    altered = flip_a_bit({SEALED: wrapped})[SEALED]
    collection.update_one({"_id": builder.subject}, {"$set": {"wrapped": altered}})
    with pytest.raises(MasterKeyError, match="keys document was altered"):
        cipher_over(data_keys(keys_database)).open_event(sealed_store.find(events[0].id))


def test_a_data_key_copied_to_another_case_does_not_unwrap(keys_database, sealed_store):
    first, _ = a_case(sealed_store)
    second, events = a_case(sealed_store)
    collection = keys_database[KEYS_COLLECTION]
    copied = collection.find_one({"_id": first.subject})["wrapped"]
    collection.update_one({"_id": second.subject}, {"$set": {"wrapped": copied}})
    with pytest.raises(MasterKeyError, match=f"data key of {second.subject} does not unwrap"):
        cipher_over(data_keys(keys_database)).open_event(sealed_store.find(events[0].id))


def test_a_ciphertext_moved_to_another_case_is_undecryptable(sealed_store, cipher):
    first, first_events = a_case(sealed_store)
    second, _ = a_case(sealed_store)
    moved = sealed_store.events.find_one({"_id": first_events[0].id})["data"]["facts"]
    forged = {"case_id": second.subject, "facts": moved}
    with pytest.raises(UndecryptableField, match="sealed for another case"):
        cipher.open(forged)


def test_a_keys_database_without_the_case_is_undecryptable(keys_database, sealed_store):
    """As after restoring the events with an older backup of the keys."""
    builder, events = a_case(sealed_store)
    keys_database[KEYS_COLLECTION].delete_one({"_id": builder.subject})
    with pytest.raises(UndecryptableField, match=f"no data key for {builder.subject}"):
        cipher_over(data_keys(keys_database)).open_event(sealed_store.find(events[0].id))


# -- erasure ----------------------------------------------------------------------------------


def test_an_erased_case_reads_erased_and_keeps_its_clear_fields(sealed_store, keys, cipher):
    builder, events = a_case(sealed_store, "ReferralAnswered")
    assert keys.erase(builder.subject)
    assert keys.is_erased(builder.subject)
    report, answer = (cipher.open_event(event) for event in sealed_store.read_all())
    assert report.data["declarant"]["name"] == ERASED
    assert report.data["facts"]["narrative"] == ERASED
    assert report.data["attachments"][0]["filename"] == ERASED
    assert report.data["facts"]["kinds"] == events[0].data["facts"]["kinds"]
    assert report.data["channel"] == events[0].data["channel"]
    assert answer.data["measures"] == [ERASED, ERASED]
    assert answer.data["referral_id"] == events[1].data["referral_id"]


def test_nothing_personal_is_sealed_for_an_erased_case(sealed_store, keys):
    builder, _ = a_case(sealed_store)
    keys.erase(builder.subject)
    with pytest.raises(SubjectErased, match=builder.subject):
        record(sealed_store, "InterviewHeld", builder)
    assert sealed_store.events.count_documents({}) == 1
    # What carries nothing personal is still recorded: the case's life goes on.
    record(sealed_store, "FactsQualified", builder)
    without_note = proposed("ReferralSent", builder)
    without_note = dataclasses.replace(without_note, data={**without_note.data, "note": None})
    sealed_store.append(f"referral-{builder.subject}", without_note, NO_STREAM)
    assert sealed_store.events.count_documents({}) == 3
    assert sealed_store.find(without_note.id).data == without_note.data


def test_erasing_twice_answers_false_and_keeps_the_first_erasure(keys_database, keys):
    keys.key_for_sealing("case-1")
    first, later = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
    assert keys.erase("case-1", at=first) is True
    assert keys.erase("case-1", at=later) is False
    assert data_keys(keys_database).erase("case-1") is False  # another process
    tombstone = keys_database[KEYS_COLLECTION].find_one({"_id": "case-1"})
    assert tombstone == {
        "_id": "case-1",
        "wrapped": None,
        "master_key_id": None,
        "erased_at": first,
    }


def test_erasing_a_case_that_never_had_a_key_leaves_a_tombstone(keys_database, keys):
    """Else a late event of the case would make a fresh key, and personal data after all."""
    assert not keys.is_erased("case-1")
    assert keys.erase("case-1") is True
    assert keys.is_erased("case-1")
    for reader in (keys, data_keys(keys_database)):
        assert reader.key_for_opening("case-1") is None
        with pytest.raises(SubjectErased):
            reader.key_for_sealing("case-1")
    assert keys.erase("case-1") is False
    assert keys_database[KEYS_COLLECTION].count_documents({}) == 1


@pytest.fixture
def server_twelve_hours_ahead(monkeypatch):
    """The server's local time zone twelve hours ahead of UTC (a POSIX TZ rule)."""
    monkeypatch.setenv("TZ", "NZST-12")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_an_erasure_is_dated_now_in_utc_unless_told_otherwise(
    keys_database, keys, server_twelve_hours_ahead
):
    keys.key_for_sealing("case-1")
    before = datetime.now(UTC)
    assert keys.erase("case-1")
    assert keys.erase("case-2")  # never had a key
    for subject in ("case-1", "case-2"):
        erased_at = keys_database[KEYS_COLLECTION].find_one({"_id": subject})["erased_at"]
        assert before - timedelta(seconds=1) <= erased_at.replace(tzinfo=UTC) <= datetime.now(UTC)


def test_a_key_made_elsewhere_while_erasing_is_erased_all_the_same(keys_database, keys):
    """The eraser saw no key, then another writer made one before its tombstone went in: the
    tombstone loses the race, so the erasure starts again and destroys that key."""
    at = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    writer = data_keys(keys_database)

    class MadeMeanwhile:
        def __init__(self, collection):
            self.collection, self.made = collection, False

        def find_one(self, *args, **kwargs):
            found = self.collection.find_one(*args, **kwargs)
            if not self.made:
                self.made = True
                writer.key_for_sealing("case-1")
            return found

        def __getattr__(self, name):
            return getattr(self.collection, name)

    keys.collection = MadeMeanwhile(keys.collection)
    assert keys.erase("case-1", at=at) is True
    assert keys.collection.made
    assert keys_database[KEYS_COLLECTION].find_one({"_id": "case-1"}) == {
        "_id": "case-1",
        "wrapped": None,
        "master_key_id": None,
        "erased_at": at,
    }


def test_a_live_key_is_not_erased(keys):
    keys.key_for_sealing("case-1")
    assert not keys.is_erased("case-1")
    assert not keys.is_erased("case-2")


# -- the cache of opened keys -----------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_an_erasure_here_is_honoured_here_at_once(keys):
    key = keys.key_for_sealing("case-1")
    assert keys.key_for_opening("case-1") == key
    keys.erase("case-1")
    assert keys.key_for_opening("case-1") is None
    with pytest.raises(SubjectErased):
        keys.key_for_sealing("case-1")


def test_an_erasure_elsewhere_is_honoured_at_once_by_a_fresh_lookup(keys_database):
    clock = Clock()
    reader = data_keys(keys_database, clock=clock)
    key = reader.key_for_sealing("case-1")
    data_keys(keys_database).erase("case-1")
    assert reader.key_for_opening("case-1") == key  # the documented delay of a cached key
    assert reader.key_for_opening("case-1", fresh=True) is None
    assert reader.key_for_opening("case-1") is None  # and the cache learnt it
    with pytest.raises(SubjectErased):
        reader.key_for_sealing("case-1")


def test_a_fresh_opening_shows_erased_where_the_cache_still_holds_the_key(
    keys_database, sealed_store
):
    builder, _ = a_case(sealed_store)
    reader = cipher_over(data_keys(keys_database, clock=Clock()))
    data = sealed_store.events.find_one()["data"]
    assert reader.open(data)["declarant"]["name"].startswith("perso-")
    data_keys(keys_database).erase(builder.subject)
    assert reader.open(data)["declarant"]["name"].startswith("perso-")
    assert reader.open(data, fresh=True)["declarant"]["name"] == ERASED


def test_a_cached_key_expires_after_cache_seconds(keys_database):
    clock = Clock()
    reader = data_keys(keys_database, cache_seconds=60, clock=clock)
    key = reader.key_for_sealing("case-1")
    data_keys(keys_database).erase("case-1")
    clock.now += 59.9
    assert reader.key_for_sealing("case-1") == key
    clock.now += 0.1
    with pytest.raises(SubjectErased):
        reader.key_for_sealing("case-1")


def test_an_erasure_elsewhere_reaches_a_writer_within_a_minute(keys_database):
    """docs/security.md: writers cache data keys for a minute, then refuse to seal."""
    clock = Clock()
    writer = data_keys(keys_database, clock=clock)
    key = writer.key_for_sealing("case-1")
    data_keys(keys_database).erase("case-1")
    clock.now += 59.5
    assert writer.key_for_sealing("case-1") == key
    clock.now += 0.5
    with pytest.raises(SubjectErased):
        writer.key_for_sealing("case-1")


def test_preloading_keys_already_cached_reads_nothing_erased_cases_included(keys_database, keys):
    """A tombstone is remembered like a key: a second window over the same cases costs no
    query, unless the reader asks for keys read afresh."""
    keys.key_for_sealing("live")
    keys.erase("erased")
    reader = data_keys(keys_database, clock=Clock())
    queries = []
    find = reader.collection.find
    reader.collection.find = lambda *args, **kwargs: queries.append(args) or find(*args, **kwargs)
    reader.preload(["live", "erased", None])
    assert len(queries) == 1
    reader.preload(["erased", "live"])
    assert len(queries) == 1
    reader.preload(["erased", "live"], fresh=True)
    assert len(queries) == 2
    assert reader.key_for_opening("erased") is None
    assert reader.key_for_opening("live") == keys.key_for_opening("live")
    assert len(queries) == 2


def test_the_cache_keeps_the_most_recently_used_keys(keys_database):
    reader = data_keys(keys_database, cache_size=2, clock=Clock())
    a, _, c = (reader.key_for_sealing(subject) for subject in ("a", "b", "c"))
    reader.key_for_opening("a")  # b is now the least recently used: evicted by c
    reader.key_for_opening("c")
    eraser = data_keys(keys_database)
    for subject in ("a", "b", "c"):
        eraser.erase(subject)
    assert reader.key_for_opening("a") == a
    assert reader.key_for_opening("c") == c
    assert reader.key_for_opening("b") is None


# -- master-key rotation ----------------------------------------------------------------------


def test_rotation_rewraps_every_key_and_touches_no_event(keys_database, sealed_store, keys):
    cases = [a_case(sealed_store, "InterviewHeld") for _ in range(3)]
    erased = cases[0][0].subject
    keys.erase(erased)
    events_before = stored(sealed_store)
    tombstone = keys_database[KEYS_COLLECTION].find_one({"_id": erased})

    assert data_keys(keys_database, MASTER_B, MASTER_A).rotate() == 2

    assert stored(sealed_store) == events_before
    assert verify_log(sealed_store.events).ok
    documents = keys_database[KEYS_COLLECTION].find({"wrapped": {"$ne": None}})
    assert {document["master_key_id"] for document in documents} == {MASTER_B.id}
    assert keys_database[KEYS_COLLECTION].find_one({"_id": erased}) == tombstone
    only_b = cipher_over(data_keys(keys_database, MASTER_B))
    for _, events in cases[1:]:
        for event in events:
            assert only_b.open_event(sealed_store.find(event.id)).data == event.data
    report, interview = (only_b.open_event(sealed_store.find(e.id)).data for e in cases[0][1])
    assert (report["declarant"]["name"], interview["notes"]) == (ERASED, ERASED)
    only_a = cipher_over(data_keys(keys_database, MASTER_A))
    with pytest.raises(MasterKeyError, match=f"master key {MASTER_B.id}, which is not config"):
        only_a.open_event(sealed_store.find(cases[1][1][0].id))
    assert data_keys(keys_database, MASTER_B, MASTER_A).rotate() == 0


def test_rotation_without_the_old_master_key_fails_clearly_and_changes_nothing(
    keys_database, sealed_store
):
    a_case(sealed_store)
    before = list(keys_database[KEYS_COLLECTION].find())
    with pytest.raises(MasterKeyError, match=f"master key {MASTER_A.id}, which is not config"):
        data_keys(keys_database, MASTER_B).rotate()
    assert list(keys_database[KEYS_COLLECTION].find()) == before


def test_a_key_erased_during_a_rotation_stays_erased(keys_database, keys):
    """The rotation rewrites a key only if it is still the one it read."""
    for subject in ("a", "b"):
        keys.key_for_sealing(subject)
    rotating = data_keys(keys_database, MASTER_B, MASTER_A)

    class ErasedMeanwhile:
        def __init__(self, collection):
            self.collection = collection

        def find(self, *args, **kwargs):
            found = list(self.collection.find(*args, **kwargs))
            keys.erase("a")
            return found

        def __getattr__(self, name):
            return getattr(self.collection, name)

    rotating.collection = ErasedMeanwhile(rotating.collection)
    assert rotating.rotate() == 1
    assert keys.is_erased("a")
    assert keys_database[KEYS_COLLECTION].find_one({"_id": "b"})["master_key_id"] == MASTER_B.id
    assert rotating.not_under_current() == 0


# -- replays -----------------------------------------------------------------------------------


def test_a_replay_opens_each_window_with_one_read_of_its_keys(keys_database, sealed_store, keys):
    """A fresh process replaying the log reads the keys of a window at once, not case by case,
    and opens exactly what one-by-one opening gives, erased cases included."""
    cases = [a_case(sealed_store, "InterviewHeld")[0] for _ in range(5)]
    keys.erase(cases[2].subject)
    one_by_one = [cipher_over(keys).open_event(event) for event in sealed_store.read_all()]

    replaying = data_keys(keys_database)
    queries = []
    find = replaying.collection.find
    replaying.collection.find = lambda *args, **kwargs: queries.append(args) or find(
        *args, **kwargs
    )
    opened = list(cipher_over(replaying).open_events(sealed_store.read_all(), window=4))

    assert opened == one_by_one
    assert len(queries) == 3  # ten events, windows of four
    assert opened[4].data["facts"]["narrative"] == ERASED
    assert opened[0].data["facts"]["narrative"] not in (ERASED, None)


def test_a_fresh_replay_honours_an_erasure_the_cache_has_not_seen(
    keys_database, sealed_store, keys
):
    """What a reader is about to be shown is opened with keys read afresh, once per window."""
    builder, _ = a_case(sealed_store, "InterviewHeld")
    reader = cipher_over(data_keys(keys_database))
    assert list(reader.open_events(sealed_store.read_all()))[1].data["notes"] != ERASED
    keys.erase(builder.subject)  # by another process: the reader's cache still has the key
    assert list(reader.open_events(sealed_store.read_all()))[1].data["notes"] != ERASED
    fresh = list(reader.open_events(sealed_store.read_all(), fresh=True))
    assert [event.data.get("notes") for event in fresh] == [None, ERASED]
