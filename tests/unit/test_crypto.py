"""Sealing and opening personal fields, and the master keys, without any database.

The data keys here live in memory (`MemoryKeys`); `tests/integration/test_sealed_events.py`
covers the real `keys` collection, the event store, erasure and rotation.
"""

import base64
import os
import uuid

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from marshmallow import Schema, ValidationError, fields

from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.contracts import EACH, personal_paths
from allodiscri.platform.crypto import (
    SEALED,
    CryptoError,
    FieldCipher,
    MasterKey,
    MasterKeyError,
    MasterKeyring,
    SubjectErased,
    UndecryptableField,
    is_sealed,
    open_bytes,
    seal_bytes,
    subject_of,
)
from tests.examples import ExampleBuilder, flip_a_bit, replaced_at, values_at
from tests.helpers import TEST_MASTER_KEY, meta

ERASED = "[effacé]"  # what an erased field reads (README), stated here, not imported
KEY_BYTES = 32  # AES-256


class MemoryKeys:
    """What `FieldCipher` needs of `DataKeys`, in a dict; counts how often keys are asked."""

    def __init__(self):
        self.keys: dict[str, bytes | None] = {}
        self.lookups = 0

    def key_for_sealing(self, subject):
        self.lookups += 1
        key = self.keys.setdefault(subject, AESGCM.generate_key(bit_length=256))
        if key is None:
            raise SubjectErased(subject)
        return key

    def key_for_opening(self, subject, fresh=False):
        self.lookups += 1
        if subject not in self.keys:
            raise UndecryptableField(f"no data key for {subject}")
        return self.keys[subject]


PERSONAL = {"personal": True}


class Person(Schema):
    name = fields.String(metadata=PERSONAL)
    age = fields.Integer()


class Note(Schema):
    case_id = fields.UUID(required=True)
    kind = fields.String(required=True)
    text = fields.String(required=True, metadata=PERSONAL)
    hint = fields.String(allow_none=True, metadata=PERSONAL)
    lines = fields.List(fields.String(metadata=PERSONAL))
    people = fields.List(fields.Nested(Person))
    renamed = fields.String(data_key="dumped-as", metadata=PERSONAL)


NOTE_PATHS = personal_paths(Note)
# Stored by an earlier release (values written down then, never recomputed here): a field of
# VECTOR_CASE, its data key wrapped under TEST_MASTER_KEY, and a file.
VECTOR_CASE = "3f1d6c52-8a0e-4b8e-9a3c-2f5e7d9b1c04"
VECTOR_FIELD = "AAECAwQFBgcICQoLBGO7cqmJpzvAIOX/2IdUTe0VLlHQHjFcCV7dtWEiHYpvX/mVOXdh3ZmR4sk="
VECTOR_WRAP = "CwoJCAcGBQQDAgEAbMI/RBMWKAi7ZLHcFlfTdoCCcRaQRbEfz1F+0s1pKocWJojkw7o5PenUXXuHuwUO"
VECTOR_FILE = bytes.fromhex(
    "aaaaaaaaaaaaaaaaaaaaaaaa8af1a96231dbb999f9e980888ac4ccd74469809817a4cbc3f0ac7f7715570529"
)
CASE = str(uuid.uuid4())
OTHER_CASE = str(uuid.uuid4())


def note(**changes):
    data = {
        "case_id": CASE,
        "kind": "discrimination",
        "text": "Camille Martin, née en 1980",
        "hint": None,
        "lines": ["ligne une", "ligne deux"],
        "people": [{"name": "Dominique", "age": 40}, {"name": "Alex", "age": 31}],
        "dumped-as": "sous un autre nom",
    }
    return {**data, **changes}


@pytest.fixture
def keys():
    return MemoryKeys()


@pytest.fixture
def cipher(keys):
    return FieldCipher(keys, CATALOGUE.personal_paths)


def seal(cipher, data):
    return cipher.seal(data, NOTE_PATHS)


# -- where personal fields are ----------------------------------------------------------------


def test_personal_paths_follow_nesting_lists_and_dumped_names():
    # A class of its own: the paths are cached per schema, and must be worked out here.
    paths = personal_paths(type("NoteAgain", (Note,), {}))
    assert set(paths) == {
        ("text",),
        ("hint",),
        ("lines", EACH),
        ("people", EACH, "name"),
        ("dumped-as",),
    }


def test_the_catalogue_marks_identities_and_narratives_and_nothing_statistics_need():
    paths = CATALOGUE.personal_paths("ReportReceived")
    assert {("declarant", "name"), ("declarant", "email"), ("facts", "narrative")} <= set(paths)
    assert ("attachments", EACH, "filename") in paths
    clear = {("channel",), ("platform",), ("facts", "kinds"), ("declarant", "role")}
    assert not clear & {path[:2] for path in paths}
    assert CATALOGUE.personal_paths("ReferralAnswered") == (("answer",), ("measures", EACH))
    assert CATALOGUE.personal_paths("CaseOpened") == ()


def test_the_registry_answers_the_paths_of_each_current_schema():
    for contract in CATALOGUE.contracts():
        assert CATALOGUE.personal_paths(contract.type) == personal_paths(contract.schema)


def test_the_subject_is_the_case_or_else_the_report():
    """A report's id is its case's id: both name the same data key."""
    assert subject_of({"case_id": "c", "report_id": "r"}) == "c"
    assert subject_of({"report_id": "r"}) == "r"
    assert subject_of({"other": "x"}) is None


# -- sealing and opening ----------------------------------------------------------------------


def test_every_personal_value_is_sealed_and_opens_back_exactly(cipher):
    data = note()
    sealed = seal(cipher, data)
    for path in NOTE_PATHS:
        for value in values_at(sealed, path):
            assert value is None or is_sealed(value), path
    assert sealed["case_id"] == CASE and sealed["kind"] == "discrimination"
    assert [person["age"] for person in sealed["people"]] == [40, 31]
    assert "Camille" not in repr(sealed) and "Dominique" not in repr(sealed)
    assert cipher.open(sealed) == data


def test_sealing_leaves_the_proposed_data_untouched(cipher):
    """The store compares the proposed plaintext on a retry: it must still be plaintext."""
    data = note()
    seal(cipher, data)
    assert data == note()


def test_each_value_gets_a_fresh_nonce(cipher):
    """Equal texts give unequal ciphertexts: nothing links two cases' identical answers."""
    sealed = seal(cipher, note(lines=["même", "même"]))
    first, second = sealed["lines"]
    assert first != second
    assert seal(cipher, note())["text"] != seal(cipher, note())["text"]


def test_null_absent_and_empty_values(cipher):
    data = {"case_id": CASE, "text": "", "hint": None}
    sealed = seal(cipher, data)
    assert is_sealed(sealed["text"]) and sealed["hint"] is None
    assert "lines" not in sealed and "people" not in sealed
    assert cipher.open(sealed) == data


def test_no_key_is_asked_for_when_nothing_personal_is_present(keys, cipher):
    """An erased case can still record events that carry nothing personal."""
    keys.keys[CASE] = None
    data = {"case_id": CASE, "kind": "x", "hint": None}
    assert seal(cipher, data) == data
    assert keys.lookups == 0


def test_one_key_lookup_seals_or_opens_a_whole_event(keys, cipher):
    sealed = seal(cipher, note())
    assert keys.lookups == 1
    cipher.open(sealed)
    assert keys.lookups == 2


def test_personal_data_with_no_case_to_seal_it_for_is_refused(cipher):
    message = "^personal data with no case_id or report_id to seal it for$"
    with pytest.raises(CryptoError, match=message):
        seal(cipher, {"text": "Camille"})


def test_a_personal_value_that_is_not_text_is_refused(cipher):
    message = f"^a personal field of {CASE} is not text: <class 'int'>$"
    with pytest.raises(CryptoError, match=message):
        seal(cipher, {"case_id": CASE, "text": 42})


def test_a_read_model_copy_without_its_case_id_opens_with_the_subject_given(cipher):
    sealed = seal(cipher, note())
    copy = {"summary": sealed["text"], "nested": [{"line": sealed["lines"][0]}]}
    assert cipher.open(copy, CASE) == {
        "summary": "Camille Martin, née en 1980",
        "nested": [{"line": "ligne une"}],
    }
    with pytest.raises(UndecryptableField, match="^a sealed field with no case to open it for$"):
        cipher.open(copy)


def test_a_list_opens_item_by_item_and_needs_its_subject_for_sealed_items(cipher):
    """A list has no case id of its own: plain items come back as they are, sealed ones need
    the subject given."""
    sealed = seal(cipher, note())["lines"]
    assert cipher.open(["clair", 3, None]) == ["clair", 3, None]
    assert cipher.open(sealed, CASE) == ["ligne une", "ligne deux"]
    with pytest.raises(UndecryptableField, match="no case"):
        cipher.open(sealed)


def test_seal_event_uses_the_catalogue_paths_of_its_type(cipher):
    builder = ExampleBuilder(CASE)
    event = CATALOGUE.new_event(
        "InterviewHeld", builder.data(CATALOGUE.contract("InterviewHeld").schema()), meta()
    )
    sealed = cipher.seal_event(event)
    assert is_sealed(sealed.data["notes"]) and sealed.data["case_id"] == CASE
    assert (sealed.id, sealed.type, sealed.meta) == (event.id, event.type, event.meta)


def test_a_sealed_value_is_base64_of_nonce_ciphertext_and_tag_bound_to_its_case(keys, cipher):
    """The one sealed format (docs/security.md): a 12-byte nonce, the ciphertext as long as the
    UTF-8 text, a 16-byte tag; the associated data is `allodiscri:<case id>`."""
    sealed = seal(cipher, note(text="Camille"))["text"]
    blob = base64.b64decode(sealed[SEALED], validate=True)
    assert len(blob) == 12 + len("Camille") + 16
    context = f"allodiscri:{CASE}".encode()
    assert AESGCM(keys.keys[CASE]).decrypt(blob[:12], blob[12:], context) == b"Camille"


def test_a_field_sealed_by_an_earlier_release_still_opens(keys, cipher):
    """Sealed once with the data key 00 01 … 1f and the nonce 00 01 … 0b, kept as it was
    stored: whatever changes in the code, what the log holds must keep opening."""
    keys.keys[VECTOR_CASE] = bytes(range(32))
    stored = {"case_id": VECTOR_CASE, "kind": "x", "text": {SEALED: VECTOR_FIELD}}
    assert cipher.open(stored) == {
        "case_id": VECTOR_CASE,
        "kind": "x",
        "text": "Camille Martin, née en 1980",
    }


def test_null_items_and_non_objects_on_a_personal_path_are_left_alone(cipher):
    """A list of lists whose inner list is null, and a list of texts where objects were
    expected: nothing there to seal, and nothing breaks."""
    data = {"case_id": CASE, "rows": [None, ["une"]], "people": ["pas un objet", None]}
    sealed = cipher.seal(data, (("rows", EACH, EACH), ("people", EACH, "name")))
    assert sealed["rows"][0] is None and is_sealed(sealed["rows"][1][0])
    assert sealed["people"] == ["pas un objet", None]
    assert cipher.open(sealed) == data


def test_a_file_is_sealed_in_the_same_format_bound_to_its_associated_data():
    key = bytes(range(32))
    sealed = seal_bytes(key, b"%PDF-1.7 plainte", b"attachment:1")
    assert len(sealed) == 12 + len(b"%PDF-1.7 plainte") + 16
    assert sealed != seal_bytes(key, b"%PDF-1.7 plainte", b"attachment:1")  # fresh nonce
    assert open_bytes(key, sealed, b"attachment:1") == b"%PDF-1.7 plainte"
    with pytest.raises(InvalidTag):
        open_bytes(key, sealed, b"attachment:2")
    with pytest.raises(InvalidTag):
        open_bytes(key, sealed[:27], b"attachment:1")


def test_a_file_sealed_by_an_earlier_release_still_opens():
    assert open_bytes(bytes(range(32)), VECTOR_FILE, b"attachment:1") == b"%PDF-1.7 plainte"


# -- failures are errors, never garbage -------------------------------------------------------


def test_an_erased_case_reads_as_erased(keys, cipher):
    sealed = seal(cipher, note())
    keys.keys[CASE] = None
    opened = cipher.open(sealed)
    assert opened["text"] == ERASED and opened["lines"] == [ERASED, ERASED]
    assert opened["kind"] == "discrimination" and opened["hint"] is None
    with pytest.raises(SubjectErased, match="erased") as erased:
        seal(cipher, note())
    assert erased.value.subject == CASE  # what the service names in its refusal


@pytest.mark.parametrize("at", [0, 12, -1], ids=["nonce", "ciphertext", "tag"])
def test_a_tampered_ciphertext_is_undecryptable(cipher, at):
    sealed = seal(cipher, note())
    sealed["text"] = flip_a_bit(sealed["text"], at)
    with pytest.raises(UndecryptableField, match="does not open"):
        cipher.open(sealed)


def test_a_ciphertext_moved_to_another_case_is_undecryptable(keys, cipher):
    """Same key and all: the case id is bound in as associated data."""
    sealed = seal(cipher, note())
    keys.keys[OTHER_CASE] = keys.keys[CASE]
    message = (
        f"^a sealed field of {OTHER_CASE} does not open with its key: altered, "
        "or sealed for another case$"
    )
    with pytest.raises(UndecryptableField, match=message):
        cipher.open({"case_id": OTHER_CASE, "text": sealed["text"]})


def test_a_ciphertext_under_another_key_is_undecryptable(keys, cipher):
    sealed = seal(cipher, note())
    keys.keys[CASE] = AESGCM.generate_key(bit_length=256)
    with pytest.raises(UndecryptableField):
        cipher.open(sealed)


MALFORMED = {
    "not-base64": "not base64!",
    "empty": "",
    "shorter-than-a-nonce": base64.b64encode(b"short").decode(),
    "shorter-than-nonce-and-tag": base64.b64encode(b"x" * 27).decode(),
    "number": 42,
    "null": None,
}


@pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_sealed_value_is_undecryptable(cipher, value):
    seal(cipher, note())
    with pytest.raises(UndecryptableField):
        cipher.open({"case_id": CASE, "text": {SEALED: value}})


def test_unknown_keys_are_undecryptable_not_garbage(cipher):
    sealed = seal(cipher, note())
    stranger = FieldCipher(MemoryKeys(), CATALOGUE.personal_paths)
    with pytest.raises(UndecryptableField, match="no data key"):
        stranger.open(sealed)


# -- input can never carry a sealed object ----------------------------------------------------


def personal_cases():
    for contract in CATALOGUE.contracts():
        for path in CATALOGUE.personal_paths(contract.type):
            yield pytest.param(contract.type, path, id=f"{contract.type}.{'.'.join(path)}")


@pytest.mark.parametrize(("event_type", "path"), list(personal_cases()))
def test_no_catalogue_schema_accepts_a_sealed_object_for_personal_text(event_type, path):
    """Otherwise a caller could store a ciphertext of their choosing, or one copied from
    another case, and have it opened as the case's own text."""
    data = ExampleBuilder().data(CATALOGUE.contract(event_type).schema())
    CATALOGUE.new_event(event_type, data, meta())  # valid as built
    forged = replaced_at(data, path, {SEALED: base64.b64encode(os.urandom(40)).decode()})
    with pytest.raises(ValidationError):
        CATALOGUE.new_event(event_type, forged, meta())


# -- master keys ------------------------------------------------------------------------------


def test_a_master_key_round_trips_through_its_text():
    key = MasterKey.generate()
    assert len(key.secret) == KEY_BYTES
    assert MasterKey.from_text(key.to_text()) == key
    assert MasterKey.from_text(f"  {key.to_text()}\n") == key  # as read from a file


def test_a_master_key_is_named_by_a_stable_fingerprint_and_never_shown():
    """Its repr can end up in a log line or a traceback."""
    key = MasterKey.from_text(TEST_MASTER_KEY)
    assert TEST_MASTER_KEY not in repr(key) and repr(key.secret) not in repr(key)
    assert len(key.id) == 16
    assert key.id == MasterKey.from_text(TEST_MASTER_KEY).id
    assert key.id != MasterKey.generate().id


def test_a_master_key_fingerprint_never_changes():
    """Keys documents name their master key by it: a new recipe would orphan every data key."""
    assert MasterKey.from_text(TEST_MASTER_KEY).id == "2db309b79407f6de"


def test_a_data_key_wrapped_by_an_earlier_release_still_unwraps():
    """Wrapped once under the tests' master key with the nonce 0b 0a … 00, as stored."""
    document = {"_id": VECTOR_CASE, "master_key_id": "2db309b79407f6de", "wrapped": VECTOR_WRAP}
    ring = MasterKeyring(MasterKey.from_text(TEST_MASTER_KEY))
    assert ring.unwrap(document) == bytes(range(32))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "32 bytes, not 0"),
        (base64.b64encode(b"too short").decode(), "32 bytes, not 9"),
        (base64.b64encode(b"x" * 33).decode(), "32 bytes, not 33"),
        ("not base64 at all", "base64"),
        (TEST_MASTER_KEY[:-2], "base64"),
        ("clé-maîtresse", "base64"),
    ],
    ids=["empty", "short", "long", "not-base64", "truncated", "not-ascii"],
)
def test_a_malformed_master_key_is_a_master_key_error(text, message):
    with pytest.raises(MasterKeyError, match=message):
        MasterKey.from_text(text)


def test_a_wrapped_data_key_unwraps_with_the_current_or_a_previous_key():
    old, new = MasterKey.generate(), MasterKey.generate()
    data_key = os.urandom(KEY_BYTES)
    wrapped = {"_id": CASE, **MasterKeyring(old).wrap(data_key, CASE)}
    assert wrapped["master_key_id"] == old.id
    assert data_key.hex() not in repr(wrapped)
    ring = MasterKeyring(new, (old,))
    assert ring.unwrap(wrapped) == data_key
    rewrapped = {"_id": CASE, **ring.wrap(data_key, CASE)}
    assert rewrapped["master_key_id"] == new.id
    assert MasterKeyring(new).unwrap(rewrapped) == data_key


def test_a_wrong_master_key_is_named_clearly():
    data_key = os.urandom(KEY_BYTES)
    right, wrong = MasterKey.generate(), MasterKey.generate()
    wrapped = {"_id": CASE, **MasterKeyring(right).wrap(data_key, CASE)}
    with pytest.raises(MasterKeyError, match=f"master key {right.id}, which is not configured"):
        MasterKeyring(wrong).unwrap(wrapped)


def test_an_altered_or_moved_wrapped_key_does_not_unwrap():
    key = MasterKey.generate()
    ring = MasterKeyring(key)
    wrapped = {"_id": CASE, **ring.wrap(os.urandom(KEY_BYTES), CASE)}
    with pytest.raises(MasterKeyError, match=f"data key of {OTHER_CASE} does not unwrap"):
        ring.unwrap({**wrapped, "_id": OTHER_CASE})
    for damaged in (flip_a_bit({SEALED: wrapped["wrapped"]})[SEALED], "%%%", "", "AAAA"):
        with pytest.raises(MasterKeyError, match="altered"):
            ring.unwrap({**wrapped, "wrapped": damaged})


# -- master keys from the settings ------------------------------------------------------------


@pytest.fixture
def no_master_key_around(monkeypatch, tmp_path):
    """Neither the environment nor a `var/master.key` in the working directory."""
    monkeypatch.delenv("MASTER_KEY", raising=False)
    monkeypatch.delenv("MASTER_KEY_PREVIOUS", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_keyring_comes_from_the_settings_first(no_master_key_around, monkeypatch):
    old, new, env = MasterKey.generate(), MasterKey.generate(), MasterKey.generate()
    monkeypatch.setenv("MASTER_KEY", env.to_text())
    ring = MasterKeyring.from_settings(
        {"MASTER_KEY": new.to_text(), "MASTER_KEY_PREVIOUS": f" {old.to_text()}  "}
    )
    assert ring.current == new
    assert MasterKeyring.from_settings({}).current == env
    wrapped = {"_id": CASE, **MasterKeyring(old).wrap(b"k" * KEY_BYTES, CASE)}
    assert ring.unwrap(wrapped) == b"k" * KEY_BYTES


def test_the_keyring_takes_several_previous_keys_from_the_environment(
    no_master_key_around, monkeypatch
):
    first, second, current = (MasterKey.generate() for _ in range(3))
    monkeypatch.setenv("MASTER_KEY", current.to_text())
    monkeypatch.setenv("MASTER_KEY_PREVIOUS", f"{first.to_text()} {second.to_text()}")
    ring = MasterKeyring.from_settings({"MASTER_KEY_PREVIOUS": None})
    assert ring.ids() == {first.id, second.id, current.id}
    for old in (first, second):
        wrapped = {"_id": CASE, **MasterKeyring(old).wrap(b"k" * KEY_BYTES, CASE)}
        assert ring.unwrap(wrapped) == b"k" * KEY_BYTES


def test_the_keyring_falls_back_to_the_development_key_file(no_master_key_around):
    key = MasterKey.generate()
    (no_master_key_around / "var").mkdir()
    (no_master_key_around / "var" / "master.key").write_text(key.to_text() + "\n")
    assert MasterKeyring.from_settings({"MASTER_KEY": ""}).current == key


def test_no_master_key_anywhere_is_a_clear_error(no_master_key_around):
    with pytest.raises(MasterKeyError, match="MASTER_KEY is not set"):
        MasterKeyring.from_settings({"MASTER_KEY": None})


def test_a_malformed_setting_is_named(no_master_key_around):
    good = MasterKey.generate().to_text()
    with pytest.raises(MasterKeyError, match="^MASTER_KEY: a master key is 32 bytes, not 9$"):
        MasterKeyring.from_settings({"MASTER_KEY": base64.b64encode(b"too short").decode()})
    with pytest.raises(MasterKeyError, match="^MASTER_KEY_PREVIOUS: .*base64"):
        MasterKeyring.from_settings({"MASTER_KEY": good, "MASTER_KEY_PREVIOUS": f"{good} nope!"})
