"""The statistics read model in MongoDB: live updates, reads, rebuilds and "as of" replays.

`statistics` holds one document: the counters of every platform, the position of the last event
applied, and the name of the collection holding the facts of each case and referral (`_id`
"case:<id>" or "referral:<id>", with the position of the last event that changed them;
`statistics_entities` at first). An event changes at most one entity, so it is applied in two
guarded writes:

1. the entity, with the event's position and the counter change it implies ("pending");
2. the counters, with one atomic `$inc` guarded by "position below this event's".

A redelivered event is recognised by the counters' position; an event whose first write
happened but not its second (a crash in between) finds its entity at its own position and
applies the pending change it left there. So every event counts exactly once.

A rebuild folds the log in memory with the pure domain, compares, writes the entities to a new
collection and switches to it and to the new counters in one atomic replace of the counters
document (no collection rename, which the development server acknowledges without doing). It
does so while the live projection is frozen: a live worker meeting the freeze waits for its
end, so no event is skipped and none is applied to the read model being replaced.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from allodiscri.kernel.events import RecordedEvent
from allodiscri.kernel.workdays import WorkingDayCalendar
from allodiscri.platform.projections import Projection
from allodiscri.platform.store import EventStore
from services.reporting import domain
from services.reporting.domain import (
    STATISTICS_TYPES,
    CaseFacts,
    Entity,
    MemoCalendar,
    ReferralFacts,
    StatisticsFold,
    contribution,
    entity_key,
    increments,
    nest,
    source_key,
)

COUNTERS = "statistics"
ENTITIES = "statistics_entities"
LIVE = "live"
SUBSCRIPTION = "reporting-statistics"

FREEZE_SECONDS = 600.0
"""How long a freeze holds without news from its rebuild (which renews it as it folds)."""
FROZEN_POLL_SECONDS = 0.05
RENEW_EVERY_EVENTS = 20_000


@lru_cache(maxsize=8)
def calendar(closed_days: str | None = None) -> MemoCalendar:
    """The platform's working days: public holidays plus CLOSED_DAYS (ISO dates, spaces)."""
    days = [date.fromisoformat(day) for day in (closed_days or "").split()]
    return MemoCalendar(extra_closed_days=days)


# -- entity documents ---------------------------------------------------------------------------


def entity_document(entity: Entity) -> dict[str, Any]:
    if isinstance(entity, ReferralFacts):
        return {
            "entity": "referral",
            "platform": entity.platform,
            "interlocutor": entity.interlocutor,
            "purpose": entity.purpose,
            "status": entity.status,
            "sent_on": _iso(entity.sent_on),
            "answered_on": _iso(entity.answered_on),
        }
    document: dict[str, Any] = {"entity": "case"}
    for name in CaseFacts.__slots__:
        value = getattr(entity, name)
        if name == "earlier_meetings":
            value = [[_iso(asked), _iso(held)] for asked, held in value]
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, date):
            value = value.isoformat()
        document[name] = value
    return document


def entity_from_document(document: dict[str, Any]) -> Entity:
    values = {key: value for key, value in document.items() if key != "entity"}
    if document["entity"] == "referral":
        values["sent_on"] = _date(values["sent_on"])
        values["answered_on"] = _date(values["answered_on"])
        return ReferralFacts(**values)
    for name in (
        "received_on",
        "acknowledged_on",
        "first_interview_on",
        "first_feedback_on",
        "meeting_requested_on",
        "meeting_held_on",
        "closed_on",
    ):
        values[name] = _date(values[name])
    values["kinds"] = tuple(values["kinds"])
    values["criteria"] = tuple(values["criteria"])
    values["earlier_meetings"] = tuple(
        (_date(asked), _date(held)) for asked, held in values["earlier_meetings"]
    )
    return CaseFacts(**values)


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


# -- live updates -------------------------------------------------------------------------------


def apply(database, event: RecordedEvent, calendar: WorkingDayCalendar) -> bool:
    """Apply one event to the live read model; False when it was already in."""
    counters = database[COUNTERS]
    live = _live(counters)
    if live["position"] >= event.position:
        return False
    change = Counter(increments(event))
    key = entity_key(event)
    if key is not None:
        entities = database[live.get("entities") or ENTITIES]
        change = _apply_to_entity(entities, key, event, change, calendar)
    update: dict[str, Any] = {"$set": {"position": event.position}}
    additions = {f"counts.{name}": value for name, value in change.items() if value}
    if additions:
        update["$inc"] = additions
    while True:
        guard = {"_id": LIVE, "position": {"$lt": event.position}, **_not_frozen()}
        if counters.update_one(guard, update).modified_count == 1:
            return True
        # A rebuild froze the counters between our two writes: once it is over, either its
        # result holds this event already, or it failed and our change is still to apply.
        if _live(counters)["position"] >= event.position:
            return False


def _not_frozen(owner: str | None = None) -> dict[str, Any]:
    """Not frozen (by anyone but `owner`), or frozen by a rebuild that stopped renewing."""
    return {"$or": [{"frozen_by": {"$in": [None, owner]}}, {"frozen_until": {"$lt": time.time()}}]}


def _apply_to_entity(
    entities: Collection, key: str, event: RecordedEvent, change: Counter, calendar
) -> Counter:
    """Write the entity after `event` with its pending counter change; return that change."""
    while True:
        stored = entities.find_one({"_id": key})
        if stored is not None and stored["position"] >= event.position:
            # Written by an earlier attempt that did not reach the counters.
            if stored["position"] == event.position:
                return Counter(dict(stored["pending"]))
            return Counter()
        before = None if stored is None else entity_from_document(stored["facts"])
        source = source_key(event)
        source_document = None if source is None else entities.find_one({"_id": source})
        after_change = Counter(change)
        if before is not None:
            after_change.subtract(contribution(before, calendar))
        after = domain.apply(
            before,
            event,
            None if source_document is None else entity_from_document(source_document["facts"]),
        )
        if after is None:
            return change
        after_change.update(contribution(after, calendar))
        pending = sorted((name, value) for name, value in after_change.items() if value)
        document = {
            "_id": key,
            "position": event.position,
            "facts": entity_document(after),
            "pending": [list(item) for item in pending],
        }
        if stored is None:
            try:
                entities.insert_one(document)
                return Counter(dict(pending))
            except DuplicateKeyError:
                continue
        replaced = entities.replace_one({"_id": key, "position": stored["position"]}, document)
        if replaced.matched_count == 1:
            return Counter(dict(pending))


def _live(counters: Collection) -> dict[str, Any]:
    """The counters document (created empty if missing), once no rebuild holds it frozen."""
    while True:
        live = counters.find_one({"_id": LIVE}, {"counts": 0})
        if live is None:
            with contextlib.suppress(DuplicateKeyError):
                counters.insert_one(_counters_document(0, {}))
            continue
        if live.get("frozen_by") is None or (live.get("frozen_until") or 0) < time.time():
            return live
        time.sleep(FROZEN_POLL_SECONDS)


def _counters_document(
    position: int, counts: dict[str, int], entities: str = ENTITIES
) -> dict[str, Any]:
    return {
        "_id": LIVE,
        "position": position,
        "counts": nest(counts),
        "entities": entities,
        "frozen_by": None,
        "frozen_until": None,
    }


def project(database, event: RecordedEvent) -> None:
    """For `allodiscri projections`: the live update with the environment's calendar."""
    apply(database, event, calendar(os.environ.get("CLOSED_DAYS")))


PROJECTION = Projection(
    name=SUBSCRIPTION, collections=(COUNTERS, ENTITIES), project=project, types=STATISTICS_TYPES
)


# -- reads --------------------------------------------------------------------------------------


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, int]:
    flat: dict[str, int] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def read_counts(database) -> tuple[int, dict[str, int]]:
    """(position, every non-zero counter) of the live read model."""
    document = database[COUNTERS].find_one({"_id": LIVE}) or {"position": 0, "counts": {}}
    counts = {key: n for key, n in flatten(document.get("counts", {})).items() if n}
    return document["position"], counts


# -- folds from the log -------------------------------------------------------------------------


def fold_log(
    store: EventStore,
    fold: StatisticsFold | None = None,
    *,
    from_position: int = 1,
    to_position: int | None = None,
    every: tuple[int, Any] | None = None,
) -> StatisticsFold:
    """Fold the statistics events of a stretch of the log (to the head by default)."""
    fold = fold or StatisticsFold()
    events = store.read_all(
        from_position, to_position=to_position, types=STATISTICS_TYPES, batch_size=5000
    )
    for event in events:
        fold.apply(event)
        if every and fold.events % every[0] == 0:
            every[1]()
    return fold


def as_of(store: EventStore, moment: datetime) -> StatisticsFold:
    """The statistics as they stood at `moment`: the log replayed up to the last event
    recorded then (times never go back along positions, so that is a prefix of the log)."""
    return fold_log(store, to_position=store.position_at(moment))


# -- rebuild ------------------------------------------------------------------------------------


def rebuild(
    collection: Collection, store: EventStore, calendar: WorkingDayCalendar | None = None
) -> dict[str, Any]:
    """Recompute from the whole log and switch the live read model to the result.

    The live projection is frozen first: its position then stays put, the rebuild compares its
    fold at that position with the live read model ("identical"), folds on to the head, and
    switches. Live workers wait out the freeze and resume from the rebuilt position.
    """
    database = collection.database
    calendar = calendar or MemoCalendar()
    counters = database[COUNTERS]
    owner = f"rebuild{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    _live(counters)
    if not _freeze(counters, owner):
        raise RebuildRunning("another rebuild of the statistics is running; try again later")
    rebuilt = f"{ENTITIES}_{owner}"
    try:
        frozen_at = counters.find_one({"_id": LIVE})
        entities = database[frozen_at.get("entities") or ENTITIES]
        renew = (RENEW_EVERY_EVENTS, lambda: _freeze(counters, owner) or _lost(owner))
        fold = fold_log(store, to_position=frozen_at["position"], every=renew)
        live_counts = {k: n for k, n in flatten(frozen_at.get("counts", {})).items() if n}
        identical = live_counts == dict(fold.counts(calendar)) and _entities(
            entities.find(), frozen_at["position"]
        ) == _entities(_rebuilt_documents(fold), frozen_at["position"])
        fold_log(store, fold, from_position=frozen_at["position"] + 1, every=renew)
        _write(database[rebuilt], _rebuilt_documents(fold))
        switched = counters.replace_one(
            {"_id": LIVE, "frozen_by": owner},
            _counters_document(fold.position, dict(fold.counts(calendar)), rebuilt),
        )
        if switched.matched_count != 1:
            _lost(owner)
    except BaseException:
        database[rebuilt].drop()
        counters.update_one(
            {"_id": LIVE, "frozen_by": owner}, {"$set": {"frozen_by": None, "frozen_until": None}}
        )
        raise
    entities.drop()
    return {
        "position": fold.position,
        "identical": identical,
        "events": fold.events,
        "entities": len(fold.entities),
        "seconds": round(time.monotonic() - started, 3),
    }


class RebuildRunning(Exception):
    """Another rebuild holds the statistics frozen."""


def _freeze(counters: Collection, owner: str) -> bool:
    """Freeze the live counters for `owner` (or renew its freeze); False if another holds it."""
    frozen = counters.update_one(
        {"_id": LIVE, **_not_frozen(owner)},
        {"$set": {"frozen_by": owner, "frozen_until": time.time() + FREEZE_SECONDS}},
    )
    return frozen.matched_count == 1


def _lost(owner: str) -> None:
    raise RebuildRunning(f"{owner} lost its freeze of the statistics: another rebuild took over")


def _rebuilt_documents(fold: StatisticsFold) -> Iterable[dict[str, Any]]:
    for key, entity in fold.entities.items():
        yield {
            "_id": key,
            "position": fold.entity_positions[key],
            "facts": entity_document(entity),
            "pending": [],
        }


def _entities(documents: Iterable[dict[str, Any]], position: int) -> dict[str, Any]:
    """The entities as of `position`. One written by a worker caught by the freeze between its
    two writes stands beyond it: its event is not in the counters yet, so it is left out."""
    return {
        document["_id"]: (document["position"], document["facts"])
        for document in documents
        if document["position"] <= position
    }


def _write(collection: Collection, documents: Iterable[dict[str, Any]]) -> None:
    collection.drop()
    batch: list[dict[str, Any]] = []
    for document in documents:
        batch.append(document)
        if len(batch) == 1000:
            collection.insert_many(batch)
            batch = []
    if batch:
        collection.insert_many(batch)
