from datetime import UTC, datetime, timedelta, timezone

import pytest

from allodiscri.kernel.hashing import (
    GENESIS_HASH,
    canonical_bytes,
    chain_hash,
    document_hash,
    format_time,
    stored_time,
)

DOCUMENT = {
    "_id": "0b9a6c1e-0000-4000-8000-000000000001",
    "position": 7,
    "stream": "case-1",
    "version": 3,
    "type": "CaseOpened",
    "schema_version": 1,
    "data": {"b": [1, 2], "a": "é"},
    "meta": {"actor_id": "x", "platform": "SG"},
    "recorded_at": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
}


def test_canonical_bytes_do_not_depend_on_key_order():
    reordered = {**DOCUMENT, "data": {"a": "é", "b": [1, 2]}}
    assert document_hash(DOCUMENT, GENESIS_HASH) == document_hash(reordered, GENESIS_HASH)


def test_every_covered_field_changes_the_hash():
    original = document_hash(DOCUMENT, GENESIS_HASH)
    changes = {
        "_id": "other",
        "position": 8,
        "stream": "case-2",
        "version": 4,
        "type": "CaseClosed",
        "schema_version": 2,
        "data": {"a": "e", "b": [1, 2]},
        "meta": {"actor_id": "y", "platform": "SG"},
        "recorded_at": DOCUMENT["recorded_at"] + timedelta(milliseconds=1),
    }
    for field, value in changes.items():
        assert document_hash({**DOCUMENT, field: value}, GENESIS_HASH) != original, field


def test_hash_chains_on_the_previous_hash():
    first = document_hash(DOCUMENT, GENESIS_HASH)
    assert document_hash(DOCUMENT, first) != first


def test_chain_hash_is_sha256_of_previous_hash_and_payload():
    # Independent recomputation, as an outside auditor's tool would do it.
    import hashlib

    payload = b'{"a":1}'
    assert chain_hash("ab", payload) == hashlib.sha256(b"ab" + payload).hexdigest()


def test_times_are_hashed_as_stored_utc_milliseconds():
    paris = timezone(timedelta(hours=1))
    local = datetime(2026, 1, 2, 4, 4, 5, 678999, tzinfo=paris)
    assert stored_time(local) == DOCUMENT["recorded_at"]
    payload = canonical_bytes(
        position=1,
        stream="s-1",
        version=1,
        event_id="e",
        event_type="T",
        schema_version=1,
        data={},
        meta={},
        recorded_at=local,
    )
    assert b'"recorded_at":"2026-01-02T03:04:05.678Z"' in payload


def test_naive_times_are_taken_as_utc():
    assert stored_time(datetime(2026, 1, 1, 12, 0)) == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


# The recipe of docs/eventstore.md, written out by hand for DOCUMENT: keys sorted, no spaces,
# "é" kept as UTF-8, the time in UTC to the millisecond.
DOCUMENT_CANONICAL = (
    '{"data":{"a":"é","b":[1,2]},"id":"0b9a6c1e-0000-4000-8000-000000000001",'
    '"meta":{"actor_id":"x","platform":"SG"},"position":7,'
    '"recorded_at":"2026-01-02T03:04:05.678Z","schema_version":1,"stream":"case-1",'
    '"type":"CaseOpened","version":3}'
).encode()
# SHA-256 of "0" * 64 followed by DOCUMENT_CANONICAL, computed outside this code base.
DOCUMENT_HASH = "055954120a2eafa20f12d6a00f510f01f530197b525358b310fb0d81214871f3"


def test_canonical_bytes_follow_the_published_recipe_byte_for_byte():
    """An outside verifier rebuilds these bytes from the documentation alone: every key name,
    separator, the sort order and the UTF-8 encoding are part of the contract."""
    payload = canonical_bytes(
        position=7,
        stream="case-1",
        version=3,
        event_id="0b9a6c1e-0000-4000-8000-000000000001",
        event_type="CaseOpened",
        schema_version=1,
        data={"b": [1, 2], "a": "é"},
        meta={"actor_id": "x", "platform": "SG"},
        recorded_at=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    )
    assert payload == DOCUMENT_CANONICAL


def test_a_stored_event_hashes_to_the_value_an_outside_verifier_computes():
    """The hash of a stored document is the published SHA-256 recipe over its fields."""
    assert document_hash(DOCUMENT, GENESIS_HASH) == DOCUMENT_HASH


def test_a_value_json_cannot_carry_is_refused_not_hashed():
    """NaN has no JSON form an outside verifier could parse: hashing it must fail loudly."""
    with pytest.raises(ValueError):
        canonical_bytes(
            position=1,
            stream="s-1",
            version=1,
            event_id="e",
            event_type="T",
            schema_version=1,
            data={"score": float("nan")},
            meta={},
            recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
        )


def test_times_are_cut_not_rounded_to_the_millisecond():
    """BSON keeps milliseconds by truncation: 999 microseconds past a millisecond stay in it."""
    assert format_time(datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) == (
        "2026-12-31T23:59:59.999Z"
    )
    assert format_time(datetime(2026, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)) == (
        "2026-01-01T00:00:00.001Z"
    )
