"""Integrity verification of the log, and signed checkpoints kept outside it.

The chain alone proves that no event was altered, removed or reordered *before the head*;
deleting the tail leaves a shorter chain that still verifies. A signed checkpoint (position,
head hash, time; HMAC-SHA256 with a key from the environment) stored in another database closes
that hole: the log must still hold that position with that hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.database import Database

from allodiscri.kernel.hashing import GENESIS_HASH, document_hash, format_time

SIGNED_CHECKPOINTS_COLLECTION = "signed_checkpoints"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Problem:
    kind: str
    position: int | None
    detail: str
    event_id: str | None = None
    stream: str | None = None


@dataclass
class VerificationReport:
    events_checked: int = 0
    head_position: int = 0
    head_hash: str = GENESIS_HASH
    checkpoint: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "head_position": self.head_position,
            "head_hash": self.head_hash,
            "checkpoint": self.checkpoint,
            "problems": [asdict(problem) for problem in self.problems],
        }


@dataclass(frozen=True)
class SignedCheckpoint:
    position: int
    head_hash: str
    signed_at: str
    signature: str

    @staticmethod
    def payload(position: int, head_hash: str, signed_at: str) -> bytes:
        document = {"position": position, "head_hash": head_hash, "signed_at": signed_at}
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")

    @classmethod
    def sign(cls, position: int, head_hash: str, key: bytes, at: datetime) -> SignedCheckpoint:
        signed_at = format_time(at)
        mac = hmac.new(key, cls.payload(position, head_hash, signed_at), hashlib.sha256)
        return cls(position, head_hash, signed_at, mac.hexdigest())

    def signature_valid(self, key: bytes) -> bool:
        mac = hmac.new(key, self.payload(self.position, self.head_hash, self.signed_at), "sha256")
        return hmac.compare_digest(mac.hexdigest(), self.signature)


class CheckpointArchive:
    """Signed checkpoints, in a database apart from the events."""

    def __init__(self, database: Database):
        self.collection: Collection = database[SIGNED_CHECKPOINTS_COLLECTION]

    def save(self, checkpoint: SignedCheckpoint) -> None:
        self.collection.insert_one(asdict(checkpoint))

    def latest(self) -> SignedCheckpoint | None:
        document = self.collection.find_one(
            {}, {"_id": 0}, sort=[("position", DESCENDING), ("signed_at", DESCENDING)]
        )
        return None if document is None else SignedCheckpoint(**document)


def verify_log(
    events: Collection,
    *,
    checkpoint: SignedCheckpoint | None = None,
    key: bytes | None = None,
    progress: Progress | None = None,
    batch_size: int = 2000,
) -> VerificationReport:
    """Walk the whole log once and report every problem found, not only the first."""
    report = VerificationReport()
    total = events.estimated_document_count()
    stream_versions: dict[str, int] = {}
    expected_position = 1
    previous_hash = GENESIS_HASH
    # Position 0 is the genesis: a checkpoint signed on the empty log vouches for it alone.
    hashes_at_checkpoint = (
        GENESIS_HASH if checkpoint is not None and checkpoint.position == 0 else None
    )
    cursor = events.find({}).sort("position", ASCENDING).batch_size(batch_size)
    for document in cursor:
        position = document.get("position")
        if not isinstance(position, int):
            report.problems.append(
                Problem("malformed", None, "event without an integer position", document["_id"])
            )
            continue
        if position > expected_position:
            report.problems.append(
                Problem(
                    "missing-position",
                    expected_position,
                    f"positions {expected_position}..{position - 1} are missing",
                )
            )
        _check_event(document, previous_hash, stream_versions, report)
        previous_hash = document.get("hash", "")
        expected_position = position + 1
        report.events_checked += 1
        report.head_position = position
        report.head_hash = previous_hash
        if checkpoint is not None and position == checkpoint.position:
            hashes_at_checkpoint = previous_hash
        if progress and report.events_checked % batch_size == 0:
            progress(report.events_checked, total)
    if progress:
        progress(report.events_checked, max(total, report.events_checked))
    if checkpoint is not None:
        _check_checkpoint(checkpoint, key, hashes_at_checkpoint, report)
    return report


def _check_event(
    document: dict[str, Any],
    previous_hash: str,
    stream_versions: dict[str, int],
    report: VerificationReport,
) -> None:
    position = document["position"]
    event_id = document.get("_id")
    stream = document.get("stream")
    try:
        recomputed = document_hash(document, document.get("prev_hash", ""))
    except (KeyError, TypeError, ValueError) as error:
        report.problems.append(
            Problem("malformed", position, f"cannot encode: {error!r}", event_id, stream)
        )
        recomputed = None
    if recomputed is not None and recomputed != document.get("hash"):
        report.problems.append(
            Problem("altered", position, "stored hash does not match content", event_id, stream)
        )
    if document.get("prev_hash") != previous_hash:
        report.problems.append(
            Problem(
                "broken-chain",
                position,
                "prev_hash is not the hash of the event before it",
                event_id,
                stream,
            )
        )
    version = document.get("version")
    last = stream_versions.get(stream, 0)
    if version != last + 1:
        report.problems.append(
            Problem(
                "missing-version",
                position,
                f"stream {stream} goes from version {last} to {version}",
                event_id,
                stream,
            )
        )
    if isinstance(version, int):
        stream_versions[stream] = max(last, version)


def _check_checkpoint(
    checkpoint: SignedCheckpoint,
    key: bytes | None,
    hash_at_checkpoint: str | None,
    report: VerificationReport,
) -> None:
    report.checkpoint = asdict(checkpoint)
    if key is None or not checkpoint.signature_valid(key):
        report.problems.append(
            Problem("checkpoint-signature", checkpoint.position, "signature does not verify")
        )
        return
    if hash_at_checkpoint is None:
        report.problems.append(
            Problem(
                "truncated",
                checkpoint.position,
                f"signed checkpoint at position {checkpoint.position} (signed "
                f"{checkpoint.signed_at}) but the log ends at {report.head_position}",
            )
        )
    elif hash_at_checkpoint != checkpoint.head_hash:
        report.problems.append(
            Problem(
                "checkpoint-mismatch",
                checkpoint.position,
                "the event at the signed position has another hash than the one signed",
            )
        )


def sign_head(
    report: VerificationReport, archive: CheckpointArchive, key: bytes
) -> SignedCheckpoint:
    """Sign the head of a log that was just verified clean."""
    if not report.ok:
        raise ValueError("refusing to sign the head of a log that failed verification")
    checkpoint = SignedCheckpoint.sign(
        report.head_position, report.head_hash, key, datetime.now(UTC)
    )
    archive.save(checkpoint)
    return checkpoint
