"""The server every measurement shares: MONGO_URI if set, else a private nx-27017.

A private server gets a free port and a temporary data directory, both gone when the bench
ends, whatever way it ends.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from allodiscri.mongo import connect

START_TIMEOUT_SECONDS = 30
PRIVATE_SERVER = "nx-27017 started by the bench: one SQLite file per database, WAL journal"


@dataclass(frozen=True)
class Server:
    uri: str
    pid: int | None
    """Process id when the bench started the server itself (to sample its memory)."""
    description: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(uri: str, process: subprocess.Popen | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"nx-27017 exited with code {process.returncode} at start")
        client = connect(uri, serverSelectionTimeoutMS=1000)
        try:
            client.admin.command("ping")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
        finally:
            client.close()


@contextmanager
def mongo_server() -> Iterator[Server]:
    if os.environ.get("MONGO_URI"):
        uri = os.environ["MONGO_URI"]
        _wait_until_up(uri, None)
        yield Server(uri, None, "MONGO_URI")
        return
    data_dir = tempfile.mkdtemp(prefix="allodiscri-bench-")
    port = _free_port()
    command = [
        str(Path(sys.executable).parent / "nx-27017"),
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
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        uri = f"mongodb://127.0.0.1:{port}/"
        _wait_until_up(uri, process)
        yield Server(uri, process.pid, PRIVATE_SERVER)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
