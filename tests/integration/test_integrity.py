"""Verification catches what an attacker with database access does to the log.

Each test edits the MongoDB documents directly, as such an attacker would.
"""

import os
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from allodiscri.kernel.events import ANY
from allodiscri.kernel.hashing import GENESIS_HASH, document_hash
from allodiscri.platform.integrity import (
    CheckpointArchive,
    Problem,
    SignedCheckpoint,
    sign_head,
    verify_log,
)
from tests.helpers import new_event

KEY = b"test-checkpoint-key-not-a-secret"


@pytest.fixture
def log(store):
    for index in range(12):
        store.append(f"case-{index % 3}", new_event(index=index), ANY)
    return store.events


@pytest.fixture
def archive(mongo_client, db_name):
    audit = f"{db_name}_audit"
    yield CheckpointArchive(mongo_client.get_database(audit))
    mongo_client.drop_database(audit)


def kinds(report):
    return sorted({problem.kind for problem in report.problems})


def test_an_untouched_log_verifies(log):
    report = verify_log(log)
    assert report.ok and report.events_checked == 12 and report.head_position == 12
    assert report.head_hash == log.find_one({"position": 12})["hash"]


def test_a_modified_data_field_is_reported_at_its_position(log):
    log.update_one({"position": 5}, {"$set": {"data.index": 99}})
    report = verify_log(log)
    assert [(p.kind, p.position) for p in report.problems] == [("altered", 5)]


def test_a_modified_event_with_a_recomputed_hash_breaks_the_chain(log):
    document = log.find_one({"position": 5})
    document["data"]["index"] = 99
    log.update_one(
        {"position": 5},
        {
            "$set": {
                "data": document["data"],
                "hash": document_hash(document, document["prev_hash"]),
            }
        },
    )
    report = verify_log(log)
    assert [(p.kind, p.position) for p in report.problems] == [("broken-chain", 6)]


def test_a_deleted_event_in_the_middle_is_reported(log):
    stream = log.find_one({"position": 7})["stream"]
    log.delete_one({"position": 7})
    report = verify_log(log)
    assert kinds(report) == ["broken-chain", "missing-position", "missing-version"]
    missing = next(p for p in report.problems if p.kind == "missing-position")
    assert missing.position == 7
    assert any(p.stream == stream for p in report.problems if p.kind == "missing-version")


def test_swapped_events_are_reported(log):
    fifth, sixth = log.find_one({"position": 5}), log.find_one({"position": 6})
    log.update_one({"_id": fifth["_id"]}, {"$set": {"position": -6}})
    log.update_one({"_id": sixth["_id"]}, {"$set": {"position": 5}})
    log.update_one({"_id": fifth["_id"]}, {"$set": {"position": 6}})
    report = verify_log(log)
    assert not report.ok
    assert {p.position for p in report.problems if p.kind == "altered"} == {5, 6}


def test_a_deleted_tail_is_caught_only_by_the_signed_checkpoint(log, archive):
    signed = sign_head(verify_log(log), archive, KEY)
    log.delete_many({"position": {"$gte": 11}})
    assert verify_log(log).ok  # the chain alone cannot see it
    report = verify_log(log, checkpoint=archive.latest(), key=KEY)
    assert kinds(report) == ["truncated"]
    assert report.problems[0].position == signed.position == 12


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(log, archive):
    sign_head(verify_log(log), archive, KEY)
    previous = log.find_one({"position": 8})["hash"]
    for position in range(9, 13):  # rewrite the tail with consistent hashes
        document = log.find_one({"position": position})
        document["data"] = {"index": -1}
        document["prev_hash"] = previous
        previous = document_hash(document, previous)
        log.update_one({"position": position}, {"$set": {**document, "hash": previous}})
    assert verify_log(log).ok
    assert kinds(verify_log(log, checkpoint=archive.latest(), key=KEY)) == ["checkpoint-mismatch"]


def test_a_forged_checkpoint_or_a_wrong_key_is_reported(log, archive):
    signed = sign_head(verify_log(log), archive, KEY)
    forged = SignedCheckpoint(signed.position, "f" * 64, signed.signed_at, signed.signature)
    assert kinds(verify_log(log, checkpoint=forged, key=KEY)) == ["checkpoint-signature"]
    assert kinds(verify_log(log, checkpoint=signed, key=b"other")) == ["checkpoint-signature"]


def test_signing_refuses_a_log_that_failed(log, archive):
    log.update_one({"position": 2}, {"$set": {"type": "Forged"}})
    with pytest.raises(
        ValueError, match="^refusing to sign the head of a log that failed verification$"
    ):
        sign_head(verify_log(log), archive, KEY)


def run_cli(mongo_uri, db_name, *args, key=KEY):
    env = {**os.environ, "MONGO_URI": mongo_uri, "MONGO_DB": db_name}
    env.pop("ALLODISCRI_CHECKPOINT_KEY", None)
    if key:
        env["ALLODISCRI_CHECKPOINT_KEY"] = key.decode()
    command = [str(Path(sys.executable).parent / "allodiscri"), "verify", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_the_cli_signs_a_clean_log_then_fails_once_the_tail_is_gone(
    log, archive, mongo_uri, db_name
):
    signed = run_cli(mongo_uri, db_name, "--sign")
    assert signed.returncode == 0, signed.stderr
    assert "result: OK" in signed.stdout and "signed checkpoint: position 12" in signed.stdout
    assert "verified 12 of 12 events (100%)" in signed.stderr
    log.delete_one({"position": 12})
    failed = run_cli(mongo_uri, db_name)
    assert failed.returncode == 1
    assert "[truncated] position 12" in failed.stdout
    unkeyed = run_cli(mongo_uri, db_name, "--quiet", key=None)
    assert unkeyed.returncode == 0 and "cannot be checked" in unkeyed.stderr


def test_the_cli_reports_every_problem_as_json(log, mongo_uri, db_name):
    log.update_one({"position": 3}, {"$set": {"meta.actor_id": "someone-else"}})
    result = run_cli(mongo_uri, db_name, "--json", "--quiet")
    assert result.returncode == 1
    import json

    report = json.loads(result.stdout)
    assert report["ok"] is False and report["events_checked"] == 12
    assert [(p["kind"], p["position"]) for p in report["problems"]] == [("altered", 3)]


def append(store, count):
    for index in range(count):
        store.append(f"case-{index % 3}", new_event(index=100 + index), ANY)


def test_an_intact_log_passes_its_signed_checkpoint_before_and_after_more_events(
    store, log, archive
):
    """A valid checkpoint must not be a false alarm: the event at the signed position still
    has the signed hash, however many events came after it."""
    signed = sign_head(verify_log(log), archive, KEY)
    report = verify_log(log, checkpoint=archive.latest(), key=KEY)
    assert report.ok, report.problems
    assert (report.checkpoint["position"], report.checkpoint["head_hash"]) == (12, signed.head_hash)

    append(store, 3)
    report = verify_log(log, checkpoint=archive.latest(), key=KEY)
    assert report.ok, report.problems
    assert (report.head_position, report.checkpoint["position"]) == (15, 12)

    sign_head(report, archive, KEY)
    append(store, 2)
    report = verify_log(log, checkpoint=archive.latest(), key=KEY)
    assert report.ok, report.problems
    assert (report.head_position, report.checkpoint["position"]) == (17, 15)


def test_verification_uses_the_newest_signed_checkpoint(store, log, archive):
    """Only the newest checkpoint can show that the events signed since the oldest were
    deleted: an older one is still satisfied by the shortened log."""
    sign_head(verify_log(log), archive, KEY)
    append(store, 3)
    newest = sign_head(verify_log(log), archive, KEY)
    assert archive.latest() == newest

    log.delete_many({"position": {"$gt": 12}})
    assert verify_log(log).ok  # the chain alone cannot see it
    report = verify_log(log, checkpoint=archive.latest(), key=KEY)
    assert [(p.kind, p.position) for p in report.problems] == [("truncated", 15)]


def test_the_latest_checkpoint_is_the_highest_position_then_the_last_signed(archive):
    """Whatever order they were stored in (a restored archive), the newest signature wins."""
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    middle = SignedCheckpoint.sign(20, "b" * 64, KEY, at + timedelta(days=1))
    newest = SignedCheckpoint.sign(30, "c" * 64, KEY, at + timedelta(days=2))
    oldest = SignedCheckpoint.sign(10, "a" * 64, KEY, at)
    for checkpoint in (middle, newest, oldest):
        archive.save(checkpoint)
    assert archive.latest() == newest
    resigned = SignedCheckpoint.sign(30, "c" * 64, KEY, at + timedelta(days=3))
    archive.save(resigned)
    assert archive.latest() == resigned


def test_an_empty_archive_has_no_latest_checkpoint(archive):
    assert archive.latest() is None


def test_a_checkpoint_signed_on_an_empty_log_stays_valid(store, archive, database):
    """A fresh deployment signed by its timer before the first report must not raise a
    "truncated" alarm for ever after (which would also forbid signing again)."""
    events = database["events"]
    signed = sign_head(verify_log(events), archive, KEY)
    assert (signed.position, signed.head_hash) == (0, GENESIS_HASH)
    assert verify_log(events, checkpoint=archive.latest(), key=KEY).ok
    append(store, 2)
    report = verify_log(events, checkpoint=archive.latest(), key=KEY)
    assert report.ok, report.problems
    assert sign_head(report, archive, KEY).position == 2


@pytest.mark.parametrize(
    "change",
    [
        {"position": 11},  # moved back, to hide a deleted tail
        {"signed_at": "2020-01-01T00:00:00.000Z"},
        {"head_hash": "f" * 64},
    ],
)
def test_every_signed_field_of_a_checkpoint_is_covered_by_its_signature(log, archive, change):
    """An administrator who edits any field of a stored checkpoint invalidates it."""
    signed = sign_head(verify_log(log), archive, KEY)
    edited = SignedCheckpoint(**{**asdict(signed), **change})
    assert not edited.signature_valid(KEY)
    assert kinds(verify_log(log, checkpoint=edited, key=KEY)) == ["checkpoint-signature"]


def test_a_checkpoint_without_a_key_is_reported_not_trusted(log, archive):
    """No key, no trust: the checkpoint cannot vouch for the tail."""
    signed = sign_head(verify_log(log), archive, KEY)
    assert kinds(verify_log(log, checkpoint=signed, key=None)) == ["checkpoint-signature"]


def test_a_missing_run_of_positions_is_reported_once_with_its_range(log):
    """An auditor is told which positions went, in one problem, not one per later event."""
    log.delete_many({"position": {"$in": [7, 8]}})
    report = verify_log(log)
    missing = [p for p in report.problems if p.kind == "missing-position"]
    assert [(p.position, p.detail) for p in missing] == [(7, "positions 7..8 are missing")]
    assert report.events_checked == 10 and report.head_position == 12


def test_an_event_without_an_integer_position_is_reported_and_the_walk_goes_on(log):
    """A damaged document is a problem to report, not a crash that hides the rest."""
    event_id = log.find_one({"position": 5})["_id"]
    log.update_one({"_id": event_id}, {"$set": {"position": "5"}})
    log.update_one({"position": 9}, {"$set": {"data.index": 99}})
    report = verify_log(log)
    assert ("malformed", None, event_id) in [
        (p.kind, p.position, p.event_id) for p in report.problems
    ]
    assert ("missing-position", 5) in [(p.kind, p.position) for p in report.problems]
    assert ("altered", 9) in [(p.kind, p.position) for p in report.problems]
    assert report.head_position == 12


def test_an_event_that_cannot_be_encoded_is_malformed_not_altered(log):
    """A document missing a hashed field is reported as malformed, and the walk goes on."""
    log.update_one({"position": 4}, {"$unset": {"meta": ""}})
    log.update_one({"position": 9}, {"$set": {"data.index": 99}})
    report = verify_log(log)
    assert [(p.kind, p.position) for p in report.problems] == [("malformed", 4), ("altered", 9)]


def test_progress_is_reported_every_batch_and_at_the_end(log):
    """Long verifications show how far they got; the last call says everything was seen."""
    calls = []
    verify_log(log, progress=lambda done, total: calls.append((done, total)), batch_size=5)
    assert calls == [(5, 12), (10, 12), (12, 12)]


def test_the_cli_signed_on_a_fresh_deployment_keeps_verifying_and_signing(
    store, archive, mongo_uri, db_name
):
    """A signing timer that starts before the first report must not lock the deployment into a
    failed verification, under which it would never sign again."""
    first = run_cli(mongo_uri, db_name, "--sign", "--quiet")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "signed checkpoint: position 0" in first.stdout
    append(store, 2)
    second = run_cli(mongo_uri, db_name, "--sign", "--quiet")
    assert second.returncode == 0, second.stdout
    assert "signed checkpoint: position 2" in second.stdout


def test_a_checkpoint_is_signed_with_hmac_sha256_over_its_published_fields():
    """An auditor holding the key checks a checkpoint with any HMAC tool: the signature is over
    {"head_hash", "position", "signed_at"} as compact JSON with sorted keys (value computed
    outside this code base)."""
    signed = SignedCheckpoint.sign(12, "a" * 64, KEY, datetime(2026, 3, 1, 12, tzinfo=UTC))
    assert signed == SignedCheckpoint(
        position=12,
        head_hash="a" * 64,
        signed_at="2026-03-01T12:00:00.000Z",
        signature="f54fea21b8f6d1f6490d56417e7ff2e772e515d13e0141c7a571067f724bcf80",
    )
    assert signed.signature_valid(KEY)


def test_the_report_as_json_carries_the_head_the_checkpoint_and_every_problem(log, archive):
    """The `--json` report is what monitoring reads: its fields and their values are a contract."""
    signed = sign_head(verify_log(log), archive, KEY)
    altered = log.find_one({"position": 5})
    log.update_one({"position": 5}, {"$set": {"data.index": 99}})
    head_hash = log.find_one({"position": 12})["hash"]
    assert verify_log(log, checkpoint=signed, key=KEY).to_dict() == {
        "ok": False,
        "events_checked": 12,
        "head_position": 12,
        "head_hash": head_hash,
        "checkpoint": {
            "position": 12,
            "head_hash": head_hash,
            "signed_at": signed.signed_at,
            "signature": signed.signature,
        },
        "problems": [
            {
                "kind": "altered",
                "position": 5,
                "detail": "stored hash does not match content",
                "event_id": altered["_id"],
                "stream": "case-1",
            }
        ],
    }


def test_a_clean_report_as_json_says_ok_with_no_checkpoint_and_no_problem(log):
    head_hash = log.find_one({"position": 12})["hash"]
    assert verify_log(log).to_dict() == {
        "ok": True,
        "events_checked": 12,
        "head_position": 12,
        "head_hash": head_hash,
        "checkpoint": None,
        "problems": [],
    }


def test_a_deleted_event_is_reported_in_words_an_auditor_can_act_on(log):
    """Each problem says what is wrong, where, and for which event and stream."""
    # Events go to case-0, case-1, case-2 in turn: position 7 is version 3 of case-0.
    after, next_in_stream = log.find_one({"position": 8}), log.find_one({"position": 10})
    log.delete_one({"position": 7})
    assert verify_log(log).problems == [
        Problem("missing-position", 7, "positions 7..7 are missing"),
        Problem(
            "broken-chain",
            8,
            "prev_hash is not the hash of the event before it",
            after["_id"],
            "case-1",
        ),
        Problem(
            "missing-version",
            10,
            "stream case-0 goes from version 2 to 4",
            next_in_stream["_id"],
            "case-0",
        ),
    ]


def test_damaged_documents_are_reported_in_words_an_auditor_can_act_on(log):
    unpositioned = log.find_one({"position": 5})["_id"]
    log.update_one({"_id": unpositioned}, {"$set": {"position": "5"}})
    unencodable = log.find_one({"position": 9})
    log.update_one({"position": 9}, {"$unset": {"meta": ""}})
    problems = verify_log(log).problems
    assert Problem("malformed", None, "event without an integer position", unpositioned) in (
        problems
    )
    assert (
        Problem("malformed", 9, "cannot encode: KeyError('meta')", unencodable["_id"], "case-2")
        in problems
    )


def test_an_event_stripped_of_its_hash_is_altered_and_breaks_the_chain_after_it(log):
    """Removing the hash field hides nothing: the event no longer matches, nor does the next."""
    log.update_one({"position": 4}, {"$unset": {"hash": ""}})
    assert [(p.kind, p.position) for p in verify_log(log).problems] == [
        ("altered", 4),
        ("broken-chain", 5),
    ]


def test_checkpoint_problems_are_reported_in_words_an_auditor_can_act_on(log, archive):
    signed = sign_head(verify_log(log), archive, KEY)
    forged = SignedCheckpoint(signed.position, "f" * 64, signed.signed_at, signed.signature)
    assert verify_log(log, checkpoint=forged, key=KEY).problems == [
        Problem("checkpoint-signature", 12, "signature does not verify")
    ]
    log.update_one({"position": 12}, {"$set": {"hash": "e" * 64}})
    assert (
        Problem(
            "checkpoint-mismatch",
            12,
            "the event at the signed position has another hash than the one signed",
        )
        in verify_log(log, checkpoint=signed, key=KEY).problems
    )
    log.delete_many({"position": {"$gte": 11}})
    assert verify_log(log, checkpoint=signed, key=KEY).problems == [
        Problem(
            "truncated",
            12,
            f"signed checkpoint at position 12 (signed {signed.signed_at}) but the log ends at 10",
        )
    ]


def test_a_log_restored_in_another_order_verifies_in_position_order(log):
    """MongoDB promises no order without a sort: a log restored newest first is still whole."""
    documents = list(log.find())
    log.delete_many({})
    for document in sorted(documents, key=lambda document: document["position"], reverse=True):
        log.insert_one(document)
    report = verify_log(log)
    assert report.ok, report.problems
    assert report.head_position == 12


def test_a_checkpoint_signed_later_at_a_lower_position_is_not_the_newest(archive):
    """A signer whose clock runs behind must not make an older head the one to check against:
    the highest position wins, the signing time only breaks ties."""
    highest = SignedCheckpoint.sign(30, "c" * 64, KEY, datetime(2026, 3, 1, tzinfo=UTC))
    lower = SignedCheckpoint.sign(20, "b" * 64, KEY, datetime(2026, 3, 2, tzinfo=UTC))
    archive.save(highest)
    archive.save(lower)
    assert archive.latest() == highest


def test_the_signing_time_is_utc_whatever_the_machine_time_zone(log, archive, monkeypatch):
    """Servers in France run on Paris time; a checkpoint's time is UTC all the same."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: any local time is far off
    time.tzset()
    try:
        before = datetime.now(UTC)
        signed = sign_head(verify_log(log), archive, KEY)
        after = datetime.now(UTC)
    finally:
        monkeypatch.undo()
        time.tzset()
    signed_at = datetime.strptime(signed.signed_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert before - timedelta(milliseconds=1) <= signed_at <= after


def test_progress_does_not_count_a_document_that_could_not_be_checked(log):
    """A document without a usable position is not verified: the walk ends at 11 of the 12
    stored, and says so rather than claiming all of them."""
    log.update_one({"position": 5}, {"$set": {"position": "5"}})
    calls = []
    verify_log(log, progress=lambda done, total: calls.append((done, total)), batch_size=5)
    assert calls == [(5, 12), (10, 12), (11, 12)]


def test_a_deleted_first_event_is_reported_like_any_other(log):
    """The log starts at position 1 with version 1 of its stream, chained to the genesis hash."""
    second, next_in_stream = log.find_one({"position": 2}), log.find_one({"position": 4})
    log.delete_one({"position": 1})
    assert verify_log(log).problems == [
        Problem("missing-position", 1, "positions 1..1 are missing"),
        Problem(
            "broken-chain",
            2,
            "prev_hash is not the hash of the event before it",
            second["_id"],
            "case-1",
        ),
        Problem(
            "missing-version",
            4,
            "stream case-0 goes from version 0 to 2",
            next_in_stream["_id"],
            "case-0",
        ),
    ]


def test_an_event_that_lost_its_position_does_not_stop_the_walk(log):
    """A document without a position sorts before all others; everything after it is still
    checked and reported."""
    unpositioned = log.find_one({"position": 5})["_id"]
    log.update_one({"_id": unpositioned}, {"$unset": {"position": ""}})
    log.update_one({"position": 9}, {"$set": {"data.index": 99}})
    report = verify_log(log)
    assert [(p.kind, p.position, p.event_id) for p in report.problems][:1] == [
        ("malformed", None, unpositioned)
    ]
    assert ("altered", 9) in [(p.kind, p.position) for p in report.problems]
    assert (report.events_checked, report.head_position) == (11, 12)


def test_an_event_stripped_of_its_previous_hash_is_reported_not_a_crash(log):
    """Without prev_hash the event can neither match its hash nor chain: both are reported."""
    log.update_one({"position": 6}, {"$unset": {"prev_hash": ""}})
    assert [(p.kind, p.position) for p in verify_log(log).problems] == [
        ("altered", 6),
        ("broken-chain", 6),
    ]
