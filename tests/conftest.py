"""Fixtures shared by every test: a MongoDB-wire server, a fresh database per test, services.

Unless MONGO_URI is set, the session starts its own nx-27017 on a free port, so the suite needs
nothing installed by hand beyond what `make test` installs.
"""

from __future__ import annotations

import os
import uuid

import pytest

# Read by the cases service when its class is defined: deadlines checked often in tests.
os.environ.setdefault("DEADLINE_CHECK_INTERVAL", "0.3")
os.environ.setdefault("MAIL_POLL_INTERVAL", "0.3")
os.environ.setdefault("REMINDER_CHECK_INTERVAL", "0.3")
os.environ.setdefault("RETENTION_CHECK_INTERVAL", "0.3")

from allodiscri.platform.crypto import keys_database_name
from allodiscri.platform.mongo import connect
from allodiscri.platform.store import EventStore
from allodiscri.tools.embedded_store import private_server


@pytest.fixture(scope="session")
def mongo_uri():
    if os.environ.get("MONGO_URI"):
        yield os.environ["MONGO_URI"]
        return
    with private_server() as (uri, _):
        yield uri


@pytest.fixture(scope="session")
def mongo_client(mongo_uri):
    client = connect(mongo_uri)
    yield client
    client.close()


@pytest.fixture
def db_name():
    return f"t_{uuid.uuid4().hex[:16]}"


@pytest.fixture
def database(mongo_client, db_name):
    yield mongo_client.get_database(db_name)
    mongo_client.drop_database(db_name)
    mongo_client.drop_database(keys_database_name(db_name))


@pytest.fixture
def store(database):
    event_store = EventStore(database)
    event_store.ensure_indexes()
    return event_store
