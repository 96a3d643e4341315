"""The server every measurement shares: MONGO_URI if set, else a private nx-27017.

A private server gets a free port and a temporary data directory, both gone when the bench
ends, whatever way it ends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from allodiscri.tools.embedded_store import private_server, wait_until_up

PRIVATE_SERVER = "nx-27017 started by the bench: one SQLite file per database, WAL journal"


@dataclass(frozen=True)
class Server:
    uri: str
    pid: int | None
    """Process id when the bench started the server itself (to sample its memory)."""
    description: str


@contextmanager
def mongo_server() -> Iterator[Server]:
    if os.environ.get("MONGO_URI"):
        uri = os.environ["MONGO_URI"]
        wait_until_up(uri)
        yield Server(uri, None, "MONGO_URI")
        return
    with private_server(prefix="allodiscri-bench-") as (uri, process):
        yield Server(uri, process.pid, PRIVATE_SERVER)
