"""nameko dependency providers for MongoDB, the event store and the event relay."""

from __future__ import annotations

import logging
import time
import uuid

import eventlet
import pymongo
from nameko.extensions import DependencyProvider, SharedExtension
from pymongo.errors import PyMongoError

from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.platform import serialization  # noqa: F401  (registers the broker's JSON)
from allodiscri.platform.config import DEFAULT_AMQP_URI, DEFAULT_MONGO_DB, DEFAULT_MONGO_URI
from allodiscri.platform.crypto import (
    DataKeys,
    FieldCipher,
    MasterKeyring,
    keys_database_name,
)
from allodiscri.platform.mongo import connect
from allodiscri.platform.publishing import AmqpPublisher
from allodiscri.platform.store import EventStore
from allodiscri.platform.subscriptions import CatchUpSubscription, Checkpoints, Leases
from allodiscri.platform.unit_of_work import StoreUnitOfWork

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


class UnitOfWorkProvider(DependencyProvider):
    """A fresh unit of work per call, carrying the call's action and correlation id."""

    mongo = MongoConnection()

    def get_dependency(self, worker_ctx) -> StoreUnitOfWork:
        service = self.container.service_name
        return StoreUnitOfWork(
            self.mongo.store,
            self.mongo.keys,
            service,
            f"{service}.{worker_ctx.entrypoint.method_name}",
            worker_ctx.context_data.get("correlation_id") or worker_ctx.call_id,
        )


class EventLog(DependencyProvider):
    """The event store itself, for the read side that replays the whole log (statistics)."""

    mongo = MongoConnection()

    def get_dependency(self, worker_ctx) -> EventStore:
        return self.mongo.store


class Keys(DependencyProvider):
    """The cases' data keys, for what is sealed outside events (attachments in GridFS)."""

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
