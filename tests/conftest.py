"""Fixtures shared by every test: a MongoDB-wire server, a fresh database per test, services.

Unless MONGO_URI is set, the session starts its own nx-27017 on a free port, so the suite needs
nothing installed by hand beyond what `make test` installs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

# Read by the cases service when its class is defined: deadlines checked often in tests.
os.environ.setdefault("DEADLINE_CHECK_INTERVAL", "0.3")
os.environ.setdefault("MAIL_POLL_INTERVAL", "0.3")
os.environ.setdefault("REMINDER_CHECK_INTERVAL", "0.3")

from allodiscri.mongo import connect
from allodiscri.store import EventStore

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def mongo_uri():
    if os.environ.get("MONGO_URI"):
        yield os.environ["MONGO_URI"]
        return
    data_dir = tempfile.mkdtemp(prefix="allodiscri-nx-")
    port = _free_port()
    server = subprocess.Popen(
        [
            str(BIN / "nx-27017"),
            "--data-dir",
            data_dir,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-file",
            os.path.join(data_dir, "server.log"),
            "--pid-file",
            os.path.join(data_dir, "server.pid"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"mongodb://127.0.0.1:{port}/"
    client = connect(uri, serverSelectionTimeoutMS=30_000)
    client.admin.command("ping")
    client.close()
    yield uri
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
    shutil.rmtree(data_dir, ignore_errors=True)


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


@pytest.fixture
def store(database):
    event_store = EventStore(database)
    event_store.ensure_indexes()
    return event_store
