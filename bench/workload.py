"""Deterministic events shaped like the platform's, about 500 bytes of data and metadata each.

Every choice comes from a seeded `random.Random` (string seeds hash the same in every process),
so two runs produce the same events and a bulk-loaded chain has the same head hash.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator

from allodiscri.kernel.events import Metadata, NewEvent

PAYLOAD_BYTES = 500
"""Target size of an event's data plus metadata, as compact JSON."""

EVENT_TYPES = ("ReportReceived", "NoteAdded", "CaseAssigned", "StatusChanged", "MeetingPlanned")
PLATFORMS = ("SG", "DGPN", "DGGN", "DGSI", "DGEF")
ROLES = ("listener", "referent", "investigator", "supervisor")
SERVICES = ("intake", "cases", "referrals")
CHANNELS = ("web", "phone", "mail", "in-person")
KINDS = ("discrimination", "harcelement-moral", "harcelement-sexuel", "violence", "agissement")
WORDS = [
    "signalement",
    "entretien",
    "agent",
    "service",
    "remarque",
    "origine",
    "sexe",
    "refus",
    "formation",
    "hiérarchie",
    "témoin",
    "réunion",
    "courriel",
    "bureau",
    "préfecture",
    "équipe",
    "mutation",
    "dossier",
    "écoute",
    "suivi",
    "mesure",
    "protection",
    "enquête",
    "administrative",
    "référent",
    "cellule",
    "rendez-vous",
    "compte",
    "rendu",
]

Entry = tuple[str, NewEvent]
"""A stream name and the event to append to it."""


def seeded_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def stream_names(seed: int, count: int) -> list[str]:
    rng = random.Random(f"{seed}:streams")
    return [f"case-{seeded_uuid(rng)}" for _ in range(count)]


def payload_bytes(event: NewEvent) -> int:
    """Size of the event's data and metadata as compact UTF-8 JSON."""
    encoded = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    encoded += json.dumps(event.meta.to_dict(), ensure_ascii=False, separators=(",", ":"))
    return len(encoded.encode("utf-8"))


def new_event(rng: random.Random, stream: str) -> NewEvent:
    """An event of a case stream: every stream of the domain carries its case id in data."""
    meta = Metadata(
        actor_id=f"agent-{rng.randrange(1, 400)}",
        actor_role=rng.choice(ROLES),
        platform=rng.choice(PLATFORMS),
        service=rng.choice(SERVICES),
        correlation_id=seeded_uuid(rng),
        causation_id=seeded_uuid(rng) if rng.random() < 0.5 else None,
    )
    data = {
        "case_id": stream.partition("-")[2],
        "channel": rng.choice(CHANNELS),
        "kinds": rng.sample(KINDS, rng.randrange(1, 3)),
        "urgent": rng.random() < 0.1,
        "note": "",
    }
    event = NewEvent(type=rng.choice(EVENT_TYPES), data=data, meta=meta, id=seeded_uuid(rng))
    missing = PAYLOAD_BYTES - payload_bytes(event)
    words: list[str] = []
    while missing > 0:
        word = rng.choice(WORDS)
        words.append(word)
        missing -= len(word.encode("utf-8")) + 1
    data["note"] = " ".join(words)
    return event


def writer_entries(seed: int, writer: int, count: int, streams: list[str]) -> list[Entry]:
    """What writer number `writer` appends: `count` events spread over the shared streams."""
    rng = random.Random(f"{seed}:writer:{writer}")
    return [_entry(rng, streams) for _ in range(count)]


def interleaved_entries(seed: int, writers: int, count: int, streams: list[str]) -> list[Entry]:
    """All writers' entries, taken in turn: one plausible global order of a concurrent run."""
    per_writer = [writer_entries(seed, writer, count, streams) for writer in range(writers)]
    return [entries[index] for index in range(count) for entries in per_writer]


def log_entries(seed: int, count: int, streams: list[str]) -> Iterator[Entry]:
    """A long log, generated lazily so a million events never sit in memory at once."""
    rng = random.Random(f"{seed}:log")
    for _ in range(count):
        yield _entry(rng, streams)


def _entry(rng: random.Random, streams: list[str]) -> Entry:
    stream = rng.choice(streams)
    return stream, new_event(rng, stream)
