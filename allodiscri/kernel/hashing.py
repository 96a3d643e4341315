"""The global hash chain: one definition shared by the writer and the verifier.

hash(n) = SHA-256(prev_hash || canonical bytes of event n). The canonical bytes are a JSON
encoding with sorted keys and no whitespace, so an outside tool can recompute them
(docs/integrity.md gives the recipe). Times are cut to milliseconds, BSON's precision, so the
hash covers the value exactly as stored.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


def stored_time(moment: datetime) -> datetime:
    """The instant as MongoDB keeps it: UTC, millisecond precision."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


def format_time(moment: datetime) -> str:
    return stored_time(moment).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def canonical_bytes(
    *,
    position: int,
    stream: str,
    version: int,
    event_id: str,
    event_type: str,
    schema_version: int,
    data: Any,
    meta: dict[str, Any],
    recorded_at: datetime,
) -> bytes:
    document = {
        "position": position,
        "stream": stream,
        "version": version,
        "id": event_id,
        "type": event_type,
        "schema_version": schema_version,
        "data": data,
        "meta": meta,
        "recorded_at": format_time(recorded_at),
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def chain_hash(prev_hash: str, payload: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + payload).hexdigest()


def document_hash(document: dict[str, Any], prev_hash: str) -> str:
    """The hash an `events` document should carry, given the hash before it."""
    return chain_hash(
        prev_hash,
        canonical_bytes(
            position=document["position"],
            stream=document["stream"],
            version=document["version"],
            event_id=document["_id"],
            event_type=document["type"],
            schema_version=document["schema_version"],
            data=document["data"],
            meta=document["meta"],
            recorded_at=document["recorded_at"],
        ),
    )
