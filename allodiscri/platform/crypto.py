"""Personal data sealed field by field, one data key per case, and crypto-shredding.

Each case (the subject of the personal data) gets its own AES-256-GCM data key, kept wrapped
by a master key in the `keys` collection of a database apart from the events. Personal fields
(those the catalogue marks `personal`) are sealed before the event is appended, so the log, the
read models copied from it and the messages published from it hold only ciphertext; the hash
chain covers that ciphertext. Erasing a case deletes its data key: its sealed fields can then
never be read again, anywhere, and read back as `ERASED` — while the chain still verifies and
the fields kept in clear for statistics stay as they were.

A sealed field is the object `{"sealed": "<base64 of nonce + ciphertext + tag>"}`: no input
schema accepts an object where it expects text, so a caller can never forge one.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import itertools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from allodiscri.kernel.contracts import EACH, Path
from allodiscri.kernel.events import NewEvent, RecordedEvent

SEALED = "sealed"
ERASED = "[effacé]"
"""What an erased case's personal fields read as, everywhere."""

KEYS_COLLECTION = "keys"
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce (NIST SP 800-38D)
TAG_BYTES = 16
MASTER_KEY_VARIABLE = "MASTER_KEY"
PREVIOUS_MASTER_KEYS_VARIABLE = "MASTER_KEY_PREVIOUS"
MASTER_KEY_FILE = "var/master.key"


class CryptoError(Exception):
    """Base of the errors raised on purpose when sealing or opening personal data."""


class MasterKeyError(CryptoError):
    """The master key is missing, malformed, or not the one that wrapped a data key."""


class UndecryptableField(CryptoError):
    """A sealed field does not open with its case's key: altered, or a key from elsewhere."""


class SubjectErased(CryptoError):
    """The case was erased: nothing personal can be recorded for it any more."""

    def __init__(self, subject: str):
        self.subject = subject
        super().__init__(f"the personal data of {subject} was erased; nothing more is sealed")


def keys_database_name(events_database: str) -> str:
    """The data keys live in their own database, never beside the events."""
    return f"{events_database}_keys"


# -- master keys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MasterKey:
    secret: bytes = dataclasses.field(repr=False)  # never in a log line or a traceback

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise MasterKeyError(f"a master key is {KEY_BYTES} bytes, not {len(self.secret)}")

    @property
    def id(self) -> str:
        """A fingerprint naming the key in the keys collection without revealing it."""
        return hashlib.sha256(b"allodiscri master key\x00" + self.secret).hexdigest()[:16]

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        try:
            secret = base64.b64decode(text.strip(), validate=True)
        except ValueError:  # binascii.Error, or text that is not even ASCII
            raise MasterKeyError("a master key is written in base64") from None
        return cls(secret)

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(AESGCM.generate_key(bit_length=KEY_BYTES * 8))

    def to_text(self) -> str:
        return base64.b64encode(self.secret).decode("ascii")


class MasterKeyring:
    """The current master key, which wraps, and the previous ones, which only unwrap (rotation)."""

    def __init__(self, current: MasterKey, previous: tuple[MasterKey, ...] = ()):
        self.current = current
        self._by_id = {key.id: key for key in (*previous, current)}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> MasterKeyring:
        """From `MASTER_KEY` (or the file `make run` writes) and `MASTER_KEY_PREVIOUS`."""
        current = settings.get(MASTER_KEY_VARIABLE) or os.environ.get(MASTER_KEY_VARIABLE)
        if not current and os.path.exists(MASTER_KEY_FILE):
            with open(MASTER_KEY_FILE, encoding="ascii") as handle:
                current = handle.read()
        if not current:
            raise MasterKeyError(
                f"{MASTER_KEY_VARIABLE} is not set: personal data cannot be sealed or opened"
            )
        previous = (
            settings.get(PREVIOUS_MASTER_KEYS_VARIABLE)
            or os.environ.get(PREVIOUS_MASTER_KEYS_VARIABLE)
            or ""
        )
        return cls(
            _setting_key(MASTER_KEY_VARIABLE, current),
            tuple(_setting_key(PREVIOUS_MASTER_KEYS_VARIABLE, text) for text in previous.split()),
        )

    def ids(self) -> frozenset[str]:
        """The fingerprints of every configured master key, current and previous."""
        return frozenset(self._by_id)

    def wrap(self, data_key: bytes, subject: str) -> dict[str, str]:
        wrapped = _seal(AESGCM(self.current.secret), data_key, _context(subject))
        return {"master_key_id": self.current.id, "wrapped": _b64(wrapped)}

    def unwrap(self, document: Mapping[str, Any]) -> bytes:
        subject = document["_id"]
        key = self._by_id.get(document["master_key_id"])
        if key is None:
            raise MasterKeyError(
                f"the data key of {subject} is wrapped by master key "
                f"{document['master_key_id']}, which is not configured: {MASTER_KEY_VARIABLE} "
                f"is not the key it was made with (after a rotation, keep the old one in "
                f"{PREVIOUS_MASTER_KEYS_VARIABLE})"
            )
        try:
            return _decrypt(AESGCM(key.secret), document["wrapped"], subject)
        except InvalidTag:
            raise MasterKeyError(
                f"the data key of {subject} does not unwrap: its keys document was altered"
            ) from None


def _setting_key(variable: str, text: str) -> MasterKey:
    try:
        return MasterKey.from_text(text)
    except MasterKeyError as error:
        raise MasterKeyError(f"{variable}: {error}") from None


# -- data keys ---------------------------------------------------------------------------------


class DataKeys:
    """One data key per subject in the `keys` collection; an erased subject keeps a tombstone,
    so that no new key can ever be made for it.

    Opened keys are cached for `cache_seconds`: an erasure made by another process is seen
    at the latest that much later, or at once by a `fresh` lookup.
    """

    def __init__(
        self,
        database: Database,
        keyring: MasterKeyring,
        *,
        cache_seconds: float = 60.0,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.collection = database[KEYS_COLLECTION]
        self.keyring = keyring
        self._cache: OrderedDict[str, tuple[float, bytes | None]] = OrderedDict()
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        self._clock = clock
        self._lock = threading.Lock()

    def key_for_sealing(self, subject: str) -> bytes:
        """The subject's data key, made on first use (when its case is reported)."""
        found, key = self._cached(subject)
        if not found:
            document = self.collection.find_one({"_id": subject})
            if document is None:
                document = self._create(subject)
            key = self._open(document)
        if key is None:
            raise SubjectErased(subject)
        return key

    def key_for_opening(self, subject: str, fresh: bool = False) -> bytes | None:
        """The subject's data key, or None once it is erased.

        `fresh` looks in the collection, not the cache: what a reader about to be shown
        personal data uses, so an erasure made anywhere is honoured at once.
        """
        found, key = (False, None) if fresh else self._cached(subject)
        if found:
            return key
        document = self.collection.find_one({"_id": subject})
        if document is None:
            raise UndecryptableField(
                f"no data key for {subject}: these are not the keys the events were sealed with"
            )
        return self._open(document)

    def erase(self, subject: str, at: datetime | None = None) -> bool:
        """Destroy the subject's data key for good; False if it was erased already."""
        tombstone = {"wrapped": None, "master_key_id": None, "erased_at": at or datetime.now(UTC)}
        # A whole replacement, not `$set`: the development server stores a date given to
        # `$set` as text.
        result = self.collection.replace_one({"_id": subject, "wrapped": {"$ne": None}}, tombstone)
        erased = result.modified_count == 1
        if not erased and self.collection.find_one({"_id": subject}) is None:
            try:  # never had a key: the tombstone still forbids making one
                self.collection.insert_one({"_id": subject, **tombstone})
                erased = True
            except DuplicateKeyError:
                return self.erase(subject, at)
        self.forget(subject)
        return erased

    def is_erased(self, subject: str) -> bool:
        document = self.collection.find_one({"_id": subject}, {"wrapped": 1})
        return document is not None and document["wrapped"] is None

    def rotate(self) -> int:
        """Re-wrap every data key under the current master key; returns how many changed.

        Events are untouched: they are sealed with the data keys, which stay the same.
        """
        rotated = 0
        for document in self.collection.find(self._stale()):
            data_key = self.keyring.unwrap(document)
            update = self.keyring.wrap(data_key, document["_id"])
            changed = self.collection.update_one(
                {"_id": document["_id"], "wrapped": document["wrapped"]}, {"$set": update}
            )
            rotated += changed.modified_count
        return rotated

    def not_under_current(self) -> int:
        """How many live data keys are wrapped by another master key than the current one."""
        return self.collection.count_documents(self._stale())

    def _stale(self) -> dict[str, Any]:
        return {"wrapped": {"$ne": None}, "master_key_id": {"$ne": self.keyring.current.id}}

    def forget(self, subject: str) -> None:
        with self._lock:
            self._cache.pop(subject, None)

    def _create(self, subject: str) -> dict[str, Any]:
        data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        document = {
            "_id": subject,
            **self.keyring.wrap(data_key, subject),
            "created_at": datetime.now(UTC),
        }
        try:
            self.collection.insert_one(document)
        except DuplicateKeyError:  # made by a concurrent writer: use theirs
            return self.collection.find_one({"_id": subject})
        return document

    def preload(self, subjects: Iterable[str | None], fresh: bool = False) -> None:
        """Read in one query the keys of `subjects` not cached yet (all of them if `fresh`):
        a replay's window, or the events a reader is about to be shown.

        A replay opening one case after another would otherwise pay one round trip per case.
        Subjects without a key are left for `key_for_opening` to report.
        """
        wanted = {subject for subject in subjects if subject is not None}
        if fresh:
            for subject in wanted:
                self.forget(subject)
        missing = sorted(subject for subject in wanted if not self._cached(subject)[0])
        if missing:
            for document in self.collection.find({"_id": {"$in": missing}}):
                self._open(document)

    def _open(self, document: Mapping[str, Any]) -> bytes | None:
        key = None if document["wrapped"] is None else self.keyring.unwrap(document)
        with self._lock:
            self._cache[document["_id"]] = (self._clock() + self._cache_seconds, key)
            self._cache.move_to_end(document["_id"])
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return key

    def _cached(self, subject: str) -> tuple[bool, bytes | None]:
        """(found, key): a found None is an erased subject, remembered as such."""
        with self._lock:
            entry = self._cache.get(subject)
            if entry is None:
                return False, None
            if entry[0] <= self._clock():
                del self._cache[subject]
                return False, None
            self._cache.move_to_end(subject)  # least recently used goes first
            return True, entry[1]


# -- sealing and opening fields ----------------------------------------------------------------


def subject_of(data: Mapping[str, Any]) -> str | None:
    """The case whose key seals this event's personal data (a report's id is its case's)."""
    return data.get("case_id") or data.get("report_id")


class FieldCipher:
    """Seals the personal fields of event data, and opens them for the readers entitled to.

    `paths_of(event_type)` tells where an event type's personal fields are (the catalogue's).
    """

    def __init__(self, keys: DataKeys, paths_of: Callable[[str], tuple[Path, ...]]):
        self.keys = keys
        self.paths_of = paths_of

    def seal_event(self, event: NewEvent) -> NewEvent:
        return dataclasses.replace(event, data=self.seal(event.data, self.paths_of(event.type)))

    def open_event(self, event: RecordedEvent) -> RecordedEvent:
        return dataclasses.replace(event, data=self.open(event.data))

    def open_events(
        self, events: Iterable[RecordedEvent], window: int = 1000, *, fresh: bool = False
    ) -> Iterator[RecordedEvent]:
        """Every event opened, the keys of each window of events read in one query (`fresh`:
        from the collection, whatever the cache holds)."""
        events = iter(events)
        while chunk := list(itertools.islice(events, window)):
            self.keys.preload((subject_of(event.data) for event in chunk), fresh)
            yield from map(self.open_event, chunk)

    def seal(self, data: dict[str, Any], paths: tuple[Path, ...]) -> dict[str, Any]:
        if not paths:
            return data
        subject = subject_of(data)
        if subject is None:
            raise CryptoError("personal data with no case_id or report_id to seal it for")
        context = _context(subject)
        aeads: list[AESGCM] = []

        def seal_value(value: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, str):
                raise CryptoError(f"a personal field of {subject} is not text: {type(value)}")
            if not aeads:  # looked up at the first value: no key is made for nothing
                aeads.append(AESGCM(self.keys.key_for_sealing(subject)))
            return {SEALED: _b64(_seal(aeads[0], value.encode("utf-8"), context))}

        sealed = data
        for path in paths:
            sealed = _replace_at(sealed, path, seal_value)
        return sealed

    def open(self, data: Any, subject: str | None = None, *, fresh: bool = False) -> Any:
        """`data` with every sealed field opened, or `ERASED` where the case was erased.

        `fresh`: read the key from the collection, not the cache (see `DataKeys`).
        """
        subject = subject or (subject_of(data) if isinstance(data, Mapping) else None)
        return _Opener(self.keys, subject, fresh)(data)


class _Opener:
    def __init__(self, keys: DataKeys, subject: str | None, fresh: bool):
        self.keys = keys
        self.subject = subject
        self.fresh = fresh
        self._aead: AESGCM | None | bool = False  # False: not looked up yet

    def __call__(self, value: Any) -> Any:
        if is_sealed(value):
            return self._open(value[SEALED])
        if isinstance(value, dict):
            return {name: self(item) for name, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        return value

    def _open(self, text: str) -> str:
        if self.subject is None:
            raise UndecryptableField("a sealed field with no case to open it for")
        if self._aead is False:
            key = self.keys.key_for_opening(self.subject, self.fresh)
            self._aead = None if key is None else AESGCM(key)
        if self._aead is None:
            return ERASED
        try:
            plaintext = _decrypt(self._aead, text, self.subject)
        except InvalidTag:
            raise UndecryptableField(
                f"a sealed field of {self.subject} does not open with its key: altered, "
                "or sealed for another case"
            ) from None
        return plaintext.decode("utf-8")


def seal_bytes(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """Raw bytes (a file) sealed under a data key: `nonce + ciphertext + tag`, a random nonce
    each time. What a field's sealing does, without the base64 a JSON value needs;
    `associated_data` says what the bytes belong to, so that they open nowhere else."""
    return _seal(AESGCM(key), plaintext, associated_data)


def open_bytes(key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
    """The bytes `seal_bytes` sealed; InvalidTag if they were altered or cut, or belong to
    other associated data or another key."""
    return _unseal(AESGCM(key), sealed, associated_data)


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.keys() == {SEALED}


def _replace_at(data: Any, path: Path, change: Callable[[Any], Any]) -> Any:
    """A copy of `data` with `change` applied at `path`; absent or null steps are left alone."""
    if not path:
        return change(data)
    step, rest = path[0], path[1:]
    if step == EACH:
        return [_replace_at(item, rest, change) for item in data] if data is not None else None
    if not isinstance(data, dict) or data.get(step) is None:
        return data
    return {**data, step: _replace_at(data[step], rest, change)}


def _decrypt(aead: AESGCM, text: Any, subject: str) -> bytes:
    """Open `nonce + ciphertext + tag` in base64; InvalidTag for anything else, however
    malformed, so a damaged value is reported as such and never as a crash elsewhere."""
    try:
        blob = base64.b64decode(text, validate=True)
    except (TypeError, ValueError):
        raise InvalidTag from None
    return _unseal(aead, blob, _context(subject))


def _seal(aead: AESGCM, plaintext: bytes, associated_data: bytes) -> bytes:
    """`nonce + ciphertext + tag`, a fresh random nonce each time: the one sealed format of
    fields, files and wrapped keys."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + aead.encrypt(nonce, plaintext, associated_data)


def _unseal(aead: AESGCM, sealed: bytes, associated_data: bytes) -> bytes:
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        raise InvalidTag
    return aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated_data)


def _context(subject: str) -> bytes:
    """Associated data: a ciphertext or a wrapped key moved to another case does not open."""
    return f"allodiscri:{subject}".encode()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
