"""Rebuilding a projection from the log without stopping it (blue/green), and diffing it.

The rebuild takes the live subscriber's lease, which pauses it within `PAUSE_GRACE` seconds
(it checks its lease while it works), folds the whole log up to the live checkpoint into fresh
collections, then puts each fresh collection in place of the live one and gives the lease back:
the live subscriber resumes from the same checkpoint over the rebuilt read model. A diff does the
same fold and compares instead of swapping.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo.database import Database

from allodiscri.platform.projections import Projection
from allodiscri.platform.store import EventStore
from allodiscri.platform.subscriptions import Checkpoints, Leases

PAUSE_GRACE = 2.0
PAUSE_TTL = 3600.0

Progress = Callable[[int, int], None]


class Renamed:
    """A database whose collections carry a suffix: where a rebuild writes."""

    def __init__(self, database: Database, suffix: str):
        self.database = database
        self.suffix = suffix

    def __getitem__(self, name: str):
        return self.database[name + self.suffix]


@dataclass
class RebuildReport:
    projection: str
    position: int
    events: int
    seconds: float
    differences: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        return not any(self.differences.values())


def rebuild(
    projection: Projection,
    store: EventStore,
    database: Database,
    *,
    switch: bool = True,
    progress: Progress | None = None,
    pause_grace: float = PAUSE_GRACE,
) -> RebuildReport:
    """Recompute `projection` from the log; swap it in (`switch`) or report how it differs."""
    leases, checkpoints = Leases(database), Checkpoints(database)
    owner = f"rebuild{uuid.uuid4().hex[:12]}"  # collection names: letters, digits, _
    leases.take(projection.name, owner, PAUSE_TTL)
    try:
        time.sleep(pause_grace)
        started = time.monotonic()
        target = Renamed(database, f"__rebuild_{owner}")
        for name in projection.collections:
            target[name].drop()
        position = checkpoints.load(projection.name)
        events = 0
        for event in store.read_all(1, to_position=position, batch_size=2000):
            if _wants(projection, event.type, event.stream_type):
                projection.project(target, event)
                events += 1
            if progress and event.position % 2000 == 0:
                progress(event.position, position)
        if progress:
            progress(position, position)
        report = RebuildReport(projection.name, position, events, time.monotonic() - started)
        if switch:
            for name in projection.collections:
                _swap(database, name, target[name].name)
        else:
            for name in projection.collections:
                report.differences[name] = differences(database[name], target[name])
                target[name].drop()
        return report
    finally:
        leases.release(projection.name, owner)


def _wants(projection: Projection, event_type: str, stream_type: str) -> bool:
    if projection.types is not None and event_type not in projection.types:
        return False
    return projection.stream_types is None or stream_type in projection.stream_types


def _swap(database: Database, live: str, rebuilt: str) -> None:
    """Put the rebuilt collection in place of the live one.

    MongoDB renames atomically over the live collection (`dropTarget`). The development
    server (which reports no version) renames unreliably, so there the live collection is
    emptied and refilled while its subscriber is paused: readers may see it partly filled for
    that moment.
    """
    if database.client.server_info().get("version"):  # a real MongoDB server
        database[rebuilt].rename(live, dropTarget=True)
        return
    documents = list(database[rebuilt].find())
    database[live].delete_many({})
    for start in range(0, len(documents), 1000):
        database[live].insert_many(documents[start : start + 1000])
    database[rebuilt].drop()


def differences(live, rebuilt, limit: int = 20) -> list[dict[str, Any]]:
    """Documents that differ between two collections, by `_id` (at most `limit`)."""
    found: list[dict[str, Any]] = []
    rebuilt_documents = {document["_id"]: document for document in rebuilt.find()}
    for document in live.find():
        other = rebuilt_documents.pop(document["_id"], None)
        if other != document:
            found.append({"_id": document["_id"], "live": document, "rebuilt": other})
    found.extend(
        {"_id": key, "live": None, "rebuilt": document}
        for key, document in rebuilt_documents.items()
    )
    return found[:limit]
