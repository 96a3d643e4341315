"""`allodiscri keys status` and `allodiscri keys rotate`, as an operator runs them during a
master-key rotation: new key in MASTER_KEY, old one in MASTER_KEY_PREVIOUS."""

import json

import pytest

from allodiscri.platform.crypto import (
    KEYS_COLLECTION,
    DataKeys,
    MasterKey,
    MasterKeyring,
    keys_database_name,
)
from allodiscri.tools import cli
from tests.helpers import TEST_MASTER_KEY

OLD = MasterKey.from_text(TEST_MASTER_KEY)
NEW = MasterKey.from_text("YW5vdGhlciB0ZXN0cy1vbmx5IG1hc3RlciBrZXkgISE=")


@pytest.fixture
def keys_collection(database):
    return database.client.get_database(keys_database_name(database.name))[KEYS_COLLECTION]


@pytest.fixture
def environment(monkeypatch, tmp_path):
    """Only what each test sets: no master key from the shell nor from a `var/master.key`."""
    monkeypatch.delenv("MASTER_KEY", raising=False)
    monkeypatch.delenv("MASTER_KEY_PREVIOUS", raising=False)
    monkeypatch.chdir(tmp_path)

    def set_keys(current=None, *previous):
        if current is not None:
            monkeypatch.setenv("MASTER_KEY", current.to_text())
        if previous:
            monkeypatch.setenv("MASTER_KEY_PREVIOUS", " ".join(key.to_text() for key in previous))

    return set_keys


@pytest.fixture
def run(mongo_uri, db_name, database, capsys):
    def run(*arguments):
        code = cli.main(["--mongo-uri", mongo_uri, "--db", db_name, "keys", *arguments])
        return code, *capsys.readouterr()

    return run


def keys_under(collection, master_key, *subjects):
    keys = DataKeys(collection.database, MasterKeyring(master_key))
    return {subject: keys.key_for_sealing(subject) for subject in subjects}


def test_rotate_rewraps_every_data_key_under_the_new_master_key(environment, run, keys_collection):
    made = keys_under(keys_collection, OLD, "case-1", "case-2")
    DataKeys(keys_collection.database, MasterKeyring(OLD)).erase("case-3")
    environment(NEW, OLD)
    code, out, err = run("rotate")
    assert code == 0, err
    assert f"rotated 2 data key(s) to master key {NEW.id}" in out
    assert "MASTER_KEY_PREVIOUS can be dropped" in out
    only_new = DataKeys(keys_collection.database, MasterKeyring(NEW))
    assert {subject: only_new.key_for_opening(subject) for subject in made} == made
    assert only_new.is_erased("case-3")
    code, out, _ = run("rotate")
    assert code == 0 and "rotated 0 data key(s)" in out


def test_rotate_without_a_master_key_says_so_and_changes_nothing(environment, run, keys_collection):
    keys_under(keys_collection, OLD, "case-1")
    before = list(keys_collection.find())
    code, out, err = run("rotate")
    assert (code, out) == (2, "")
    assert "cannot rotate: MASTER_KEY is not set" in err
    assert list(keys_collection.find()) == before


def test_rotate_with_a_malformed_master_key_names_the_variable(environment, run, monkeypatch):
    environment(NEW)
    monkeypatch.setenv("MASTER_KEY_PREVIOUS", "not-a-key")
    code, _, err = run("rotate")
    assert code == 2
    assert "MASTER_KEY_PREVIOUS: a master key is written in base64" in err
    assert NEW.to_text() not in err


def test_rotate_stops_clearly_on_a_key_it_cannot_unwrap(environment, run, keys_collection):
    """The old master key forgotten in MASTER_KEY_PREVIOUS: nothing is lost, nothing changes."""
    keys_under(keys_collection, OLD, "case-1", "case-2")
    before = list(keys_collection.find())
    environment(NEW)
    code, out, err = run("rotate")
    assert code == 1 and out == ""
    assert f"rotation stopped: the data key of case-1 is wrapped by master key {OLD.id}" in err
    assert "2 data key(s) still under another master key" in err
    assert list(keys_collection.find()) == before


def test_rotate_fails_when_keys_appear_under_the_old_master_key_meanwhile(
    environment, run, keys_collection, monkeypatch
):
    """A service not yet restarted with the new MASTER_KEY still wraps new keys with the old."""
    keys_under(keys_collection, OLD, "case-1")
    rotate = DataKeys.rotate

    def rotate_while_a_stale_service_writes(keys):
        rotated = rotate(keys)
        keys_under(keys_collection, OLD, "case-2")
        return rotated

    monkeypatch.setattr(DataKeys, "rotate", rotate_while_a_stale_service_writes)
    environment(NEW, OLD)
    code, out, err = run("rotate")
    assert code == 1
    assert "rotated 1 data key(s)" in out and "can be dropped" not in out
    assert "1 data key(s) appeared under another master key meanwhile" in err


def test_status_counts_data_keys_by_master_key_and_erased_cases(environment, run, keys_collection):
    keys_under(keys_collection, OLD, "case-1", "case-2", "case-3")
    keys_under(keys_collection, NEW, "case-4")
    DataKeys(keys_collection.database, MasterKeyring(NEW)).erase("case-3")
    environment(NEW, OLD)
    code, out, err = run("status")
    assert code == 0, err
    assert out.splitlines() == [
        "data keys: 3",
        f"  master key {OLD.id} (previous): 2",
        f"  master key {NEW.id} (current): 1",
        "erased cases (tombstones): 1",
        "2 data key(s) under a previous master key: run `allodiscri keys rotate`",
    ]
    code, out, _ = run("status", "--json")
    assert code == 0
    assert json.loads(out) == {
        "current_master_key_id": NEW.id,
        "master_keys": [
            {"master_key_id": OLD.id, "role": "previous", "data_keys": 2},
            {"master_key_id": NEW.id, "role": "current", "data_keys": 1},
        ],
        "data_keys": 3,
        "erased": 1,
        "rotation_pending": 2,
        "unreadable": 0,
        "problem": None,
    }


def test_status_shows_no_secret(environment, run, keys_collection):
    keys_under(keys_collection, OLD, "case-1")
    environment(NEW, OLD)
    _, out, err = run("status")
    _, json_out, _ = run("status", "--json")
    wrapped = keys_collection.find_one()["wrapped"]
    for secret in (OLD.to_text(), NEW.to_text(), wrapped, OLD.secret.hex(), NEW.secret.hex()):
        assert secret not in out + err + json_out


def test_status_fails_when_data_keys_are_under_a_master_key_not_configured(
    environment, run, keys_collection
):
    keys_under(keys_collection, OLD, "case-1")
    environment(NEW)
    code, out, err = run("status")
    assert code == 1
    assert f"master key {OLD.id} (not configured): 1" in out
    assert "1 data key(s) under a master key that is not configured" in err


def test_status_without_a_master_key_still_counts(environment, run, keys_collection):
    keys_under(keys_collection, OLD, "case-1")
    code, out, err = run("status")
    assert code == 1
    assert "data keys: 1" in out and f"master key {OLD.id} (not configured): 1" in out
    assert "warning: MASTER_KEY is not set" in err


def test_status_of_a_platform_with_no_case_yet(environment, run):
    environment(NEW)
    code, out, _ = run("status")
    assert code == 0
    assert out.splitlines() == ["data keys: 0", "erased cases (tombstones): 0"]
