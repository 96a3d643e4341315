"""Verification catches what an attacker with database access does to the log.

Each test edits the MongoDB documents directly, as such an attacker would.
"""

import os
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from allodiscri.kernel.events import ANY
from allodiscri.kernel.hashing import GENESIS_HASH, document_hash
from allodiscri.platform.integrity import CheckpointArchive, SignedCheckpoint, sign_head, verify_log
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
    with pytest.raises(ValueError, match="refusing to sign"):
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
