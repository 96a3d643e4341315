"""Catch-up subscriptions: follow the log in order from a durable checkpoint.

The checkpoint is saved right after each handled event. A crash between the handler's effect
and the save hands that one event again on restart, so handlers make their effects idempotent
(keyed by position or event id); no other event is ever handed twice, and none is skipped. A
hole in the positions stops the subscription with an alarm: it is never passed over.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from allodiscri.kernel.events import PositionGap, RecordedEvent
from allodiscri.platform.store import EventStore

log = logging.getLogger(__name__)

CHECKPOINTS_COLLECTION = "subscription_checkpoints"
LEASES_COLLECTION = "subscription_leases"
QUARANTINE_COLLECTION = "subscription_quarantine"

Handler = Callable[[RecordedEvent], Any]


class Checkpoints:
    """Durable positions per subscriber, plus the last alarm or error they met."""

    def __init__(self, database: Database):
        self.collection = database[CHECKPOINTS_COLLECTION]
        self.quarantined = database[QUARANTINE_COLLECTION]

    def load(self, name: str) -> int:
        document = self.collection.find_one({"_id": name}, {"position": 1})
        return 0 if document is None else document.get("position", 0)

    def save(self, name: str, position: int) -> None:
        """After a handled event: the subscriber is healthy again."""
        self.advance(name, position, {"problem": None, "failing": None})

    def advance(self, name: str, position: int, also: dict[str, Any] | None = None) -> None:
        # Times as epoch seconds: the same on every MongoDB-wire server, even through upserts.
        self.collection.update_one(
            {"_id": name},
            {"$max": {"position": position}, "$set": {"updated_at": time.time(), **(also or {})}},
            upsert=True,
        )

    def report_problem(self, name: str, problem: str) -> None:
        self.collection.update_one(
            {"_id": name}, {"$set": {"problem": problem, "updated_at": time.time()}}, upsert=True
        )

    def record_failure(self, name: str, position: int, reason: str) -> int:
        """Count consecutive failures at `position`; a failure elsewhere starts a new count."""
        document = self.collection.find_one({"_id": name}) or {}
        failing = document.get("failing") or {}
        attempts = failing.get("attempts", 0) + 1 if failing.get("position") == position else 1
        self.collection.update_one(
            {"_id": name},
            {
                "$set": {
                    "failing": {"position": position, "attempts": attempts},
                    "problem": reason,
                    "updated_at": time.time(),
                }
            },
            upsert=True,
        )
        return attempts

    def quarantine(self, name: str, event: RecordedEvent, reason: str) -> None:
        quarantined = {
            "subscription": name,
            "position": event.position,
            "event_id": event.id,
            "type": event.type,
            "reason": reason,
            "at": time.time(),
        }
        with contextlib.suppress(DuplicateKeyError):  # quarantined already, by a rerun
            self.quarantined.insert_one({"_id": f"{name}:{event.position}", **quarantined})
        self.collection.update_one({"_id": name}, {"$set": {"failing": None}})

    def names(self) -> list[str]:
        return sorted(document["_id"] for document in self.collection.find({}, {"_id": 1}))

    def status(self, name: str) -> dict[str, Any]:
        document = self.collection.find_one({"_id": name}) or {}
        quarantined = list(
            self.quarantined.find({"subscription": name}, {"_id": 0}).sort("position", 1)
        )
        return {
            "name": name,
            "position": document.get("position", 0),
            "updated_at": document.get("updated_at"),
            "problem": document.get("problem"),
            "quarantined": quarantined,
        }


class Leases:
    """One active runner per subscription across processes: a lease that expires if not renewed.

    Expiry is stored as epoch seconds, which every MongoDB-wire server compares the same way.
    """

    def __init__(self, database: Database, clock: Callable[[], float] = time.time):
        self.collection = database[LEASES_COLLECTION]
        self._clock = clock

    def acquire(self, name: str, owner: str, ttl: float) -> bool:
        now = self._clock()
        try:
            self.collection.insert_one({"_id": name, "owner": owner, "expires": now + ttl})
            return True
        except DuplicateKeyError:
            pass
        taken = self.collection.find_one_and_update(
            {"_id": name, "$or": [{"owner": owner}, {"expires": {"$lt": now}}]},
            {"$set": {"owner": owner, "expires": now + ttl}},
        )
        return taken is not None

    def take(self, name: str, owner: str, ttl: float) -> None:
        """Hold the lease whoever holds it now: how a rebuild pauses the live subscriber."""
        expires = self._clock() + ttl
        try:
            self.collection.insert_one({"_id": name, "owner": owner, "expires": expires})
        except DuplicateKeyError:
            self.collection.update_one(
                {"_id": name}, {"$set": {"owner": owner, "expires": expires}}
            )

    def release(self, name: str, owner: str) -> None:
        self.collection.delete_one({"_id": name, "owner": owner})


@dataclass
class CatchUpSubscription:
    name: str
    store: EventStore
    checkpoints: Checkpoints
    handler: Handler
    types: frozenset[str] | None = None
    stream_types: frozenset[str] | None = None
    batch_size: int = 500
    max_attempts: int = 3
    """A poison event (its handler fails this many times) is quarantined, then passed."""

    def wants(self, event: RecordedEvent) -> bool:
        if self.types is not None and event.type not in self.types:
            return False
        return self.stream_types is None or event.stream_type in self.stream_types

    def run_once(self, keep_going: Callable[[], bool] = lambda: True) -> int:
        """Hand every event after the checkpoint, up to the head seen now; return how many.

        `keep_going` is asked before each event, so a stopping service need not drain a backlog.
        A handler failure stops the run at that event (retried next run); after `max_attempts`
        failures the event is quarantined with its reason, shown by `status`, and passed, so one
        bad event neither freezes the subscriber nor disappears.
        """
        position = self.checkpoints.load(self.name)
        handled = 0
        skipped_to = position
        try:
            for event in self.store.read_all(position + 1, batch_size=self.batch_size):
                if not keep_going():
                    break
                if self.wants(event):
                    handled += self._handle(event)
                    self.checkpoints.save(self.name, event.position)
                skipped_to = event.position
        except PositionGap as gap:
            self._save_skipped(skipped_to, position)
            message = f"integrity alarm: {gap}"
            log.error(message, extra={"subscription": self.name, "alarm": "position-gap"})
            self.checkpoints.report_problem(self.name, message)
            raise
        except Exception:
            self._save_skipped(skipped_to, position)
            raise
        self._save_skipped(skipped_to, position)
        return handled

    def _handle(self, event: RecordedEvent) -> bool:
        """True when handled, False when quarantined; raises to retry later."""
        try:
            self.handler(event)
            return True
        except Exception as error:
            reason = f"handler failed at position {event.position} ({event.type}): {error!r}"
            attempts = self.checkpoints.record_failure(self.name, event.position, reason)
            log.error(
                reason,
                extra={
                    "subscription": self.name,
                    "attempts": attempts,
                    "trace": traceback.format_exc(),
                },
            )
            if attempts < self.max_attempts:
                raise
            self.checkpoints.quarantine(self.name, event, reason)
            log.error("event quarantined: %s", reason, extra={"subscription": self.name})
            return False

    def _save_skipped(self, skipped_to: int, started_at: int) -> None:
        # Events the subscriber does not want advance the checkpoint in one write.
        if skipped_to > started_at:
            self.checkpoints.advance(self.name, skipped_to)
