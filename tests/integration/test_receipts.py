"""Receipt codes: slow hashes only, consecutive failures lock a report out for a while."""

import hashlib
import re
import struct
import threading

import pytest
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from services.intake import receipts as receipts_module
from services.intake.receipts import (
    RECEIPT_CODES_COLLECTION,
    ReceiptAlreadyRegistered,
    ReceiptCodes,
    ReceiptLocked,
    format_receipt_code,
    new_receipt_code,
)

CODE = "0123456789012345"
WRONG = "0123456789012346"


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def receipts(database, clock):
    codes = ReceiptCodes(database, clock=clock)
    codes.register("report-1", CODE)
    return codes


def test_new_codes_are_sixteen_random_digits_shown_in_groups_of_four():
    codes = {new_receipt_code() for _ in range(50)}
    assert len(codes) == 50
    assert all(re.fullmatch(r"[0-9]{16}", code) for code in codes)
    assert format_receipt_code(CODE) == "0123 4567 8901 2345"
    with pytest.raises(ValueError, match="^a receipt code has 16 digits$"):
        format_receipt_code("0123 4567")


def test_the_right_code_is_accepted_and_a_wrong_one_refused(receipts):
    assert receipts.check("report-1", CODE) is True
    assert receipts.check("report-1", WRONG) is False
    assert receipts.check("report-1", "") is False
    assert receipts.check("report-1", "not a code at all") is False


def test_a_code_typed_with_spaces_or_dashes_is_accepted(receipts):
    assert receipts.check("report-1", "0123 4567 8901 2345") is True
    assert receipts.check("report-1", "0123-4567-8901-2345") is True
    assert receipts.check("report-1", " 0123 - 4567\u00a08901\t2345 ") is True
    assert receipts.check("report-1", "0123 4567 8901 234") is False


def test_five_failures_lock_the_report_out_even_for_the_right_code_until_time_passes(
    receipts, clock
):
    for _ in range(5):
        assert receipts.check("report-1", WRONG) is False
    locked_at = clock.now
    with pytest.raises(ReceiptLocked) as locked:
        receipts.check("report-1", CODE)
    assert locked.value.until == locked_at + 900
    clock.now = locked_at + 899
    with pytest.raises(ReceiptLocked):
        receipts.check("report-1", WRONG)
    clock.now = locked_at + 900
    assert receipts.check("report-1", CODE) is True


def test_after_a_lock_out_the_count_starts_afresh(receipts, clock):
    for _ in range(5):
        receipts.check("report-1", WRONG)
    clock.now += 900
    for _ in range(4):
        assert receipts.check("report-1", WRONG) is False
    assert receipts.check("report-1", CODE) is True


def test_a_success_resets_the_count_of_failures(receipts, database):
    for _ in range(4):
        assert receipts.check("report-1", WRONG) is False
    assert database[RECEIPT_CODES_COLLECTION].find_one({"_id": "report-1"})["failures"] == 4
    assert receipts.check("report-1", CODE) is True
    assert database[RECEIPT_CODES_COLLECTION].find_one({"_id": "report-1"})["failures"] == 0
    for _ in range(4):
        assert receipts.check("report-1", WRONG) is False
    assert receipts.check("report-1", CODE) is True


def test_failures_are_counted_per_report(receipts):
    receipts.register("report-2", WRONG)
    for _ in range(5):
        receipts.check("report-1", WRONG)
    with pytest.raises(ReceiptLocked):
        receipts.check("report-1", CODE)
    assert receipts.check("report-2", WRONG) is True


def test_the_stored_document_holds_a_salted_scrypt_hash_and_no_plaintext_code(receipts, database):
    receipts.register("report-2", CODE)
    collection = database[RECEIPT_CODES_COLLECTION]
    raw_collection = collection.with_options(
        codec_options=CodecOptions(document_class=RawBSONDocument)
    )
    for report_id in ("report-1", "report-2"):
        raw = raw_collection.find_one({"_id": report_id}).raw
        assert report_id.encode() in raw  # the search does see the document's strings
        for plaintext in (CODE, format_receipt_code(CODE), "-".join(re.findall("....", CODE))):
            assert plaintext.encode() not in raw
            assert plaintext.encode("utf-16-le") not in raw
        assert struct.pack("<q", int(CODE)) not in raw
    one = collection.find_one({"_id": "report-1"})
    two = collection.find_one({"_id": "report-2"})
    assert set(one) == {"_id", "salt", "n", "r", "p", "hash", "failures", "locked_until"}
    assert (one["n"], one["r"], one["p"], len(one["salt"])) == (2**14, 8, 1, 16)
    expected = hashlib.scrypt(CODE.encode(), salt=one["salt"], n=2**14, r=8, p=1, dklen=32)
    assert one["hash"] == expected
    # Same code, different salts: equal hashes would tell that two codes are equal.
    assert one["salt"] != two["salt"] and one["hash"] != two["hash"]


def test_an_unknown_report_is_refused_like_a_wrong_code(receipts):
    assert receipts.check("no-such-report", CODE) is False
    for _ in range(10):
        assert receipts.check("no-such-report", WRONG) is False


def test_every_check_costs_one_scrypt_of_the_same_strength(receipts, monkeypatch):
    work = []
    scrypt = receipts_module._scrypt

    def counted(code, salt, n, r, p, dklen):
        work.append((n, r, p, dklen, len(salt)))
        return scrypt(code, salt, n, r, p, dklen)

    monkeypatch.setattr(receipts_module, "_scrypt", counted)
    receipts.check("report-1", CODE)
    receipts.check("report-1", WRONG)
    receipts.check("report-1", "not a code")
    receipts.check("no-such-report", CODE)
    assert work == [(2**14, 8, 1, 32, 16)] * 4


def test_registering_twice_keeps_the_first_code(receipts):
    receipts.register("report-1", "0123-4567-8901-2345")
    with pytest.raises(ReceiptAlreadyRegistered) as registered:
        receipts.register("report-1", WRONG)
    assert registered.value.report_id == "report-1"
    assert str(registered.value) == "report report-1 already has a receipt code"
    assert receipts.check("report-1", CODE) is True
    assert receipts.check("report-1", WRONG) is False
    with pytest.raises(ValueError, match="^a receipt code has 16 digits$"):
        receipts.register("report-3", "1234")


class ReadTogether:
    """The collection, but every checker's first read waits for all the others' reads.

    So all concurrent checks see the same count before any writes it: the interleaving where a
    read-then-write count would lose updates.
    """

    def __init__(self, collection, checkers: int):
        self._collection = collection
        self._barrier = threading.Barrier(checkers)
        self._has_read = threading.local()

    def find_one(self, *args, **kwargs):
        document = self._collection.find_one(*args, **kwargs)
        if not getattr(self._has_read, "value", False):
            self._has_read.value = True
            self._barrier.wait(timeout=30)
        return document

    def __getattr__(self, name):
        return getattr(self._collection, name)


def test_concurrent_wrong_guesses_are_all_counted_and_lock_the_report(receipts, database):
    collection = receipts.collection
    receipts.collection = ReadTogether(collection, checkers=8)
    outcomes = []

    def guess():
        try:
            outcomes.append(receipts.check("report-1", WRONG))
        except ReceiptLocked:
            outcomes.append("locked")

    guessers = [threading.Thread(target=guess) for _ in range(8)]
    for guesser in guessers:
        guesser.start()
    for guesser in guessers:
        guesser.join()
    receipts.collection = collection
    assert len(outcomes) == 8
    # Each guess was counted until the lock was set, and the lock needs five.
    assert outcomes.count(False) >= 5
    with pytest.raises(ReceiptLocked):
        receipts.check("report-1", CODE)
    stored = database[RECEIPT_CODES_COLLECTION].find_one({"_id": "report-1"})
    # Setting the lock clears the count, and no failure is counted while the report is locked.
    assert stored["failures"] == 0


class LockedByAnotherCheck:
    """The collection, but once a check has read the report, another check locks it (as a fifth
    concurrent failure would) before this one writes."""

    def __init__(self, collection, report_id: str, until: float):
        self._collection = collection
        self._report_id = report_id
        self._until = until
        self.locked = False

    def find_one(self, *args, **kwargs):
        document = self._collection.find_one(*args, **kwargs)
        if not self.locked:
            self.locked = True
            self._collection.update_one(
                {"_id": self._report_id}, {"$set": {"failures": 0, "locked_until": self._until}}
            )
        return document

    def __getattr__(self, name):
        return getattr(self._collection, name)


@pytest.mark.parametrize("typed", [CODE, WRONG])
def test_a_check_overtaken_by_a_lock_is_refused_with_that_lock_s_end(database, clock, typed):
    """A check that read the report before another check locked it must not count a failure nor
    clear the count: it is refused as locked, with the end of the lock that overtook it."""
    codes = ReceiptCodes(database, clock=clock)
    codes.register("report-0", WRONG)  # another report, stored first and never locked
    codes.register("report-1", CODE)
    collection = codes.collection
    codes.collection = LockedByAnotherCheck(collection, "report-1", until=1_700_000_900.0)
    with pytest.raises(ReceiptLocked) as locked:
        codes.check("report-1", typed)
    codes.collection = collection
    assert (locked.value.report_id, locked.value.until) == ("report-1", 1_700_000_900.0)
    stored = database[RECEIPT_CODES_COLLECTION].find_one({"_id": "report-1"})
    assert (stored["failures"], stored["locked_until"]) == (0, 1_700_000_900.0)
