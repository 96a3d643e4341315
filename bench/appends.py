"""Scenario (a): append throughput of the store against raw inserts, one and several writers.

Every run gets a fresh database with the store's indexes (`ensure_indexes`), so the raw
baseline pays the same index maintenance; store runs are then verified (dense positions, hash
chain).
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass, field

from pymongo import MongoClient
from pymongo.database import Database

from allodiscri.platform.store import EVENTS_COLLECTION, EventStore
from bench.chain import ChainCheck, verify_chain
from bench.stats import median
from bench.writers import RAW, STORE, WriterPlan, WritersRun, run_writers


@dataclass
class AppendComparison:
    """All repetitions of store and raw runs for one number of writers."""

    writers: int
    events: int
    store_runs: list[WritersRun] = field(default_factory=list)
    raw_runs: list[WritersRun] = field(default_factory=list)
    checks: list[ChainCheck] = field(default_factory=list)

    @property
    def store_rate(self) -> float:
        return median([run.events_per_second for run in self.store_runs])

    @property
    def raw_rate(self) -> float:
        return median([run.events_per_second for run in self.raw_runs])

    @property
    def ratio(self) -> float:
        return self.store_rate / self.raw_rate


def compare_appends(
    client: MongoClient,
    uri: str,
    *,
    run_id: str,
    writers: int,
    total_events: int,
    streams: int,
    repeats: int,
    seed: int,
) -> AppendComparison:
    per_writer = total_events // writers
    comparison = AppendComparison(writers, per_writer * writers)
    for repeat in range(repeats):
        # Alternate which goes first, so drift of the machine does not favour one side.
        modes = (STORE, RAW) if repeat % 2 == 0 else (RAW, STORE)
        for mode in modes:
            name = f"bench_{run_id}_a{writers}_{repeat}_{'store' if mode == STORE else 'raw'}"
            database = client[name]
            EventStore(database).ensure_indexes()
            plan = WriterPlan(mode, uri, name, writers, per_writer, streams, seed)
            try:
                run = run_writers(plan)
                _check_stored(database, mode, comparison)
            finally:
                client.drop_database(name)
            print(
                f"  {writers} writer(s), {mode}: {run.events_per_second:,.0f} events/s"
                + (f", {run.retry_rate:.2f} conflicts/event" if mode == STORE else ""),
                file=sys.stderr,
            )
            (comparison.store_runs if mode == STORE else comparison.raw_runs).append(run)
    return comparison


def _check_stored(database: Database, mode: str, comparison: AppendComparison) -> None:
    """Store runs must leave a log an auditor accepts; raw runs must have lost nothing."""
    events = database[EVENTS_COLLECTION]
    if mode == STORE:
        comparison.checks.append(verify_chain(events, comparison.events))
        return
    stored = events.count_documents({})
    if stored != comparison.events:
        raise RuntimeError(f"raw run stored {stored} of {comparison.events} events")


def new_run_id() -> str:
    return uuid.uuid4().hex[:8]
