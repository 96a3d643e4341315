"""Rebuilding the statistics from a long log, side by side with a raw scan of the same events.

`python -m bench.statistics [--events N]` bulk-loads a seeded history of whole cases (report,
case, interview, qualification, a referral and its answer, a message, the closure: 13 events a
case), then measures, each in a fresh process:

- the raw scan: pymongo reading the same windows of positions with the same type filter, as
  dicts (the least any rebuild must do);
- the rebuild: `services.reporting.statistics.fold_log` and the counters of every table,
  sampling the process's resident memory as it goes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.events import Metadata, NewEvent
from allodiscri.platform.mongo import connect
from allodiscri.platform.store import EVENTS_COLLECTION, EventStore
from allodiscri.tools.embedded_store import private_server
from bench.chain import BASE_TIME, bulk_load
from bench.memory import peak_rss_mb, reset_peak_rss, rss_mb
from bench.workload import Entry
from services.reporting.domain import STATISTICS_TYPES
from services.reporting.statistics import calendar, fold_log

EVENTS_PER_CASE = 13
WINDOW = 5000
KINDS = ["harcelement-moral", "discrimination", "harcelement-sexuel", "agissement-sexiste"]
OUTCOMES = ["information-only", "facts-confirmed", "sanction", "litigation", "not-substantiated"]
META = Metadata("listener-1", "listener", "SG", "bench", "bench")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def case_events(rng: random.Random) -> list[Entry]:
    """One case's events, shaped as the services record them."""
    case_id, referral_id = _uuid(rng), _uuid(rng)
    received = BASE_TIME - timedelta(days=rng.randint(1, 365))
    kinds = rng.sample(KINDS, rng.choice([1, 1, 1, 2]))
    criteria = ["origine"] if "discrimination" in kinds else []
    case, referral = f"case-{case_id}", f"referral-{referral_id}"
    ids = {"case_id": case_id}
    on_referral = {"referral_id": referral_id, "case_id": case_id}
    facts = {"kinds": kinds, "criteria": criteria, "criteria_version": 2}
    events = [
        (
            f"report-{case_id}",
            "ReportReceived",
            {
                "report_id": case_id,
                "platform": "SG",
                "channel": rng.choice(["web", "email", "phone", "postal"]),
                "received_at": received.isoformat(),
                "declarant": {
                    "role": rng.choice(["victim", "victim", "witness"]),
                    "name": "Agent",
                    "email": None,
                    "phone": None,
                    "perimeter": rng.choice(["central-administration", "prefecture"]),
                    "assignment": None,
                    "status": rng.choice(["titulaire", "contractuel"]),
                    "category": rng.choice(["A", "B", "C"]),
                    "corps": None,
                    "grade": None,
                },
                "facts": {
                    **facts,
                    "period": None,
                    "place": None,
                    "alleged_author_relation": None,
                    "narrative": "Faits signalés.",
                },
                "attachments": [],
                "source_reference": None,
            },
        ),
        (
            case,
            "CaseOpened",
            {
                **ids,
                "report_id": case_id,
                "platform": "SG",
                "channel": "web",
                "kinds": kinds,
                "criteria": criteria,
                "received_at": received.isoformat(),
                "transferred_from": None,
            },
        ),
        (case, "ReceiptAcknowledged", ids),
        (case, "ListenerAssigned", {**ids, "listener_id": "l-1", "previous_listener_id": None}),
        (
            case,
            "InterviewScheduled",
            {**ids, "scheduled_for": (received + timedelta(days=9)).isoformat(), "mode": "phone"},
        ),
        (case, "InterviewHeld", {**ids, "notes": "Notes."}),
        (case, "FactsQualified", {**ids, **facts}),
        (
            referral,
            "ReferralRequested",
            {
                **on_referral,
                "platform": "SG",
                "interlocutor": rng.choice(["hr-office", "occupational-physician", "hierarchy"]),
                "purpose": rng.choice(["support", "authority"]),
            },
        ),
        (
            referral,
            "ReferralSent",
            {
                **on_referral,
                "sent_on": (received + timedelta(days=12)).date().isoformat(),
                "note": None,
            },
        ),
        (referral, "ReferralAnswered", {**on_referral, "answer": "Réponse.", "measures": []}),
        (referral, "ReferralClosed", {**on_referral, "reason": "Répondu."}),
        (case, "DeclarantInformed", {**ids, "message": "Suivi."}),
        (
            case,
            "CaseClosed",
            {
                **ids,
                "outcome": rng.choice(OUTCOMES),
                "reason": "Clos.",
                "open_referrals": [],
                "referrals_disposition": None,
            },
        ),
    ]
    return [
        (stream, NewEvent(event_type, data, META, CATALOGUE.contract(event_type).version))
        for stream, event_type, data in events
    ]


def history(events: int, seed: int) -> Iterator[Entry]:
    rng = random.Random(seed)
    for _ in range(events // EVENTS_PER_CASE):
        yield from case_events(rng)


def check_shapes(seed: int) -> None:
    """The generated data passes each event's schema, as what the services record does."""
    for _, event in case_events(random.Random(seed)):
        CATALOGUE.new_event(event.type, event.data, META)


def _raw_scan(uri: str, db: str, results) -> None:
    events = connect(uri).get_database(db)[EVENTS_COLLECTION]
    head = events.find_one({}, sort=[("position", -1)])["position"]
    reset_peak_rss()
    started, read = time.perf_counter(), 0
    for start in range(1, head + 1, WINDOW):
        query = {
            "position": {"$gte": start, "$lte": start + WINDOW - 1},
            "type": {"$in": sorted(STATISTICS_TYPES)},
        }
        for _ in events.find(query).sort("position", 1):
            read += 1
    results.put({"events": read, "seconds": time.perf_counter() - started, "peak": peak_rss_mb()})


def _rebuild(uri: str, db: str, results) -> None:
    store = EventStore(connect(uri).get_database(db), upcaster=CATALOGUE.upcast)
    head = store.head_position()
    samples = []
    reset_peak_rss()
    started = time.perf_counter()
    fold = None
    stops = [*range(head // 10, head, max(1, head // 10)), head]
    for stop in stops:
        start = fold.position + 1 if fold else 1
        fold = fold_log(store, fold, from_position=start, to_position=stop)
        samples.append((stop, time.perf_counter() - started, rss_mb()))
    folded = time.perf_counter() - started
    counters = fold.counts(calendar())
    results.put(
        {
            "events": fold.events,
            "fold_seconds": folded,
            "seconds": time.perf_counter() - started,
            "entities": len(fold.entities),
            "counters": len(counters),
            "peak": peak_rss_mb(),
            "samples": samples,
        }
    )


def _in_fresh_process(target, *arguments) -> dict:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=target, args=(*arguments, results))
    process.start()
    result = results.get(timeout=3600)
    process.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.statistics", description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2022)
    args = parser.parse_args(argv)
    check_shapes(args.seed)
    with private_server(prefix="allodiscri-bench-") as (uri, _):
        database = connect(uri).get_database("statistics_bench")
        EventStore(database).ensure_indexes()
        print(f"loading {args.events:,} events…", file=sys.stderr)
        loaded = bulk_load(database[EVENTS_COLLECTION], history(args.events, args.seed))
        print(f"loaded {loaded.events:,} in {loaded.seconds:.0f} s; raw scan…", file=sys.stderr)
        raw = _in_fresh_process(_raw_scan, uri, "statistics_bench")
        print("rebuild…", file=sys.stderr)
        rebuilt = _in_fresh_process(_rebuild, uri, "statistics_bench")
    raw_rate = raw["events"] / raw["seconds"]
    rebuild_rate = rebuilt["events"] / rebuilt["seconds"]
    print("| | events | seconds | events/s | peak RSS (MiB) |")
    print("|---|---|---|---|---|")
    print(
        f"| raw scan (dicts) | {raw['events']:,} | {raw['seconds']:.1f} | {raw_rate:,.0f} "
        f"| {raw['peak']:.1f} |"
    )
    print(
        f"| statistics rebuild | {rebuilt['events']:,} | {rebuilt['seconds']:.1f} "
        f"| {rebuild_rate:,.0f} | {rebuilt['peak']:.1f} |"
    )
    print()
    print(
        f"ratio rebuild / raw scan: {rebuild_rate / raw_rate:.2f} (goal >= 0.5); "
        f"fold {rebuilt['fold_seconds']:.1f} s, counters {rebuilt['counters']:,} over "
        f"{rebuilt['entities']:,} cases and referrals"
    )
    print()
    print("| log position | elapsed (s) | RSS (MiB) |")
    print("|---|---|---|")
    for position, elapsed, rss in rebuilt["samples"]:
        print(f"| {position:,} | {elapsed:.1f} | {rss:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
