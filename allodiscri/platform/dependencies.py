"""nameko dependency providers for MongoDB, the event store and the event relay."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import eventlet
import pymongo
from nameko.extensions import DependencyProvider, SharedExtension
from pymongo.errors import PyMongoError

from allodiscri.kernel.actors import Actor
from allodiscri.kernel.boundary import Refused
from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.events import (
    AppendResult,
    ExpectedVersion,
    Metadata,
    RecordedEvent,
    stream_name,
)
from allodiscri.platform import serialization  # noqa: F401  (registers the broker's JSON)
from allodiscri.platform.config import DEFAULT_AMQP_URI, DEFAULT_MONGO_DB, DEFAULT_MONGO_URI
from allodiscri.platform.crypto import (
    DataKeys,
    FieldCipher,
    MasterKeyring,
    SubjectErased,
    keys_database_name,
)
from allodiscri.platform.mongo import connect
from allodiscri.platform.publishing import AmqpPublisher
from allodiscri.platform.store import EventStore
from allodiscri.platform.subscriptions import CatchUpSubscription, Checkpoints, Leases

log = logging.getLogger(__name__)

CATCH_UP_INTERVAL = 0.2
LEASE_TTL = 15.0
LEASE_CHECK_SECONDS = 0.5


class MongoConnection(SharedExtension):
    """One MongoClient per container, shared by its providers and entrypoints."""

    def setup(self):
        config = self.container.config
        self.client = connect(config.get("MONGO_URI") or DEFAULT_MONGO_URI)
        database_name = config.get("MONGO_DB") or DEFAULT_MONGO_DB
        self.database = self.client.get_database(database_name)
        self.keys = DataKeys(
            self.client.get_database(keys_database_name(database_name)),
            MasterKeyring.from_settings(config),
        )
        self.cipher = FieldCipher(self.keys, CATALOGUE.personal_paths)
        self.store = EventStore(self.database, upcaster=CATALOGUE.upcast, cipher=self.cipher)
        self.store.ensure_indexes()

    def stop(self):
        self.client.close()

    kill = stop


def erased_case_refusal(erased: SubjectErased) -> Refused:
    """Whatever the command (a declarant's addition or file, an interlocutor's answer…), the
    caller is told plainly why nothing personal can be recorded for this case."""
    return Refused(f"case {erased.subject} was erased: nothing personal is recorded for it")


@dataclass
class EventRecorder:
    """What a worker uses to record events: builds metadata from the worker's context."""

    store: EventStore
    service: str
    correlation_id: str

    def record(
        self,
        stream_type: str,
        stream_id: str,
        event_type: str,
        data: dict[str, Any],
        *,
        actor: Actor,
        expected_version: ExpectedVersion,
        event_id: str | None = None,
        causation_id: str | None = None,
    ) -> AppendResult:
        meta = Metadata(
            actor_id=actor.id,
            actor_role=actor.role,
            platform=actor.platform,
            service=self.service,
            correlation_id=self.correlation_id,
            causation_id=causation_id,
        )
        event = CATALOGUE.new_event(event_type, data, meta, event_id=event_id)
        try:
            return self.store.append(stream_name(stream_type, stream_id), event, expected_version)
        except SubjectErased as erased:
            raise erased_case_refusal(erased) from erased

    def open(self, data: Any, subject: str | None = None) -> Any:
        """`data` (an event's, or a read model's copy) with its personal fields opened.

        Called only where a permitted reader is about to see them: everything else, read
        models included, holds them sealed.
        """
        if self.store.cipher is None:
            return data
        return self.store.cipher.open(data, subject, fresh=True)

    def open_events(self, events: Iterable[RecordedEvent]) -> list[RecordedEvent]:
        """Events about to be shown, opened with their keys read afresh in one query."""
        if self.store.cipher is None:
            return list(events)
        return list(self.store.cipher.open_events(events, fresh=True))


class EventStoreProvider(DependencyProvider):
    mongo = MongoConnection()

    def get_dependency(self, worker_ctx) -> EventRecorder:
        correlation_id = worker_ctx.context_data.get("correlation_id") or worker_ctx.call_id
        return EventRecorder(self.mongo.store, self.container.service_name, correlation_id)


class Keys(DependencyProvider):
    """The cases' data keys, for the one command that destroys them (erasure)."""

    mongo = MongoConnection()

    def get_dependency(self, worker_ctx) -> DataKeys:
        return self.mongo.keys


class ReadModels(DependencyProvider):
    """The service's own database handle, for its read models."""

    mongo = MongoConnection()

    def get_dependency(self, worker_ctx):
        return self.mongo.database


class LeasedLoop:
    """Runs a catch-up subscription in a managed thread while holding its lease."""

    def __init__(self, container, mongo: MongoConnection, subscription: CatchUpSubscription):
        self.container = container
        self.subscription = subscription
        self.leases = Leases(mongo.database)
        self.owner = f"{container.service_name}-{uuid.uuid4().hex[:12]}"
        self.interval = float(container.config.get("CATCH_UP_INTERVAL", CATCH_UP_INTERVAL))
        self._running = False
        self._thread = None
        self._leased = False
        self._lease_checked = 0.0

    def start(self):
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._run)

    def stop(self):
        self._running = False
        if self._thread is not None:
            self._thread.wait()
        # Best effort: an unreleased lease expires by itself, and a stop must never fail, or
        # nameko leaves the container half stopped.
        try:
            with pymongo.timeout(2):
                self.leases.release(self.subscription.name, self.owner)
        except PyMongoError as error:
            log.warning("lease %s not released: %r", self.subscription.name, error)

    def kill(self):
        self._running = False
        if self._thread is not None:
            self._thread.kill()

    def _keep_going(self) -> bool:
        """Asked before each event: renews the lease now and then, and stops the run as soon
        as someone else holds it (another instance after an expiry, or a rebuild pausing us)."""
        if not self._running:
            return False
        now = time.monotonic()
        if now - self._lease_checked >= LEASE_CHECK_SECONDS:
            self._lease_checked = now
            self._leased = self.leases.acquire(self.subscription.name, self.owner, LEASE_TTL)
        return self._leased

    def _run(self):
        name = self.subscription.name
        while self._running:
            try:
                if self.leases.acquire(name, self.owner, LEASE_TTL):
                    self._leased, self._lease_checked = True, time.monotonic()
                    self.subscription.run_once(keep_going=self._keep_going)
            except Exception:
                log.exception("catch-up %s failed; retrying", name, extra={"subscription": name})
                eventlet.sleep(min(5.0, self.interval * 10))
            eventlet.sleep(self.interval)


class EventRelay(DependencyProvider):
    """Publishes this service's own stored events to `<service>.events`, from a checkpoint."""

    mongo = MongoConnection()

    def __init__(self, stream_types: tuple[str, ...]):
        self.stream_types = frozenset(stream_types)

    def start(self):
        # Built at start, not setup: nameko sets extensions up concurrently, and the shared
        # MongoConnection is only certain to be ready once every setup is done.
        config = self.container.config
        self.publisher = AmqpPublisher(config.get("AMQP_URI") or DEFAULT_AMQP_URI)
        service = self.container.service_name
        subscription = CatchUpSubscription(
            name=f"{service}-relay",
            store=self.mongo.store,
            checkpoints=Checkpoints(self.mongo.database),
            handler=lambda event: self.publisher.publish(service, event),
            stream_types=self.stream_types,
        )
        self.loop = LeasedLoop(self.container, self.mongo, subscription)
        self.loop.start()

    def stop(self):
        self.loop.stop()
        self.publisher.close()

    def kill(self):
        self.loop.kill()
        self.publisher.close()
