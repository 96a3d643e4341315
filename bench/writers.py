"""Writer processes for the append benchmark: the store's `append` or raw `insert_one`.

Each writer is its own spawned process with its own MongoClient, as services are in production;
all wait at a barrier so they really overlap, and time only their own loop.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from allodiscri.kernel.events import ANY
from allodiscri.platform.mongo import connect
from allodiscri.platform.store import EVENTS_COLLECTION
from bench.chain import chained_documents
from bench.counting import CommandCounter, ConflictCountingStore
from bench.workload import interleaved_entries, stream_names, writer_entries

STORE = "EventStore.append"
RAW = "raw insert_one"
BARRIER_TIMEOUT_SECONDS = 120
RUN_TIMEOUT_SECONDS = 900


@dataclass
class WriterResult:
    writer: int
    started: float
    finished: float
    events: int
    latencies: list[float]
    conflicts_per_append: list[int] = field(default_factory=list)
    conflicts_by_index: dict[str, int] = field(default_factory=dict)
    commands: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WriterPlan:
    mode: str
    uri: str
    database: str
    writers: int
    events_per_writer: int
    streams: int
    seed: int


def _raw_documents(plan: WriterPlan, writer: int) -> list[dict[str, Any]]:
    """This writer's share of a valid chain over all writers' events: same shape, same sizes."""
    streams = stream_names(plan.seed, plan.streams)
    entries = interleaved_entries(plan.seed, plan.writers, plan.events_per_writer, streams)
    return list(chained_documents(entries))[writer :: plan.writers]


def writer_main(plan: WriterPlan, writer: int, barrier: Any, results: Any) -> None:
    """Body of one writer process; puts one WriterResult (as a dict) on `results`."""
    commands = CommandCounter()
    client = connect(plan.uri, event_listeners=[commands])
    try:
        database = client[plan.database]
        client.admin.command("ping")
        store = None
        operations: list[Callable[[], object]]
        if plan.mode == STORE:
            store = ConflictCountingStore(database)
            streams = stream_names(plan.seed, plan.streams)
            entries = writer_entries(plan.seed, writer, plan.events_per_writer, streams)
            operations = [partial(store.append, stream, event, ANY) for stream, event in entries]
        else:
            collection = database[EVENTS_COLLECTION]
            documents = _raw_documents(plan, writer)
            operations = [partial(collection.insert_one, document) for document in documents]
        latencies = []
        barrier.wait(timeout=BARRIER_TIMEOUT_SECONDS)
        commands.counts.clear()
        started = time.perf_counter()
        for operation in operations:
            began = time.perf_counter()
            operation()
            latencies.append(time.perf_counter() - began)
        finished = time.perf_counter()
        result = WriterResult(writer, started, finished, len(operations), latencies)
        result.commands = dict(commands.counts)
        if store is not None:
            result.conflicts_per_append = store.conflicts_per_append
            result.conflicts_by_index = dict(store.conflicts_by_index)
        results.put(asdict(result))
    finally:
        client.close()


@dataclass
class WritersRun:
    """One timed run of `writers` processes, merged."""

    mode: str
    writers: int
    events: int
    seconds: float
    latencies: list[float]
    latencies_by_writer: list[list[float]]
    conflicts_per_append: list[int]
    conflicts_by_index: dict[str, int]
    commands: dict[str, int]

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def conflicts(self) -> int:
        return sum(self.conflicts_per_append)

    @property
    def retry_rate(self) -> float:
        """Duplicate-key conflicts per stored event."""
        return self.conflicts / self.events

    def quarter_latency_ms(self, last: bool) -> float:
        """Mean append latency over each writer's first (or last) quarter of appends."""
        parts = []
        for latencies in self.latencies_by_writer:
            quarter = max(1, len(latencies) // 4)
            parts += latencies[-quarter:] if last else latencies[:quarter]
        return 1000 * sum(parts) / len(parts) if parts else 0.0


def run_writers(plan: WriterPlan) -> WritersRun:
    """Start the writer processes, wait for all of them, and merge what they measured."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(plan.writers)
    results = context.Queue()
    processes = [
        context.Process(target=writer_main, args=(plan, writer, barrier, results), daemon=True)
        for writer in range(plan.writers)
    ]
    for process in processes:
        process.start()
    collected: list[WriterResult] = []
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    try:
        while len(collected) < plan.writers:
            try:
                collected.append(WriterResult(**results.get(timeout=1)))
            except queue.Empty:
                crashed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
                if crashed:
                    raise RuntimeError(f"a writer process failed (exit codes {crashed})") from None
                if time.monotonic() > deadline:
                    raise TimeoutError("writers did not finish in time") from None
        for process in processes:
            process.join(timeout=30)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)
    commands: Counter[str] = Counter()
    by_index: Counter[str] = Counter()
    for result in collected:
        commands.update(result.commands)
        by_index.update(result.conflicts_by_index)
    return WritersRun(
        mode=plan.mode,
        writers=plan.writers,
        events=sum(result.events for result in collected),
        seconds=max(r.finished for r in collected) - min(r.started for r in collected),
        latencies=[latency for result in collected for latency in result.latencies],
        latencies_by_writer=[result.latencies for result in collected],
        conflicts_per_append=[n for result in collected for n in result.conflicts_per_append],
        conflicts_by_index=dict(by_index),
        commands=dict(commands),
    )
