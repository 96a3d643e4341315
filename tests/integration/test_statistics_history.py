"""Statistics over a generated history of reports, stored through the real event store, checked
against a count written here from the raw events; and "as of" figures that later events leave
exactly as they were published.

The history is random but seeded, with the shares the DGAFP published for all ministries' reporting
schemes in 2022 (as given in the issue): kinds of facts, harcèlement moral 61 %, discrimination
23 %, violences sexistes et sexuelles 26 %, agissement sexiste 0.2 % (a report may carry several,
so these add up to more than 100 %); outcomes, 39 % information and orientation only, 4 % facts
confirmed, 3 % sanction, 4 % litigation. The rest of the outcomes (50 %) is spread here over
"not substantiated", "withdrawn" and "other", which the figures quoted do not detail.
"""

from __future__ import annotations

import itertools
import json
import random
import statistics
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from allodiscri.kernel.events import ANY, NewEvent
from allodiscri.kernel.workdays import WorkingDayCalendar, add_months
from allodiscri.platform.store import EventStore
from services.reporting import statistics as adapter
from services.reporting import views
from services.reporting.domain import StatisticsFold
from tests.helpers import meta

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2024, 1, 1, 8, tzinfo=PARIS)
PUBLISHED_AT = datetime(2025, 1, 1, 0, 0, tzinfo=PARIS)
"""The instant the 2024 figures were published; phase two of the history comes after it."""
END = datetime(2025, 12, 31, 18, tzinfo=PARIS)
REPORTS = 2000

# The DGAFP shares (see the module docstring). Violences sexistes et sexuelles are recorded as
# harcèlement sexuel or, for a third of them, violence.
KIND_SHARES = {
    "harcelement-moral": 0.61,
    "discrimination": 0.23,
    "sexist-and-sexual-violence": 0.26,
    "agissement-sexiste": 0.002,
}
OUTCOME_SHARES = {
    "information-only": 0.39,
    "facts-confirmed": 0.04,
    "sanction": 0.03,
    "litigation": 0.04,
    "not-substantiated": 0.20,
    "withdrawn": 0.15,
    "other": 0.15,
}
PLATFORM_SHARES = {"SG": 0.8, "PN": 0.12, "GN": 0.08}
CRITERIA = ["origine", "sexe", "age", "handicap", "etat-de-sante", "ethnie-nation-race-religion"]
INTERLOCUTORS = ["hr-office", "occupational-physician", "social-worker", "hierarchy", "inspection"]


# -- the generator ------------------------------------------------------------------------------


@dataclass(order=True)
class Planned:
    at: datetime
    sequence: int
    stream: str = field(compare=False)
    type: str = field(compare=False)
    data: dict[str, Any] = field(compare=False)
    schema_version: int = field(compare=False, default=1)


class History:
    """Plans the events of `reports` reports over [start, end], in the order they happen.

    `streams` "per-id" names streams as the services do (report-<id>, case-<id>, …);
    "per-platform" files them in one stream per type and platform, which the store appends to
    much faster on the development server (statistics never look at stream names).
    """

    def __init__(self, seed: int, reports: int, start: datetime, end: datetime, streams: str):
        self.random = random.Random(seed)
        self.start, self.end = start, end
        self.streams = streams
        self.sequence = itertools.count()
        self.planned: list[Planned] = []
        for _ in range(reports):
            self._report()
        self.planned.sort()

    def _id(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def _stream(self, stream_type: str, entity_id: str, platform: str) -> str:
        own = entity_id if self.streams == "per-id" else platform
        return f"{stream_type}-{own}"

    def _plan(self, at, stream, event_type, data, schema_version=1) -> datetime:
        self.planned.append(
            Planned(at, next(self.sequence), stream, event_type, data, schema_version)
        )
        return at

    def _later(self, at: datetime, low_days: float, high_days: float) -> datetime:
        return at + timedelta(days=self.random.uniform(low_days, high_days))

    def _kinds(self) -> list[str]:
        kinds = set()
        for kind, share in KIND_SHARES.items():
            if self.random.random() < share:
                if kind == "sexist-and-sexual-violence":
                    kind = self.random.choice(["harcelement-sexuel"] * 2 + ["violence"])
                kinds.add(kind)
        return sorted(kinds)

    def _report(self) -> None:
        r = self.random
        span = (self.end - self.start).total_seconds() * 0.9
        received = self.start + timedelta(seconds=r.uniform(0, span))
        platform = r.choices(list(PLATFORM_SHARES), weights=PLATFORM_SHARES.values())[0]
        channel = r.choices(["web", "email", "phone", "postal"], weights=[5, 2, 2, 1])[0]
        # A letter is dated before it is recorded; e-mails say nothing of role or facts.
        received_at = (
            received - timedelta(days=r.uniform(1, 4)) if channel == "postal" else received
        )
        kinds = [] if channel == "email" and r.random() < 0.5 else self._kinds()
        criteria = sorted(r.sample(CRITERIA, r.randint(1, 2))) if "discrimination" in kinds else []
        report_id = self._id()
        declarant = {
            "role": None if channel == "email" else r.choices(["victim", "witness"], [8, 2])[0],
            "perimeter": r.choice(["central-administration", "prefecture", "other", None]),
            "status": r.choice(["titulaire", "contractuel", "apprenti", "stagiaire", None]),
            "category": r.choice(["A", "B", "C", None]),
        }
        self._plan(
            received,
            self._stream("report", report_id, platform),
            "ReportReceived",
            {
                "report_id": report_id,
                "platform": platform,
                "channel": channel,
                "received_at": received_at.isoformat(),
                "declarant": declarant,
                "facts": {"kinds": kinds, "criteria": criteria},
            },
        )
        opened = {
            "case_id": report_id,
            "report_id": report_id,
            "platform": platform,
            "channel": channel,
            "kinds": kinds,
            "criteria": criteria,
            "received_at": received_at.isoformat(),
            "transferred_from": None,
        }
        at = self._plan(
            received + timedelta(minutes=1),
            self._stream("case", report_id, platform),
            "CaseOpened",
            opened,
            2,
        )
        self._case(report_id, platform, at, opened)

    def _case(self, case_id: str, platform: str, at: datetime, opened: dict) -> None:
        r = self.random
        stream = self._stream("case", case_id, platform)

        def plan(event_type, when, **data):
            return self._plan(when, stream, event_type, {"case_id": case_id, **data})

        if r.random() < 0.92:
            late = r.random() < 0.15
            at = plan("ReceiptAcknowledged", self._later(at, *((9, 20) if late else (0, 6))))
        else:
            return
        if opened["transferred_from"] is None and r.random() < 0.03:
            to_platform = r.choice([p for p in PLATFORM_SHARES if p != platform])
            at = plan("CaseTransferred", self._later(at, 0, 3), to_platform=to_platform, reason="r")
            new_id = self._id()
            moved = {**opened, "case_id": new_id, "platform": to_platform}
            moved["transferred_from"] = platform
            at = self._plan(
                at + timedelta(minutes=1),
                self._stream("case", new_id, to_platform),
                "CaseOpened",
                moved,
                2,
            )
            self._case(new_id, to_platform, at, moved)
            return
        if r.random() < 0.45:
            kinds = self._kinds() or ["harcelement-moral"]
            criteria = ["sexe"] if "discrimination" in kinds else []
            at = plan(
                "FactsQualified",
                self._later(at, 0, 10),
                kinds=kinds,
                criteria=criteria,
                criteria_version=2,
            )
        meeting_at = None
        if r.random() < 0.06:
            meeting_at = plan("MeetingRequested", self._later(at, 1, 10))
            if r.random() < 0.8:
                at = plan("InterviewHeld", self._later(meeting_at, 5, 40), notes="n")
        if r.random() < 0.55:
            at = plan("InterviewHeld", self._later(at, 3, 30), notes="n")
        if r.random() < 0.6:
            plan("DeclarantInformed", self._later(at, 20, 120), message="m")
        if r.random() < 0.15:
            for _ in range(r.choice([1, 1, 2])):
                self._referral(case_id, platform, self._later(at, 5, 20))
        if r.random() < 0.05:
            plan(
                "FactsReclassified",
                self._later(at, 30, 200),
                kinds=["discrimination"],
                criteria=["age"],
                criteria_version=2,
                reason="r",
            )
        if r.random() < 0.75:
            outcome = r.choices(list(OUTCOME_SHARES), weights=OUTCOME_SHARES.values())[0]
            at = plan("CaseClosed", self._later(at, 15, 300), outcome=outcome, reason="r")
            if r.random() < 0.04:
                at = plan("CaseReopened", self._later(at, 10, 60), reason="r")
                plan("CaseClosed", self._later(at, 10, 60), outcome="other", reason="r")

    def _referral(self, case_id: str, platform: str, at: datetime) -> None:
        r = self.random
        referral_id = self._id()
        stream = self._stream("referral", referral_id, platform)
        ids = {"referral_id": referral_id, "case_id": case_id}
        requested = {**ids, "platform": platform, "interlocutor": r.choice(INTERLOCUTORS)}
        requested["purpose"] = r.choice(["support", "authority"])
        at = self._plan(at, stream, "ReferralRequested", requested, 2)
        sent = self._later(at, 0, 2)
        sent_on = sent.astimezone(PARIS).date().isoformat()
        self._plan(sent, stream, "ReferralSent", {**ids, "sent_on": sent_on, "note": None})
        if r.random() < 0.75:
            answered = self._later(sent, 2, 60)
            self._plan(answered, stream, "ReferralAnswered", {**ids, "answer": "a", "measures": []})

    def append(self, store: EventStore, clock: list[datetime], until: datetime | None = None):
        """Append the planned events up to `until` (all by default) through the store."""
        while self.planned and (until is None or self.planned[0].at <= until):
            event = self.planned.pop(0)
            clock[0] = event.at
            platform = event.data.get("platform", "SG")
            new = NewEvent(event.type, event.data, meta(platform), event.schema_version)
            store.append(event.stream, new, ANY)


# -- the count written here, from the raw events ------------------------------------------------


def paris_day(moment: datetime) -> date:
    return moment.astimezone(PARIS).date()


def independent_figures(documents, platform: str, today: date) -> dict[str, Any]:
    """The figures of `platform`, recomputed from the stored documents with nothing from the
    reporting code: each case's events are gathered, then its facts read off them."""
    calendar = WorkingDayCalendar()
    reports, case_events, referral_events, opened = {}, defaultdict(list), defaultdict(list), {}
    for document in documents:
        data, day = document["data"], paris_day(document["recorded_at"])
        if document["type"] == "ReportReceived":
            reports[data["report_id"]] = data
        elif document["type"] == "CaseOpened":
            opened[data["case_id"]] = (data, day)
        elif "referral_id" in data:
            referral_events[data["referral_id"]].append((document["type"], data, day))
        else:
            case_events[data["case_id"]].append((document["type"], data, day))

    tables: dict[str, Counter] = defaultdict(Counter)
    durations: dict[str, list[int]] = defaultdict(list)
    compliance: dict[str, Counter] = defaultdict(Counter)
    for case_id, (opening, _) in opened.items():
        if opening["platform"] != platform:
            continue
        report = reports[opening["report_id"]]
        declarant = report["declarant"]
        received = datetime.fromisoformat(opening["received_at"]).astimezone(PARIS).date()
        events = case_events[case_id]

        def days_of(event_type, events=events):
            return [day for kind, _, day in events if kind == event_type]

        kinds, criteria = opening["kinds"], opening["criteria"]
        for kind, data, _ in events:
            if kind in ("FactsQualified", "FactsReclassified"):
                kinds, criteria = data["kinds"], data["criteria"]
        status = "received"
        for kind, _, _ in events:
            status = {
                "ReceiptAcknowledged": "acknowledged",
                "InterviewHeld": "in-treatment",
                "CaseClosed": "closed",
                "CaseReopened": "in-treatment",
                "CaseTransferred": "transferred",
            }.get(kind, status)
        closings = [(data["outcome"], day) for kind, data, day in events if kind == "CaseClosed"]
        tables["channel"][opening["channel"]] += 1
        tables["declarant_role"][declarant["role"] or "unknown"] += 1
        tables["perimeter"][declarant["perimeter"] or "unknown"] += 1
        tables["agent_status"][declarant["status"] or "unknown"] += 1
        tables["agent_category"][declarant["category"] or "unknown"] += 1
        tables["case_status"][status] += 1
        tables["received_from"][opening["transferred_from"] or "direct"] += 1
        tables["month"][received.strftime("%Y-%m")] += 1
        tables["year"][str(received.year)] += 1
        tables["kind"].update(kinds or ["unqualified"])
        tables["criterion"].update(criteria or ["none"])
        acknowledged = min(days_of("ReceiptAcknowledged"), default=None)
        if acknowledged:
            durations["acknowledgement"].append((acknowledged - received).days)
        if days_of("InterviewHeld"):
            durations["first_interview"].append((days_of("InterviewHeld")[0] - received).days)
        if status == "closed":
            outcome, closed = closings[-1]
            tables["outcome"][outcome] += 1
            durations["closure"].append((closed - received).days)

        # The legal deadlines, from the rules themselves (décret 2022-1284).
        ack_due = calendar.add_working_days(received, 7)
        kinds_in_order = [kind for kind, _, _ in events]
        after_ack = events[kinds_in_order.index("ReceiptAcknowledged") :] if acknowledged else []
        informed = [day for kind, _, day in after_ack if kind == "DeclarantInformed"]
        obligations = [
            ("acknowledgement", ack_due, acknowledged),
            ("feedback", add_months(acknowledged or ack_due, 3), informed[0] if informed else None),
        ]
        for index, (kind, _, asked) in enumerate(events):
            if kind == "MeetingRequested":
                held = [day for k, _, day in events[index:] if k == "InterviewHeld"]
                due = calendar.add_working_days(asked, 20)
                obligations.append(("meeting", due, held[0] if held else None))
        for deadline, due, met in obligations:
            if met is not None:
                compliance[deadline]["in_time" if met <= due else "late"] += 1
            elif status != "transferred":
                compliance[deadline]["overdue" if today > due else "pending"] += 1

    answer_days: dict[str, list[int]] = defaultdict(list)
    for events in referral_events.values():
        requested = next(data for kind, data, _ in events if kind == "ReferralRequested")
        if requested["platform"] != platform:
            continue
        interlocutor = requested["interlocutor"]
        tables["referral_interlocutor"][interlocutor] += 1
        tables["referral_purpose"][requested["purpose"]] += 1
        last = events[-1][0].removeprefix("Referral").lower()
        tables["referral_status"][last] += 1
        sent = [
            date.fromisoformat(data["sent_on"]) for kind, data, _ in events if "sent_on" in data
        ]
        answered = [day for kind, _, day in events if kind == "ReferralAnswered"]
        if sent and answered:
            answer_days["all"].append((answered[0] - sent[0]).days)
            answer_days[interlocutor].append((answered[0] - sent[0]).days)

    def summary(values):
        if not values:
            return (0, None, None)
        p90 = (
            statistics.quantiles(values, n=10, method="inclusive")[8]
            if len(values) > 1
            else values[0]
        )
        return (len(values), round(statistics.median(values), 1), round(p90, 1))

    def share(counts):
        decided = counts["in_time"] + counts["late"] + counts["overdue"]
        return round(counts["in_time"] / decided, 4) if decided else None

    return {
        "cases": sum(tables["channel"].values()),
        "tables": {name: dict(sorted(cells.items())) for name, cells in tables.items()},
        "durations": {name: summary(values) for name, values in durations.items()},
        "compliance": {
            name: (*(counts[v] for v in ("in_time", "late", "overdue", "pending")), share(counts))
            for name, counts in compliance.items()
        },
        "answer_times": {name: summary(values) for name, values in answer_days.items()},
    }


def comparable(view: dict[str, Any]) -> dict[str, Any]:
    """The reporting service's view, in the shape of `independent_figures`."""
    answers = view["referral_answer_times"]
    by = {"all": answers["all"], **answers["by_interlocutor"]}
    return {
        "cases": view["cases"],
        "tables": {name: t["cells"] for name, t in view["tables"].items() if t["cells"]},
        "durations": {
            name: (s["count"], s["median_days"], s["p90_days"])
            for name, s in view["durations"].items()
            if s["count"]
        },
        "compliance": {
            name: (c["in_time"], c["late"], c["overdue"], c["pending"], c["share_in_time"])
            for name, c in view["compliance"].items()
            if c["total"]
        },
        "answer_times": {
            name: (s["count"], s["median_days"], s["p90_days"])
            for name, s in by.items()
            if s["count"]
        },
    }


# -- the stored history -------------------------------------------------------------------------


@dataclass
class StoredHistory:
    database: Any
    store: EventStore
    published: dict[str, dict[str, Any]]
    """The figures of each platform as published at PUBLISHED_AT, before phase two existed."""
    independent_published: dict[str, dict[str, Any]]
    raw: list[dict[str, Any]]
    """Every stored event document, in log order."""
    final: StatisticsFold
    """The whole log folded."""


def view_of(fold, platform: str, today: date, role="cell-manager", moment=None):
    counts = fold.counts(adapter.calendar())
    return views.detailed(platform, fold.position, counts, today, role, moment)


@pytest.fixture(scope="module")
def history(mongo_client):
    database = mongo_client.get_database(f"t_{uuid.uuid4().hex[:16]}")
    clock = [START]
    store = EventStore(database, clock=lambda: clock[0])
    store.ensure_indexes()
    planned = History(2022, REPORTS, START, END, streams="per-platform")
    planned.append(store, clock, until=PUBLISHED_AT)
    fold = adapter.fold_log(store)
    published_day = PUBLISHED_AT.date()
    published = {p: view_of(fold, p, published_day, moment=PUBLISHED_AT) for p in PLATFORM_SHARES}
    raw = list(database.events.find().sort("position", 1))
    independent = {p: independent_figures(raw, p, published_day) for p in PLATFORM_SHARES}
    planned.append(store, clock)
    raw = list(database.events.find().sort("position", 1))
    yield StoredHistory(database, store, published, independent, raw, adapter.fold_log(store))
    mongo_client.drop_database(database.name)


def test_the_history_is_large_and_shaped_like_the_dgafp_figures(history):
    sg = comparable(view_of(history.final, "SG", END.date()))
    everyone = sum(
        view_of(history.final, p, END.date())["tables"]["received_from"]["cells"]["direct"]
        for p in PLATFORM_SHARES
    )
    assert everyone == REPORTS and len(history.raw) > 5 * REPORTS
    kinds = sg["tables"]["kind"]
    assert 0.5 < kinds["harcelement-moral"] / sg["cases"] < 0.7
    outcomes = sg["tables"]["outcome"]
    assert 0.3 < outcomes["information-only"] / sum(outcomes.values()) < 0.5


@pytest.mark.parametrize("platform", sorted(PLATFORM_SHARES))
def test_figures_from_the_log_equal_a_count_from_the_raw_events(history, platform):
    today = date(2026, 2, 1)
    expected = independent_figures(history.raw, platform, today)
    assert comparable(view_of(history.final, platform, today)) == expected


def test_published_figures_equal_the_independent_count_at_that_instant(history):
    for platform, published in history.published.items():
        assert comparable(published) == history.independent_published[platform]


def test_figures_as_of_an_instant_are_reproduced_exactly_after_later_events(history):
    fold = adapter.as_of(history.store, PUBLISHED_AT)
    today = PUBLISHED_AT.date()
    for platform, published in history.published.items():
        reproduced = view_of(fold, platform, today, moment=PUBLISHED_AT)
        assert json.dumps(reproduced, sort_keys=True) == json.dumps(published, sort_keys=True)
    # Later events changed what 2024's cases look like, so the check above could fail.
    now = view_of(history.final, "SG", today)
    assert now["tables"]["case_status"] != history.published["SG"]["tables"]["case_status"]
    assert history.store.position_at(PUBLISHED_AT) < history.store.head_position()


def test_the_analyst_view_of_a_real_history_hides_small_counts_and_names_no_one(history):
    raw_ids = {
        value
        for document in history.raw
        for key, value in document["data"].items()
        if key.endswith("_id")
    }
    for platform in PLATFORM_SHARES:
        view = view_of(history.final, platform, END.date(), role="analyst")
        text = json.dumps(view)
        assert not any(identifier in text for identifier in raw_ids)
        cells = [
            value
            for table in view["tables"].values()
            for value in [table["total"], *table["cells"].values()]
        ]
        assert all(isinstance(v, str) or v == 0 or v >= 5 for v in cells)
        exact = view_of(history.final, platform, END.date())
        for name, table in view["tables"].items():
            hidden = [code for code, v in table["cells"].items() if isinstance(v, str)]
            if name != "month" and not table["multi_valued"]:
                assert len(hidden) != 1 or isinstance(table["total"], str), (platform, name)
            shown = {c: v for c, v in table["cells"].items() if not isinstance(v, str)}
            assert shown.items() <= exact["tables"][name]["cells"].items()
    assert "< 5" in json.dumps(view_of(history.final, "GN", END.date(), role="analyst"))
