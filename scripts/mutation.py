"""Mutation testing of the modules that carry the guarantees (`make mutation`).

mutmut mutates the code and runs the tests that cover each mutant. It generates mutants with
a process pool, which eventlet's patching breaks, so the patch is applied once generation is
done and before any test runs: the tests then run patched, as under `nameko test`. Nothing
that opens sockets (pymongo, kombu) may be imported before the patch, so the one private
MongoDB-wire server that serves every mutant's run is started here as a bare process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_store() -> tuple[subprocess.Popen, str, str]:
    data_dir = tempfile.mkdtemp(prefix="allodiscri-mutation-")
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "nx-27017"), "--data-dir", data_dir]
        + ["--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, data_dir, f"mongodb://127.0.0.1:{port}/"
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the MongoDB-wire server for mutation did not start") from None
            time.sleep(0.2)


def _patch_eventlet_before_tests() -> None:
    """Patch in the processes that run pytest only (children of mutmut's fork server, which
    imports nothing beforehand): mutmut's own processes keep real threads and signals."""
    import threading

    from mutmut.runners.harness import PytestRunner
    from mutmut.workers import isolation as mutmut_isolation
    from mutmut.workers import timeout as mutmut_timeout

    def patched(method):
        def run(self, *args, **kwargs):
            import eventlet

            if not eventlet.patcher.is_monkey_patched("thread"):
                eventlet.monkey_patch()
                # Its watcher's lock was made before the patch: make it again, green.
                mutmut_timeout._heap_lock = threading.Condition()
                # The fork server writes to a pipe from a signal handler: real `os` there.
                mutmut_isolation.os = eventlet.patcher.original("os")
            return method(self, *args, **kwargs)

        return run

    PytestRunner.warm_up = patched(PytestRunner.warm_up)
    PytestRunner.execute_pytest = patched(PytestRunner.execute_pytest)


def main() -> None:
    _patch_eventlet_before_tests()
    from mutmut.__main__ import cli

    server = data_dir = None
    if sys.argv[1:2] == ["run"] and not os.environ.get("MONGO_URI"):
        server, data_dir, os.environ["MONGO_URI"] = _start_store()
    try:
        cli()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
