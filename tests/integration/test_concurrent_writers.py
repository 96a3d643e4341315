"""Several OS processes append to the same streams at once; a catch-up reader follows along."""

import json
import subprocess
import sys
import threading
from collections import defaultdict

from allodiscri.kernel.hashing import GENESIS_HASH, document_hash
from allodiscri.platform.subscriptions import CatchUpSubscription, Checkpoints

WRITERS = 4
APPENDS = 120
STREAMS = 4


def start_writer(mongo_uri, db_name, writer):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.writer", mongo_uri, db_name, writer]
        + [str(APPENDS), str(STREAMS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_writers_lose_nothing_duplicate_nothing_and_keep_order(
    store, database, mongo_uri, db_name
):
    handed: list[int] = []
    subscription = CatchUpSubscription(
        "follower", store, Checkpoints(database), lambda event: handed.append(event.position)
    )
    writing = True

    def follow():
        while writing:
            subscription.run_once()

    follower = threading.Thread(target=follow)
    follower.start()
    writers = [start_writer(mongo_uri, db_name, f"writer-{n}") for n in range(WRITERS)]
    outputs = [writer.communicate(timeout=300) for writer in writers]
    writing = False
    follower.join()
    subscription.run_once()

    for writer, (_, errors) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, errors
    reports = [json.loads(out) for out, _ in outputs]
    stored = {event_id: place for r in reports for event_id, place in r["stored"].items()}
    conflicts = sum(r["conflicts"] for r in reports)
    assert len(stored) + conflicts == WRITERS * APPENDS
    assert conflicts > 0, "the writers never raced; the test proves nothing"

    documents = list(store.events.find().sort("position"))
    # Every successful append is stored exactly once, where its writer was told it was.
    assert len(documents) == len(stored)
    assert {d["_id"]: [d["stream"], d["version"], d["position"]] for d in documents} == stored
    # Positions are 1..N without a hole; versions are dense in every stream.
    assert [d["position"] for d in documents] == list(range(1, len(documents) + 1))
    versions = defaultdict(list)
    for document in documents:
        versions[document["stream"]].append(document["version"])
    for stream_versions in versions.values():
        assert stream_versions == list(range(1, len(stream_versions) + 1))
    # The hash chain is whole.
    previous = GENESIS_HASH
    for document in documents:
        assert document["prev_hash"] == previous
        assert document_hash(document, previous) == document["hash"]
        previous = document["hash"]
    # The follower saw every event once, in order, while the writes went on.
    assert handed == list(range(1, len(documents) + 1))
