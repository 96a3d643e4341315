"""Receipt codes: how a declarant without an account follows their report.

A code is 16 random digits, shown once and stored only as a slow salted hash (scrypt), so a
copy of the database does not give the codes away. A report takes `max_failures` wrong codes
in a row, then refuses every try, the right code included, for `lockout_seconds`; the count
starts afresh after that. Five tries per quarter of an hour against 10**16 codes leaves guessing
hopeless. Times are epoch floats, which every MongoDB-wire server compares the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

RECEIPT_CODES_COLLECTION = "receipt_codes"
CODE_DIGITS = 16
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
SALT_BYTES = 16

_CODE = re.compile(rf"[0-9]{{{CODE_DIGITS}}}")
_TYPING_SEPARATORS = re.compile(r"[\s-]+")
# What an unknown report is checked against, so it costs the same scrypt work as a known one.
_DECOY = {
    "salt": os.urandom(SALT_BYTES),
    "n": SCRYPT_N,
    "r": SCRYPT_R,
    "p": SCRYPT_P,
    "hash": bytes(SCRYPT_DKLEN),
}


class ReceiptLocked(Exception):
    """Too many wrong codes in a row: every try is refused until `until` (epoch seconds)."""

    def __init__(self, report_id: str, until: float):
        self.report_id = report_id
        self.until = until
        super().__init__(f"receipt checks for report {report_id} are locked until {until}")


class ReceiptAlreadyRegistered(Exception):
    """The report has a different code already; the first one stays valid."""

    def __init__(self, report_id: str):
        self.report_id = report_id
        super().__init__(f"report {report_id} already has a receipt code")


def new_receipt_code() -> str:
    """Sixteen digits from the OS's secure random source, as stored (no separators)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def format_receipt_code(code: str) -> str:
    """The code as shown to the declarant: four groups of four digits."""
    digits = normalise_receipt_code(code)
    if not _CODE.fullmatch(digits):
        raise ValueError(f"a receipt code has {CODE_DIGITS} digits")
    return " ".join(digits[start : start + 4] for start in range(0, CODE_DIGITS, 4))


def normalise_receipt_code(typed: str) -> str:
    """The code as typed, without the spaces and dashes people put in it."""
    return _TYPING_SEPARATORS.sub("", typed)


def _scrypt(code: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    # maxmem above the 128*n*r bytes scrypt needs (16 MiB for the defaults).
    return hashlib.scrypt(
        code.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=256 * n * r + 2**20
    )


class ReceiptCodes:
    """One receipt code per report, with a per-report count of consecutive failures.

    Failures are counted with an atomic `$inc` guarded by "not locked", and the lock is set by
    the one check that finds the count at the limit, so concurrent guesses cannot slip past it.
    The scrypt parameters are stored with each hash, so they can be raised for new codes while
    old ones still verify.
    """

    def __init__(
        self,
        database: Database,
        max_failures: int = 5,
        lockout_seconds: float = 900,
        clock: Callable[[], float] = time.time,
    ):
        self.collection = database[RECEIPT_CODES_COLLECTION]
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self._clock = clock

    def register(self, report_id: str, code: str) -> None:
        """Store the hash of `code` for the report; registering the same code again is a no-op."""
        digits = normalise_receipt_code(code)
        if not _CODE.fullmatch(digits):
            raise ValueError(f"a receipt code has {CODE_DIGITS} digits")
        salt = os.urandom(SALT_BYTES)
        document = {
            "_id": report_id,
            "salt": salt,
            "n": SCRYPT_N,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "hash": _scrypt(digits, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN),
            "failures": 0,
            "locked_until": 0.0,
        }
        try:
            self.collection.insert_one(document)
        except DuplicateKeyError:
            stored = self.collection.find_one({"_id": report_id})
            if stored is None or not _matches(stored, digits):
                raise ReceiptAlreadyRegistered(report_id) from None

    def check(self, report_id: str, code: str) -> bool:
        """Whether `code` is the report's receipt code; ReceiptLocked while the report is locked.

        An unknown report answers False after the same scrypt work as a known one.
        """
        now = self._clock()
        stored = self.collection.find_one({"_id": report_id})
        if stored is None:
            _matches(_DECOY, normalise_receipt_code(code))
            return False
        if stored["locked_until"] > now:
            raise ReceiptLocked(report_id, stored["locked_until"])
        if _matches(stored, normalise_receipt_code(code)):
            reset = self.collection.update_one(
                {"_id": report_id, "locked_until": {"$lte": now}},
                {"$set": {"failures": 0}},
            )
            if reset.matched_count == 0:
                raise self._locked(report_id)
            return True
        counted = self.collection.find_one_and_update(
            {"_id": report_id, "locked_until": {"$lte": now}},
            {"$inc": {"failures": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if counted is None:
            raise self._locked(report_id)
        if counted["failures"] >= self.max_failures:
            # Only one of several concurrent failures finds the count still at the limit.
            self.collection.update_one(
                {"_id": report_id, "failures": {"$gte": self.max_failures}},
                {"$set": {"failures": 0, "locked_until": now + self.lockout_seconds}},
            )
        return False

    def _locked(self, report_id: str) -> ReceiptLocked:
        # Another check locked the report between our read and our write.
        stored = self.collection.find_one({"_id": report_id}, {"locked_until": 1}) or {}
        return ReceiptLocked(report_id, stored.get("locked_until", 0.0))


def _matches(stored: dict[str, Any], digits: str) -> bool:
    # Input that is no code is hashed all the same (as the empty string), then refused.
    is_code = _CODE.fullmatch(digits) is not None
    candidate = _scrypt(
        digits if is_code else "",
        stored["salt"],
        stored["n"],
        stored["r"],
        stored["p"],
        len(stored["hash"]),
    )
    return hmac.compare_digest(candidate, stored["hash"]) and is_code
