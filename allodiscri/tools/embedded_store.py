"""A private MongoDB-wire server (nx-27017) for tests and benchmarks: free port, temporary
data, gone when the block ends, whatever way it ends."""

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
from pathlib import Path

from allodiscri.platform.mongo import connect

START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(uri: str, process: subprocess.Popen | None = None) -> None:
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
def private_server(prefix: str = "allodiscri-nx-") -> Iterator[tuple[str, subprocess.Popen]]:
    """(uri, process) of a fresh nx-27017 with one SQLite file per database."""
    data_dir = tempfile.mkdtemp(prefix=prefix)
    port = free_port()
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
        wait_until_up(uri, process)
        yield uri, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
