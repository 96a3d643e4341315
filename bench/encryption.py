"""What sealing personal fields costs, on append and on replay, against the same events in clear.

`python -m bench.encryption [--cases N] [--events-per-case N]` builds a seeded history through
the catalogue (a web report with its declarant and narrative, the case opened, a listener
assigned, interview notes, a message to the declarant, ...: the fields the catalogue marks
personal are filled as the services fill them), interleaves the cases as a live log would, and
measures against one private nx-27017:

- append: the same events through `EventStore.append`, into a fresh database without a cipher
  and into another with one (which also makes one data key per case in the keys database);
- replay: `read_all` over the clear log, over the sealed log left sealed, and over the sealed
  log with `FieldCipher.open_event` on each event, the data keys cached (warm) or not (a fresh
  `DataKeys`, so each case's key is read and unwrapped once: cold);
- sealing and opening alone, on events already in memory with every key cached: the CPU cost
  that explains the difference, with no database in it.

The goal (the issue asking for encryption): replay with opening at least 0.6 of replay without.
"""

from __future__ import annotations

import argparse
import random
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.events import ANY, Metadata, NewEvent, RecordedEvent
from allodiscri.platform.crypto import (
    DataKeys,
    FieldCipher,
    MasterKey,
    MasterKeyring,
    is_sealed,
    keys_database_name,
)
from allodiscri.platform.mongo import connect
from allodiscri.platform.store import EventStore
from allodiscri.tools.embedded_store import private_server
from bench.counting import CommandCounter
from bench.stats import median

GOAL = 0.6
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
FOLLOW_UPS = ("ListenerAssigned", "InterviewHeld", "DeclarantInformed", "InterviewHeld")
"""After the report and the case's opening, a case's events cycle through these."""
FIRST_NAMES = ["Camille", "Nadia", "Karim", "Sophie", "Thomas", "Aïcha", "Julien", "Léa", "Yann"]
LAST_NAMES = ["Martin", "Benali", "Dubois", "Nguyen", "Lefèvre", "Moreau", "Traoré", "Garcia"]
SAMPLE_TEXT = (
    "remarques répétées sur mon origine devant l'équipe refus de formation réunion de service "
    "entretien annuel mise à l'écart courriel insultant bureau collègue supérieur hiérarchique "
    "arrêt maladie témoin propos sexistes planning changé sans raison mutation demandée"
)
WORDS = SAMPLE_TEXT.split()
PLAIN_LOG = "clear log, read_all"
SEALED_LOG = "sealed log, read_all (left sealed)"
OPENED_WARM = "sealed log, read_all + open_events, keys cached"
OPENED_COLD = "sealed log, read_all + open_events, fresh DataKeys"

Entry = tuple[str, NewEvent]


# -- the events ---------------------------------------------------------------------------------


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _text(rng: random.Random, low: int, high: int) -> str:
    """Free text of `low` to `high` words: what a narrative, notes or a message look like."""
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high))).capitalize() + "."


def _report(rng: random.Random, case_id: str, received: datetime) -> dict[str, Any]:
    """A web report as intake records it, every optional personal field filled half the time."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)

    def sometimes(value: str) -> str | None:
        return value if rng.random() < 0.5 else None

    return {
        "report_id": case_id,
        "platform": "SG",
        "channel": "web",
        "received_at": received.isoformat(),
        "declarant": {
            "role": rng.choice(["victim", "victim", "witness"]),
            "name": f"{first} {last}",
            "email": sometimes(f"{first.lower()}.{last.lower()}@example.org"),
            "phone": sometimes(f"+33 1 {rng.randint(10, 99)} {rng.randint(10, 99)} 00 00"),
            "perimeter": "prefecture",
            "assignment": sometimes("Préfecture de la Somme, bureau des étrangers"),
            "status": rng.choice(["titulaire", "contractuel"]),
            "category": rng.choice(["A", "B", "C"]),
            "corps": sometimes("secrétaire administratif"),
            "grade": sometimes("classe normale"),
        },
        "facts": {
            "kinds": ["discrimination", "harcelement-moral"],
            "criteria": ["origine"],
            "period": sometimes("depuis mars 2026"),
            "place": sometimes("Amiens"),
            "alleged_author_relation": sometimes("supérieur hiérarchique"),
            "narrative": _text(rng, 40, 200),
        },
        "attachments": [],
        "source_reference": None,
    }


def _follow_up(rng: random.Random, event_type: str, case_id: str) -> dict[str, Any]:
    ids = {"case_id": case_id}
    if event_type == "ListenerAssigned":
        return {
            **ids,
            "listener_id": f"listener-{rng.randint(1, 20)}",
            "previous_listener_id": None,
        }
    if event_type == "InterviewHeld":
        return {**ids, "notes": _text(rng, 30, 150)}
    return {**ids, "message": _text(rng, 10, 40)}  # DeclarantInformed


def case_events(rng: random.Random, count: int) -> list[Entry]:
    """One case's `count` events, validated and dumped by the catalogue as the services do."""
    case_id = _uuid(rng)
    received = BASE_TIME + timedelta(minutes=rng.randint(0, 500_000))
    meta = Metadata("listener-1", "listener", "SG", "bench", _uuid(rng))
    case = f"case-{case_id}"
    proposed = [
        (f"report-{case_id}", "ReportReceived", _report(rng, case_id, received)),
        (
            case,
            "CaseOpened",
            {
                "case_id": case_id,
                "report_id": case_id,
                "platform": "SG",
                "channel": "web",
                "kinds": ["discrimination", "harcelement-moral"],
                "criteria": ["origine"],
                "received_at": received.isoformat(),
                "transferred_from": None,
            },
        ),
    ]
    for number in range(count - len(proposed)):
        event_type = FOLLOW_UPS[number % len(FOLLOW_UPS)]
        proposed.append((case, event_type, _follow_up(rng, event_type, case_id)))
    return [
        (stream, CATALOGUE.new_event(event_type, data, meta, event_id=_uuid(rng)))
        for stream, event_type, data in proposed[:count]
    ]


def history(cases: int, events_per_case: int, seed: int) -> list[Entry]:
    """Every case's events, interleaved at random as many cases progress at once (each case
    keeps its own order), so the log does not hand one key the events it needs in a row."""
    rng = random.Random(seed)
    pending = [case_events(rng, events_per_case)[::-1] for _ in range(cases)]
    entries = []
    while pending:
        index = rng.randrange(len(pending))
        entries.append(pending[index].pop())
        if not pending[index]:
            pending[index] = pending[-1]
            pending.pop()
    return entries


def sealed_fields(value: Any) -> int:
    if is_sealed(value):
        return 1
    if isinstance(value, dict):
        return sum(sealed_fields(item) for item in value.values())
    if isinstance(value, list):
        return sum(sealed_fields(item) for item in value)
    return 0


# -- measurements -------------------------------------------------------------------------------


def cipher_over(client: MongoClient, events: Database, master: MasterKey) -> FieldCipher:
    """A cipher with its own, empty key cache, over the keys database beside `events`."""
    keys = DataKeys(client[keys_database_name(events.name)], MasterKeyring(master))
    return FieldCipher(keys, CATALOGUE.personal_paths)


def fresh_store(client: MongoClient, name: str, cipher: FieldCipher | None = None) -> EventStore:
    client.drop_database(name)
    client.drop_database(keys_database_name(name))
    store = EventStore(client[name], cipher=cipher)
    store.ensure_indexes()
    return store


def append_all(store: EventStore, entries: list[Entry]) -> float:
    started = perf_counter()
    for stream, event in entries:
        store.append(stream, event, ANY)
    return perf_counter() - started


@dataclass
class Results:
    events: int
    cases: int
    append_seconds: dict[str, list[float]] = field(default_factory=dict)
    replay_seconds: dict[str, list[float]] = field(default_factory=dict)
    cpu_microseconds: dict[str, float] = field(default_factory=dict)
    cold_key_reads: int = 0
    """Commands a cold replay sent to the keys database, per run."""
    sealed_fields: int = 0
    data_keys: int = 0

    def rate(self, seconds: dict[str, list[float]], name: str) -> float:
        return self.events / median(seconds[name])


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure_appends(
    client: MongoClient, entries: list[Entry], master: MasterKey, repeats: int, results: Results
) -> tuple[Database, Database]:
    """Both sides on fresh databases every repeat, in alternating order; the last pair is kept
    for the replays."""
    plain, sealed = client["encryption_bench_clear"], client["encryption_bench_sealed"]
    for repeat in range(repeats):
        sides = [("without cipher", plain, False), ("with cipher", sealed, True)]
        for name, database, ciphered in sides[:: 1 if repeat % 2 == 0 else -1]:
            cipher = cipher_over(client, database, master) if ciphered else None
            seconds = append_all(fresh_store(client, database.name, cipher), entries)
            results.append_seconds.setdefault(name, []).append(seconds)
            progress(f"  append {name}: {len(entries) / seconds:,.0f} events/s")
    results.data_keys = client[keys_database_name(sealed.name)]["keys"].count_documents({})
    return plain, sealed


def check_logs(
    client: MongoClient, plain: Database, sealed: Database, entries: list[Entry], master: MasterKey
) -> None:
    """The sealed log opens to exactly what was appended, and no event of a type with personal
    fields was stored with none of them sealed."""
    proposed = {event.id: event.data for _, event in entries}
    cipher = cipher_over(client, sealed, master)
    for clear, stored in zip(
        EventStore(plain).read_all(), EventStore(sealed).read_all(), strict=True
    ):
        if clear.id != stored.id or clear.data != proposed[clear.id]:
            raise RuntimeError(f"the clear log differs from what was appended at {clear.position}")
        if cipher.open_event(stored).data != clear.data:
            raise RuntimeError(f"event {stored.position} does not open to what was appended")
        if CATALOGUE.personal_paths(stored.type) and sealed_fields(stored.data) == 0:
            raise RuntimeError(f"event {stored.position} holds personal fields in clear")


def replay_readers(
    client: MongoClient,
    keys_client: MongoClient,
    plain: Database,
    sealed: Database,
    master: MasterKey,
) -> dict[str, Callable[[], Iterable[Any]]]:
    """The four replays; the cold one reads its keys through `keys_client`, whose commands
    are counted."""
    plain_store, sealed_store = EventStore(plain), EventStore(sealed)
    warm = cipher_over(client, sealed, master)
    subjects = [
        document["_id"] for document in client[keys_database_name(sealed.name)]["keys"].find()
    ]

    def opened_warm() -> Iterable[RecordedEvent]:
        for subject in subjects:  # fill the cache before the clock starts
            warm.keys.key_for_opening(subject)
        return warm.open_events(sealed_store.read_all())

    def opened_cold() -> Iterable[RecordedEvent]:
        cold = cipher_over(keys_client, sealed, master)
        return cold.open_events(sealed_store.read_all())

    return {
        PLAIN_LOG: plain_store.read_all,
        SEALED_LOG: sealed_store.read_all,
        OPENED_WARM: opened_warm,
        OPENED_COLD: opened_cold,
    }


def measure_replays(
    readers: dict[str, Callable[[], Iterable[Any]]], repeats: int, results: Results
) -> None:
    names = list(readers)
    for repeat in range(repeats):
        # Rotate the order so no reader always runs on a warm (or cold) server.
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            events = readers[name]()  # a warm reader fills its cache here, before the clock
            started = perf_counter()
            count = sum(1 for _ in events)
            seconds = perf_counter() - started
            if count != results.events:
                raise RuntimeError(f"{name} read {count} of {results.events} events")
            results.replay_seconds.setdefault(name, []).append(seconds)
            progress(f"  {name}: {count / seconds:,.0f} events/s")


def measure_cpu(
    uri: str, sealed: str, entries: list[Entry], master: MasterKey, results: Results
) -> None:
    """Sealing and opening events already in memory, every key cached: no database at all,
    which a command counter on a client of its own proves."""
    counter = CommandCounter()
    own = connect(uri, event_listeners=[counter])
    try:
        cipher = cipher_over(own, own[sealed], master)
        recorded = list(EventStore(own[sealed]).read_all())
        for event in recorded:  # fill the cache: the only database reads of this part
            cipher.open_event(event)
        results.sealed_fields = sum(sealed_fields(event.data) for event in recorded)
        before = sum(counter.counts.values())
        events = [event for _, event in entries]
        timings: dict[str, list[float]] = {"seal_event": [], "open_event": []}
        for _ in range(5):
            started = perf_counter()
            for event in events:
                cipher.seal_event(event)
            timings["seal_event"].append(perf_counter() - started)
            started = perf_counter()
            for event in recorded:
                cipher.open_event(event)
            timings["open_event"].append(perf_counter() - started)
        if sum(counter.counts.values()) != before:
            raise RuntimeError(f"the CPU measurement reached the database: {counter.counts}")
    finally:
        own.close()
    for name, seconds in timings.items():
        results.cpu_microseconds[name] = median(seconds) / len(events) * 1e6


# -- the report ---------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _runs(results: Results, seconds: list[float]) -> str:
    return ", ".join(f"{results.events / run:,.0f}" for run in seconds)


def report(results: Results) -> str:
    appends = results.append_seconds
    plain_append = results.rate(appends, "without cipher")
    sealed_append = results.rate(appends, "with cipher")
    replays = results.replay_seconds
    baseline = results.rate(replays, PLAIN_LOG)
    left_sealed = results.rate(replays, SEALED_LOG)
    replay_rows = [
        [
            name,
            f"{results.rate(replays, name):,.0f}",
            _runs(results, replays[name]),
            f"{results.rate(replays, name) / baseline:.2f}",
            f"{results.rate(replays, name) / left_sealed:.2f}",
        ]
        for name in replays
    ]
    goal = [
        f"{label} {results.rate(replays, name) / baseline:.2f} "
        + ("met" if results.rate(replays, name) / baseline >= GOAL else "**missed**")
        for label, name in (("keys cached:", OPENED_WARM), ("fresh DataKeys:", OPENED_COLD))
    ]
    fields_per_event = results.sealed_fields / results.events
    cpu = results.cpu_microseconds
    return "\n\n".join(
        [
            f"{results.events:,} events over {results.cases:,} cases, "
            f"{fields_per_event:.2f} sealed fields per event, {results.data_keys:,} data keys.",
            _table(
                ["append", "without cipher (events/s)", "with cipher (events/s)", "ratio"],
                [
                    [
                        "EventStore.append, one event each",
                        f"{plain_append:,.0f}",
                        f"{sealed_append:,.0f}",
                        f"{sealed_append / plain_append:.2f}",
                    ],
                    [
                        "runs",
                        _runs(results, appends["without cipher"]),
                        _runs(results, appends["with cipher"]),
                        "",
                    ],
                ],
            ),
            _table(
                ["replay", "events/s (median)", "runs", "vs clear log", "vs sealed log"],
                replay_rows,
            ),
            f"Goal: replay with opening >= {GOAL} of replay without (the clear log): "
            f"{'; '.join(goal)}. A cold replay sent {results.cold_key_reads:,} commands to the "
            f"keys database per run.",
            _table(
                ["CPU only, keys cached", "µs per event", "µs per sealed field"],
                [
                    [name, f"{micro:.1f}", f"{micro / fields_per_event:.2f}"]
                    for name, micro in cpu.items()
                ],
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.encryption", description=__doc__)
    parser.add_argument("--cases", type=int, default=2_000)
    parser.add_argument("--events-per-case", type=int, default=5, help="2 or more")
    parser.add_argument("--append-repeats", type=int, default=3)
    parser.add_argument("--replay-repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    entries = history(args.cases, max(2, args.events_per_case), args.seed)
    results = Results(events=len(entries), cases=args.cases)
    master = MasterKey.generate()
    with private_server(prefix="allodiscri-bench-") as (uri, _):
        client = connect(uri)
        progress(f"append of {len(entries):,} events")
        plain, sealed = measure_appends(client, entries, master, args.append_repeats, results)
        check_logs(client, plain, sealed, entries, master)
        progress("replay")
        counter = CommandCounter()
        keys_client = connect(uri, event_listeners=[counter])
        readers = replay_readers(client, keys_client, plain, sealed, master)
        measure_replays(readers, args.replay_repeats, results)
        results.cold_key_reads = sum(counter.counts.values()) // args.replay_repeats
        keys_client.close()
        progress("sealing and opening in memory")
        measure_cpu(uri, sealed.name, entries, master, results)
        client.close()
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
