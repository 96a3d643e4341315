"""Scenario (c): replay a long log through `read_all` in a fresh process and watch its memory.

The replay runs in its own spawned process so its peak RSS is the replay's alone, not the
loader's. A first pass measures speed and RSS; an optional second pass under tracemalloc shows
the Python heap, which is slower but says whether objects pile up.
"""

from __future__ import annotations

import gc
import multiprocessing
import queue
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from typing import Any

from allodiscri.platform.mongo import connect
from allodiscri.platform.store import EventStore
from bench.memory import MB, peak_rss_mb, reset_peak_rss, rss_mb, ru_maxrss_mb

RUN_TIMEOUT_SECONDS = 1800


@dataclass
class Sample:
    events: int
    seconds: float
    rss_mb: float
    heap_mb: float | None = None
    heap_peak_mb: float | None = None


@dataclass
class ReplayPass:
    events: int = 0
    seconds: float = 0.0
    head_position: int = 0
    head_hash: str = ""
    peak_rss_mb: float = 0.0
    """VmHWM: peak of this pass alone when it could be reset, else of the process so far."""
    peak_reset: bool = False
    ru_maxrss_mb: float = 0.0
    samples: list[Sample] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds


@dataclass
class LongReplay:
    baseline_rss_mb: float
    startup_peak_rss_mb: float
    plain: ReplayPass
    traced: ReplayPass | None


def _replay(store: EventStore, sample_every: int, traced: bool) -> ReplayPass:
    result = ReplayPass()
    result.peak_reset = reset_peak_rss()
    started = time.perf_counter()
    last = None
    for event in store.read_all():
        last = event
        result.events += 1
        if result.events % sample_every == 0:
            sample = Sample(result.events, time.perf_counter() - started, rss_mb())
            if traced:
                current, peak = tracemalloc.get_traced_memory()
                sample.heap_mb, sample.heap_peak_mb = current / MB, peak / MB
            result.samples.append(sample)
    result.seconds = time.perf_counter() - started
    if last is not None:
        result.head_position, result.head_hash = last.position, last.hash
    result.peak_rss_mb = peak_rss_mb()
    result.ru_maxrss_mb = ru_maxrss_mb()
    return result


def replay_main(uri: str, database: str, sample_every: int, trace: bool, results: Any) -> None:
    """Body of the replaying process; puts one LongReplay (as a dict) on `results`."""
    client = connect(uri)
    try:
        client.admin.command("ping")
        store = EventStore(client[database])
        gc.collect()
        baseline, startup_peak = rss_mb(), peak_rss_mb()
        plain = _replay(store, sample_every, traced=False)
        traced = None
        if trace:
            tracemalloc.start()
            traced = _replay(store, sample_every, traced=True)
            tracemalloc.stop()
        results.put(asdict(LongReplay(baseline, startup_peak, plain, traced)))
    finally:
        client.close()


def _pass(raw: dict[str, Any]) -> ReplayPass:
    samples = [Sample(**sample) for sample in raw.pop("samples")]
    return ReplayPass(**raw, samples=samples)


def replay_in_fresh_process(
    uri: str, database: str, *, sample_every: int, trace: bool
) -> LongReplay:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(
        target=replay_main, args=(uri, database, sample_every, trace, results), daemon=True
    )
    process.start()
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    try:
        while True:
            try:
                raw = results.get(timeout=1)
                break
            except queue.Empty:
                if process.exitcode not in (None, 0):
                    raise RuntimeError(f"replay process failed (exit {process.exitcode})") from None
                if time.monotonic() > deadline:
                    raise TimeoutError("replay did not finish in time") from None
        process.join(timeout=30)
    finally:
        if process.is_alive():
            process.terminate()
            process.join(timeout=10)
    traced = raw["traced"]
    return LongReplay(
        raw["baseline_rss_mb"],
        raw["startup_peak_rss_mb"],
        _pass(raw["plain"]),
        None if traced is None else _pass(traced),
    )
