"""Run every benchmark against one server and print the results as markdown.

    python -m bench.run            # default sizes, about ten minutes
    python -m bench.run --quick    # small sizes, a smoke test

Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from statistics import mean

import bson
from pymongo import MongoClient
from pymongo.collection import Collection

from allodiscri.platform.mongo import connect
from allodiscri.platform.store import EVENTS_COLLECTION, EventStore
from bench.appends import compare_appends, new_run_id
from bench.chain import bulk_load, chained_documents, check_builder_matches_store, verify_chain
from bench.longreplay import replay_in_fresh_process
from bench.machine import machine_facts
from bench.memory import RssWatcher
from bench.probes import ProbeRow, probe_point_reads
from bench.replay import compare_replays
from bench.report import (
    append_section,
    long_replay_section,
    machine_section,
    probe_section,
    replay_section,
)
from bench.server import Server, mongo_server
from bench.workload import log_entries, payload_bytes, stream_names

QUICK = {
    "events": 20_000,
    "append_events": 400,
    "read_events": 5_000,
    "repeats": 1,
    "read_repeats": 1,
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="long replay size")
    parser.add_argument("--append-events", type=int, default=5_000, help="events per append run")
    parser.add_argument("--read-events", type=int, default=100_000, help="replay comparison size")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writer processes")
    parser.add_argument("--streams", type=int, default=20, help="streams shared by writers")
    parser.add_argument("--repeats", type=int, default=3, help="runs per append measurement")
    parser.add_argument("--read-repeats", type=int, default=5, help="runs per replay reader")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--samples", type=int, default=10, help="memory samples in the replay")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced pass")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    return args


def document_sizes(seed: int, streams: int, sample: int = 1000) -> dict[str, float]:
    """Mean sizes of the workload's events: data + metadata as JSON, and stored BSON."""
    entries = list(log_entries(seed + 1, sample, stream_names(seed, streams)))
    documents = list(chained_documents(entries))
    return {
        "streams": streams,
        "payload": mean(payload_bytes(event) for _, event in entries),
        "bson": mean(len(bson.encode(document)) for document in documents),
    }


def is_power_of_ten(number: int) -> bool:
    return str(number).strip("0") == "1"


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def appends_scenario(client: MongoClient, uri: str, args: argparse.Namespace, run_id: str) -> str:
    comparisons = [
        compare_appends(
            client,
            uri,
            run_id=run_id,
            writers=writers,
            total_events=args.append_events,
            streams=args.streams,
            repeats=args.repeats,
            seed=args.seed,
        )
        for writers in (1, args.writers)
    ]
    return append_section(comparisons, document_sizes(args.seed, args.streams))


def replay_scenario(
    events: Collection, args: argparse.Namespace, probe_rows: list[ProbeRow]
) -> str:
    """Load the (b) log, probing point reads as it grows, verify it, then race the readers."""

    def probe_at_powers_of_ten(loaded: int) -> None:
        if loaded >= 1000 and (loaded == args.read_events or is_power_of_ten(loaded)):
            probe_rows.append(probe_point_reads(events))

    streams = stream_names(args.seed, args.streams)
    entries = log_entries(args.seed, args.read_events, streams)
    bulk_load(events, entries, after_batch=probe_at_powers_of_ten)
    check = verify_chain(events, args.read_events)
    if not check.ok:
        raise RuntimeError(f"bulk-loaded log does not verify: {check.problems}")
    comparison = compare_replays(events, args.read_events, args.read_repeats)
    return replay_section(comparison, "verified: dense positions, every hash recomputed")


def long_replay_scenario(events: Collection, server: Server, args: argparse.Namespace) -> str:
    streams = stream_names(args.seed, args.streams)
    with RssWatcher(server.pid) as load_server:
        load = bulk_load(events, log_entries(args.seed, args.events, streams))
    progress(f"  loaded at {load.events / load.seconds:,.0f} events/s; replaying")
    with RssWatcher(server.pid) as replay_server:
        replay = replay_in_fresh_process(
            server.uri,
            events.database.name,
            sample_every=max(1, args.events // args.samples),
            trace=not args.no_tracemalloc,
        )
    return long_replay_section(load, load_server, replay, replay_server)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = " ".join([".venv/bin/python -m bench.run", *map(shlex.quote, argv)])
    streams = stream_names(args.seed, args.streams)
    check_builder_matches_store(next(log_entries(args.seed, 1, streams)))
    run_id = new_run_id()
    sections = []
    with mongo_server() as server:
        client = connect(server.uri)
        replay_log = client[f"bench_{run_id}_b"][EVENTS_COLLECTION]
        long_log = client[f"bench_{run_id}_c"][EVENTS_COLLECTION]
        try:
            sections.append(machine_section(machine_facts(client), server.description, command))
            progress("(a) appends")
            sections.append(appends_scenario(client, server.uri, args, run_id))

            progress(f"(b) replay of {args.read_events:,} events")
            EventStore(replay_log.database).ensure_indexes()
            probe_rows: list[ProbeRow] = []
            sections.append(replay_scenario(replay_log, args, probe_rows))
            client.drop_database(replay_log.database.name)

            progress(f"(c) load of {args.events:,} events")
            EventStore(long_log.database).ensure_indexes()
            sections.append(long_replay_scenario(long_log, server, args))
            progress("  point reads on the long log")
            probe_rows.append(probe_point_reads(long_log))
            sections.append(probe_section(probe_rows))
        finally:
            for log in (replay_log, long_log):
                client.drop_database(log.database.name)
            client.close()
    print("\n\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
