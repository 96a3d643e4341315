"""A writer process for the concurrency tests.

Appends with optimistic concurrency (reads the stream version, appends expecting it), retries
some of its own appends by event id, and prints what it stored and what conflicted as JSON.
Any error other than WrongExpectedVersion makes it exit non-zero.
"""

from __future__ import annotations

import json
import random
import sys

from allodiscri.kernel.events import NO_STREAM, Metadata, NewEvent, WrongExpectedVersion
from allodiscri.platform.mongo import connect
from allodiscri.platform.store import EventStore


def main(uri: str, db: str, writer: str, appends: int, streams: int) -> None:
    store = EventStore(connect(uri).get_database(db))
    rng = random.Random(writer)
    meta = Metadata(writer, "listener", "SG", "tests", f"correlation-{writer}")
    stored: list[str] = []
    results: dict[str, list] = {}
    conflicts = 0
    for index in range(appends):
        stream = f"case-{rng.randrange(streams)}"
        version = store.stream_version(stream)
        event = NewEvent("Noted", {"writer": writer, "index": index}, meta)
        try:
            result = store.append(stream, event, version or NO_STREAM)
        except WrongExpectedVersion:
            conflicts += 1
            continue
        stored.append(event.id)
        results[event.id] = [result.stream, result.version, result.position]
        if index % 10 == 0:
            retried = store.append(stream, event, version or NO_STREAM)
            assert [retried.stream, retried.version, retried.position] == results[event.id]
    print(json.dumps({"stored": results, "conflicts": conflicts}))


if __name__ == "__main__":
    uri, db, writer, appends, streams = sys.argv[1:]
    main(uri, db, writer, int(appends), int(streams))
