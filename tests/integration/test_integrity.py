"""Verification catches what an attacker with database access does to the log.

Each test edits the MongoDB documents directly, as such an attacker would.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from allodiscri.events import ANY
from allodiscri.hashing import document_hash
from allodiscri.integrity import CheckpointArchive, SignedCheckpoint, sign_head, verify_log
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
