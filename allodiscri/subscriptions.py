"""Catch-up subscriptions: follow the log in order from a durable checkpoint.

The checkpoint is saved right after each handled event. A crash between the handler's effect
and the save hands that one event again on restart, so handlers make their effects idempotent
(keyed by position or event id); no other event is ever handed twice, and none is skipped. A
hole in the positions stops the subscription with an alarm: it is never passed over.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from allodiscri.events import PositionGap, RecordedEvent
from allodiscri.store import EventStore

log = logging.getLogger(__name__)

CHECKPOINTS_COLLECTION = "subscription_checkpoints"
LEASES_COLLECTION = "subscription_leases"

Handler = Callable[[RecordedEvent], Any]


class Checkpoints:
    """Durable positions per subscriber, plus the last alarm or error they met."""

    def __init__(self, database: Database):
        self.collection = database[CHECKPOINTS_COLLECTION]

    def load(self, name: str) -> int:
        document = self.collection.find_one({"_id": name}, {"position": 1})
        return 0 if document is None else document["position"]

    def save(self, name: str, position: int) -> None:
        self.collection.update_one(
            {"_id": name},
            {
                "$max": {"position": position},
                "$set": {"updated_at": datetime.now(UTC), "problem": None},
            },
            upsert=True,
        )

    def report_problem(self, name: str, problem: str) -> None:
        self.collection.update_one(
            {"_id": name},
            {"$set": {"problem": problem, "updated_at": datetime.now(UTC)}},
            upsert=True,
        )

    def status(self, name: str) -> dict[str, Any]:
        document = self.collection.find_one({"_id": name}) or {}
        return {
            "name": name,
            "position": document.get("position", 0),
            "problem": document.get("problem"),
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

    def wants(self, event: RecordedEvent) -> bool:
        if self.types is not None and event.type not in self.types:
            return False
        return self.stream_types is None or event.stream_type in self.stream_types

    def run_once(self, keep_going: Callable[[], bool] = lambda: True) -> int:
        """Hand every event after the checkpoint, up to the head seen now; return how many.

        `keep_going` is asked before each event, so a stopping service need not drain a backlog.
        """
        position = self.checkpoints.load(self.name)
        handled = 0
        skipped_to = position
        try:
            for event in self.store.read_all(position + 1, batch_size=self.batch_size):
                if not keep_going():
                    break
                if self.wants(event):
                    self.handler(event)
                    self.checkpoints.save(self.name, event.position)
                    handled += 1
                skipped_to = event.position
        except PositionGap as gap:
            self._save_skipped(skipped_to, position)
            message = f"integrity alarm: {gap}"
            log.error(message, extra={"subscription": self.name, "alarm": "position-gap"})
            self.checkpoints.report_problem(self.name, message)
            raise
        except Exception as error:
            self._save_skipped(skipped_to, position)
            message = f"handler failed at position {skipped_to + 1}: {error!r}"
            log.error(
                message,
                extra={"subscription": self.name, "trace": traceback.format_exc()},
            )
            self.checkpoints.report_problem(self.name, message)
            raise
        self._save_skipped(skipped_to, position)
        return handled

    def _save_skipped(self, skipped_to: int, started_at: int) -> None:
        # Events the subscriber does not want advance the checkpoint in one write.
        if skipped_to > started_at:
            self.checkpoints.save(self.name, skipped_to)
