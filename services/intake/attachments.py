"""Attachments of reports in GridFS, sealed, checked on the way in and on the way out.

A declarant's file is evidence: it is refused before anything is written when it is empty, too
large, of a type we do not keep, or of a type its own bytes contradict, and it is read back only
if its bytes still hash to the SHA-256 taken when it came in.

A file is personal data like the fields of its report, so it is sealed the same way before it
reaches GridFS: AES-256-GCM under the data key of its report's case (allodiscri/platform/crypto.py),
bound to its owner and file id, so that chunks moved to another file or case do not open. Its
name is kept only in the report's events, sealed there; GridFS names the file by its id. Once
the case is erased its key is gone and the file can never be read again: `get` says so with
AttachmentErased.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from cryptography.exceptions import InvalidTag
from gridfs import GridFSBucket
from gridfs.errors import CorruptGridFile, NoFile
from pymongo.database import Database

from allodiscri.kernel.boundary import text_problem
from allodiscri.platform.crypto import DataKeys, open_bytes, seal_bytes

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_ALLOWED_TYPES = frozenset(
    {"application/pdf", "image/png", "image/jpeg", "text/plain", "message/rfc822"}
)
MAX_FILENAME_LENGTH = 255

# Types whose bytes say what they are; a file declared as another type must not start so.
SIGNATURES = {
    "application/pdf": b"%PDF-",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}


class AttachmentRefused(Exception):
    """The file is not kept; the reason names the rule (limit, type, name) it broke."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class AttachmentNotFound(Exception):
    def __init__(self, file_id: str):
        self.file_id = file_id
        super().__init__(f"no attachment {file_id!r}")


class AttachmentCorrupted(Exception):
    """The stored bytes are not those that came in: they are withheld, never served."""

    def __init__(self, file_id: str, detail: str):
        self.file_id = file_id
        self.detail = detail
        super().__init__(f"attachment {file_id} is corrupted: {detail}")


class AttachmentErased(Exception):
    """The file's case was erased: its key is destroyed and the file can never be read."""

    def __init__(self, file_id: str):
        self.file_id = file_id
        super().__init__(f"attachment {file_id} belongs to an erased case: it cannot be read")


def safe_filename(filename: str) -> str:
    """The last path component, without control or format characters (e.g. U+202E)."""
    basename = filename.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(char for char in basename if unicodedata.category(char) not in {"Cc", "Cf"})
    kept = kept.strip()
    if kept in {"", ".", ".."}:
        raise AttachmentRefused(f"filename {filename!r} has no usable name once path is removed")
    if len(kept) > MAX_FILENAME_LENGTH:
        raise AttachmentRefused(f"filename is longer than {MAX_FILENAME_LENGTH} characters")
    if problem := text_problem(kept):  # a lone surrogate: the file id is built from the name
        raise AttachmentRefused(f"filename: {problem}")
    return kept


def media_type(content_type: str) -> str:
    """The type without its parameters or case: "Text/Plain; charset=utf-8" is text/plain."""
    return content_type.split(";", 1)[0].strip().lower()


def sniffed_type(data: bytes) -> str | None:
    """The type the first bytes announce, among those we recognise."""
    for content_type, signature in SIGNATURES.items():
        if data.startswith(signature):
            return content_type
    return None


def _associated_data(owner: str, file_id: ObjectId) -> bytes:
    return f"allodiscri:attachment:{owner}:{file_id}".encode()


class AttachmentStore:
    """Sealed files in the `fs` GridFS bucket, with type, owner and the SHA-256 of the
    plaintext in their metadata; `keys` are the cases' data keys (the owner is the case)."""

    def __init__(
        self,
        database: Database,
        keys: DataKeys,
        max_bytes: int = DEFAULT_MAX_BYTES,
        allowed_types: frozenset[str] = DEFAULT_ALLOWED_TYPES,
    ):
        self.bucket = GridFSBucket(database)
        self.keys = keys
        self.max_bytes = max_bytes
        self.allowed_types = allowed_types

    def put(self, filename: str, content_type: str, data: bytes, owner: str) -> dict[str, Any]:
        """Store one file, sealed, for `owner` (a report id) or refuse it, storing nothing.

        Raises SubjectErased if the owner's case was erased: nothing more is kept for it.
        """
        name = safe_filename(filename)
        declared = self._allowed_type(content_type)
        if not data:
            raise AttachmentRefused("file is empty")
        if len(data) > self.max_bytes:
            raise AttachmentRefused(
                f"file is {len(data)} bytes, over the limit of {self.max_bytes} bytes"
            )
        sniffed = sniffed_type(data)
        if sniffed != declared and (sniffed is not None or declared in SIGNATURES):
            found = f"is {sniffed}" if sniffed else f"lacks the {declared} signature"
            raise AttachmentRefused(f"file is declared {declared} but its content {found}")
        sha256 = hashlib.sha256(data).hexdigest()
        # The id derives from owner, name and content, so a retried submission stores the file
        # once and its event names the same id (what makes the retry idempotent).
        file_id = ObjectId(hashlib.sha256(f"{owner}\0{name}\0{sha256}".encode()).hexdigest()[:24])
        if not list(self.bucket.find({"_id": file_id}).limit(1)):
            key = self.keys.key_for_sealing(owner)
            self.bucket.upload_from_stream_with_id(
                file_id,
                str(file_id),  # the name is personal: it lives sealed in the report's events
                seal_bytes(key, data, _associated_data(owner, file_id)),
                metadata={"content_type": declared, "sha256": sha256, "owner": owner},
            )
        return {
            "file_id": str(file_id),
            "filename": name,
            "content_type": declared,
            "size": len(data),
            "sha256": sha256,
        }

    def get(self, file_id: str) -> bytes:
        """The file's bytes, opened, only if they still match the SHA-256 taken when it was
        stored; AttachmentErased once its case is erased."""
        try:
            object_id = ObjectId(file_id)
        except (InvalidId, TypeError):
            raise AttachmentNotFound(file_id) from None
        try:
            stored = self.bucket.open_download_stream(object_id)
            sealed = stored.read()
        except NoFile:
            raise AttachmentNotFound(file_id) from None
        except CorruptGridFile as error:
            raise AttachmentCorrupted(file_id, str(error)) from error
        metadata = stored.metadata or {}
        owner = metadata.get("owner")
        if not owner:
            raise AttachmentCorrupted(file_id, "no owner in its metadata: no key opens it")
        key = self.keys.key_for_opening(owner, fresh=True)  # an erasure counts at once
        if key is None:
            raise AttachmentErased(file_id)
        try:
            data = open_bytes(key, sealed, _associated_data(owner, object_id))
        except InvalidTag:
            raise AttachmentCorrupted(
                file_id, "content does not open with its case's key: altered, or moved"
            ) from None
        expected = metadata.get("sha256")
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise AttachmentCorrupted(
                file_id, f"content has SHA-256 {actual}, stored with {expected}"
            )
        return data

    def _allowed_type(self, content_type: str) -> str:
        declared = media_type(content_type)
        if declared not in self.allowed_types:
            allowed = ", ".join(sorted(self.allowed_types))
            raise AttachmentRefused(f"type {declared or '(none)'} is not kept; allowed: {allowed}")
        return declared
