"""Attachments in GridFS: refused before anything is written, sealed with their case's key,
opened and hash-checked when read back."""

import hashlib
import os

import pytest
from bson import Binary, ObjectId

from services.intake.attachments import (
    AttachmentCorrupted,
    AttachmentErased,
    AttachmentNotFound,
    AttachmentRefused,
    AttachmentStore,
)
from tests.helpers import cipher_for

# AES-GCM around each file: a 96-bit nonce before, a 128-bit tag after.
NONCE_BYTES = 12
TAG_BYTES = 16
PDF = b"%PDF-1.7\n" + os.urandom(600_000)  # more than two GridFS chunks of 255 KiB
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(64)
JPEG = b"\xff\xd8\xff\xe0" + os.urandom(64)
TEXT = b"Les faits se sont produits le 3 mars.\n"


def short_ids(value):
    """Test ids that name random contents by their size: the same in every process, so that a
    test can be selected by its id (as mutation testing does)."""
    return f"{len(value)}-bytes" if isinstance(value, bytes) else None


@pytest.fixture
def keys(database):
    return cipher_for(database).keys


@pytest.fixture
def attachments(database, keys):
    return AttachmentStore(database, keys, max_bytes=1024 * 1024)


def stored_files(database):
    return list(database["fs.files"].find())


def chunks_of(database, file_id):
    return sorted(database["fs.chunks"].find({"files_id": ObjectId(file_id)}), key=lambda c: c["n"])


def tamper(database, file_id, chunk_number, edit):
    """Rewrite one stored chunk of a file.

    nx-27017 keeps GridFS in its own tables, where update_one on fs.chunks matches nothing;
    taking the file's chunks out and putting them back edited works there and on MongoDB.
    """
    files_id = ObjectId(file_id)
    chunks = chunks_of(database, file_id)
    assert len(chunks) > chunk_number
    database["fs.chunks"].delete_many({"files_id": files_id})
    database["fs.chunks"].insert_many(
        {
            "files_id": files_id,
            "n": chunk["n"],
            "data": Binary(edit(chunk["data"]) if chunk["n"] == chunk_number else chunk["data"]),
        }
        for chunk in chunks
    )


def test_a_file_goes_in_and_comes_back_with_its_size_and_hash(attachments, database):
    stored = attachments.put("plainte.pdf", "application/pdf", PDF, owner="report-1")
    assert stored == {
        "file_id": stored["file_id"],
        "filename": "plainte.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(),
    }
    assert attachments.get(stored["file_id"]) == PDF
    [document] = stored_files(database)
    assert str(document["_id"]) == stored["file_id"]
    assert document["filename"] == stored["file_id"]  # the real name is personal data
    assert document["length"] == NONCE_BYTES + len(PDF) + TAG_BYTES  # sealed
    assert document["metadata"] == {
        "content_type": "application/pdf",
        "sha256": stored["sha256"],
        "owner": "report-1",
    }


@pytest.mark.parametrize(
    "content_type, data",
    [
        ("image/png", PNG),
        ("image/jpeg", JPEG),
        ("text/plain", TEXT),
        ("message/rfc822", b"From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"),
        ("Application/PDF; name=plainte.pdf", PDF),
    ],
    ids=short_ids,
)
def test_every_allowed_type_is_kept_under_its_plain_lowercase_name(attachments, content_type, data):
    stored = attachments.put("piece", content_type, data, owner="report-1")
    assert stored["content_type"] == content_type.split(";")[0].lower()
    assert attachments.get(stored["file_id"]) == data


@pytest.mark.parametrize(
    "filename, kept",
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\declarant\\plainte.pdf", "plainte.pdf"),
        ("rapport\u202efdp.pdf", "rapportfdp.pdf"),
        ("ligne\r\nX-Injected: 1.pdf", "ligneX-Injected: 1.pdf"),
        ("  témoignage\x00.pdf ", "témoignage.pdf"),
    ],
)
def test_a_filename_keeps_only_a_safe_basename(attachments, filename, kept):
    assert attachments.put(filename, "application/pdf", PDF, owner="r")["filename"] == kept


@pytest.mark.parametrize(
    "filename, content_type, data, reason",
    [
        ("vide.pdf", "application/pdf", b"", "file is empty"),
        ("gros.txt", "text/plain", b"x" * (1024 * 1024 + 1), "over the limit of 1048576 bytes"),
        ("prog.exe", "application/x-msdownload", b"MZ\x90\x00", "type application/x-msdownload"),
        ("sans-type", "", TEXT, "type (none) is not kept; allowed: application/pdf, image/jpeg"),
        ("faux.pdf", "application/pdf", TEXT, "declared application/pdf but its content lacks"),
        ("faux.png", "image/png", JPEG, "declared image/png but its content is image/jpeg"),
        ("faux.jpg", "image/jpeg", PNG, "declared image/jpeg but its content is image/png"),
        ("faux.txt", "text/plain", PDF, "declared text/plain but its content is application/pdf"),
        ("mail.eml", "message/rfc822", PNG, "declared message/rfc822 but its content is image/png"),
        ("../", "application/pdf", PDF, "has no usable name"),
        ("dossier/..", "application/pdf", PDF, "has no usable name"),
        ("dossier/\x07\x1b", "application/pdf", PDF, "has no usable name"),
        ("x" * 256 + ".pdf", "application/pdf", PDF, "longer than 255 characters"),
    ],
    ids=short_ids,
)
def test_a_refused_file_says_why_and_nothing_is_stored(
    attachments, database, filename, content_type, data, reason
):
    with pytest.raises(AttachmentRefused) as refused:
        attachments.put(filename, content_type, data, owner="report-1")
    assert reason in refused.value.reason
    assert stored_files(database) == []
    # The same store does keep a valid file: the count above can see one.
    attachments.put("ok.txt", "text/plain", TEXT, owner="report-1")
    assert len(stored_files(database)) == 1


def test_the_size_limit_is_inclusive(database, keys):
    store = AttachmentStore(database, keys, max_bytes=1024)
    assert store.put("juste.txt", "text/plain", b"x" * 1024, owner="r")["size"] == 1024
    with pytest.raises(AttachmentRefused, match="1025 bytes, over the limit of 1024 bytes"):
        store.put("trop.txt", "text/plain", b"x" * 1025, owner="r")


def test_a_tampered_chunk_is_detected_on_read(attachments, database):
    stored = attachments.put("plainte.pdf", "application/pdf", PDF, owner="report-1")
    tamper(database, stored["file_id"], 1, lambda data: data[:7] + bytes([data[7] ^ 1]) + data[8:])
    with pytest.raises(AttachmentCorrupted, match="does not open with its case's key"):
        attachments.get(stored["file_id"])


def test_a_chunk_of_the_wrong_length_is_detected_on_read(attachments, database):
    stored = attachments.put("plainte.pdf", "application/pdf", PDF, owner="report-1")
    tamper(database, stored["file_id"], 1, lambda data: data[:-3])
    with pytest.raises(AttachmentCorrupted, match="truncated chunk"):
        attachments.get(stored["file_id"])


def test_an_unknown_or_invalid_id_is_not_found(attachments):
    for file_id in (str(ObjectId()), "not-an-object-id"):
        with pytest.raises(AttachmentNotFound):
            attachments.get(file_id)


def test_gridfs_holds_neither_the_content_nor_the_name_in_clear(attachments, database):
    secret = b"Temoignage de Zephyrine contre Theophraste, bureau 312.\n" * 50
    stored = attachments.put("plainte-zephyrine.txt", "text/plain", secret, owner="report-1")
    chunks = b"".join(chunk["data"] for chunk in chunks_of(database, stored["file_id"]))
    assert len(chunks) == NONCE_BYTES + len(secret) + TAG_BYTES
    for clear in (secret, b"Zephyrine", b"Theophraste", b"bureau 312"):
        assert clear not in chunks
    raw_files = repr(list(database["fs.files"].find()))
    assert "zephyrine" not in raw_files
    assert attachments.get(stored["file_id"]) == secret


def test_the_same_file_is_sealed_differently_for_each_case(attachments, database):
    first = attachments.put("piece.txt", "text/plain", TEXT, owner="report-1")
    second = attachments.put("piece.txt", "text/plain", TEXT, owner="report-2")
    assert first["sha256"] == second["sha256"]
    assert (
        chunks_of(database, first["file_id"])[0]["data"]
        != (chunks_of(database, second["file_id"])[0]["data"])
    )


def test_chunks_moved_to_another_file_do_not_open(attachments, database):
    # Same owner and size: only the file id the sealing is bound to tells them apart.
    first = attachments.put("a.txt", "text/plain", b"premier fichier\n", owner="report-1")
    second = attachments.put("b.txt", "text/plain", b"second fichier.\n", owner="report-1")
    [chunk] = chunks_of(database, first["file_id"])
    tamper(database, second["file_id"], 0, lambda data: chunk["data"])
    with pytest.raises(AttachmentCorrupted, match="does not open with its case's key"):
        attachments.get(second["file_id"])
    assert attachments.get(first["file_id"]) == b"premier fichier\n"


def test_an_erased_cases_file_can_never_be_read_again(attachments, keys):
    stored = attachments.put("plainte.pdf", "application/pdf", PDF, owner="report-1")
    kept = attachments.put("autre.pdf", "application/pdf", PDF, owner="report-2")
    keys.erase("report-1")
    with pytest.raises(AttachmentErased, match="erased case"):
        attachments.get(stored["file_id"])
    assert attachments.get(kept["file_id"]) == PDF
