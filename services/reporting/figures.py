"""The published figures, computed from one platform's counters. Pure: no I/O, no clock.

Counters hold histograms (days → cases), so medians and percentiles are exact; unmet deadlines
are kept by due day, so "overdue" is decided for the day the figures are asked for (`today`),
which is why the same log and the same day always give the same figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from allodiscri.kernel.reference import DEADLINES

DURATIONS = {
    "acknowledgement": "from receipt to acknowledgement",
    "first_interview": "from receipt to the first interview held",
    "closure": "from receipt to closure (the latest closure of a reopened case)",
}

_EACH = "A {unit} counts once in each of its {what}: the cells add up to more than the total, "
_MULTI = _EACH + "which is the number of {unit}s."
_OF_RECEIPT = "By {what} of receipt (Europe/Paris)."


def _note_multi(what: str, extra: str = "") -> str:
    return _MULTI.format(unit="case", what=what) + extra


TABLES: dict[str, dict[str, Any]] = {
    "kind": {
        "counter": "cases.kind.",
        "unit": "cases",
        "multi_valued": True,
        "note": _note_multi(
            "kinds of facts",
            " The latest qualification counts; 'unqualified' until the facts are qualified.",
        ),
    },
    "criterion": {
        "counter": "cases.criterion.",
        "unit": "cases",
        "multi_valued": True,
        "note": _note_multi(
            "discrimination criteria", " 'none': no criterion (facts other than discrimination)."
        ),
    },
    "channel": {"counter": "cases.channel.", "unit": "cases"},
    "declarant_role": {
        "counter": "cases.declarant_role.",
        "unit": "cases",
        "note": "Victim or witness; 'unknown' when the report did not say.",
    },
    "perimeter": {"counter": "cases.perimeter.", "unit": "cases"},
    "agent_status": {"counter": "cases.agent_status.", "unit": "cases"},
    "agent_category": {"counter": "cases.agent_category.", "unit": "cases"},
    "case_status": {"counter": "cases.case_status.", "unit": "cases"},
    "received_from": {
        "counter": "cases.received_from.",
        "unit": "cases",
        "note": "'direct', or the platform that transferred the case here (which counts it too, "
        "as 'transferred').",
    },
    "outcome": {
        "counter": "cases.outcome.",
        "unit": "closed cases",
        "note": "Closed cases by outcome; a reopened case leaves this table until closed again.",
    },
    "year": {"counter": "cases.month.", "unit": "cases", "note": _OF_RECEIPT.format(what="year")},
    "month": {"counter": "cases.month.", "unit": "cases", "note": _OF_RECEIPT.format(what="month")},
    "referral_interlocutor": {"counter": "referrals.interlocutor.", "unit": "referrals"},
    "referral_purpose": {"counter": "referrals.purpose.", "unit": "referrals"},
    "referral_status": {"counter": "referrals.status.", "unit": "referrals"},
}


def platform_counts(counts: Mapping[str, int], platform: str) -> dict[str, int]:
    """One platform's counters, without the platform prefix and without zeros."""
    prefix = f"{platform}."
    return {
        key[len(prefix) :]: value
        for key, value in counts.items()
        if value and key.startswith(prefix)
    }


def figures(counts: Mapping[str, int], today: date) -> dict[str, Any]:
    """Every figure of one platform (raw: confidentiality is applied by the caller)."""
    return {
        "cases": counts.get("cases.total", 0),
        "referrals": counts.get("referrals.total", 0),
        "tables": {name: table(counts, name) for name in TABLES},
        "durations": {
            measure: {
                "description": description,
                **summary(histogram(counts, f"durations.{measure}.")),
            }
            for measure, description in DURATIONS.items()
        },
        "compliance": {kind: compliance(counts, kind, today) for kind in DEADLINES},
        "referral_answer_times": answer_times(counts),
    }


def table(counts: Mapping[str, int], name: str) -> dict[str, Any]:
    spec = TABLES[name]
    cells = _cells(counts, spec["counter"])
    if name == "year":
        years: dict[str, int] = {}
        for month, value in cells.items():
            years[month[:4]] = years.get(month[:4], 0) + value
        cells = years
    multi_valued = spec.get("multi_valued", False)
    return {
        "unit": spec["unit"],
        "multi_valued": multi_valued,
        "total": counts.get("cases.total", 0) if multi_valued else sum(cells.values()),
        "cells": dict(sorted(cells.items())),
        "note": spec.get("note"),
    }


def _cells(counts: Mapping[str, int], prefix: str) -> dict[str, int]:
    return {
        key[len(prefix) :]: value
        for key, value in counts.items()
        if value and key.startswith(prefix) and "." not in key[len(prefix) :]
    }


def histogram(counts: Mapping[str, int], prefix: str) -> dict[int, int]:
    """{days: how many} from counters `<prefix>d<days>`."""
    return {int(code[1:]): value for code, value in _cells(counts, prefix).items()}


def summary(values: dict[int, int]) -> dict[str, Any]:
    count = sum(values.values())
    if not count:
        return {"count": 0, "median_days": None, "p90_days": None}
    return {
        "count": count,
        "median_days": round(quantile(values, 1, 2), 1),
        "p90_days": round(quantile(values, 9, 10), 1),
    }


def quantile(values: dict[int, int], numerator: int, denominator: int) -> float:
    """The (numerator/denominator)-quantile, interpolated between order statistics as
    `statistics.quantiles(method="inclusive")` does, from a histogram."""
    count = sum(values.values())
    j, rest = divmod(numerator * (count - 1), denominator)
    low = _order_statistic(values, j)
    high = _order_statistic(values, j + 1) if rest else low
    return (low * (denominator - rest) + high * rest) / denominator


def _order_statistic(values: dict[int, int], index: int) -> int:
    seen = 0
    for value in sorted(values):
        seen += values[value]
        if index < seen:
            return value
    raise IndexError(index)


def compliance(counts: Mapping[str, int], kind: str, today: date) -> dict[str, Any]:
    prefix = f"compliance.{kind}."
    in_time = counts.get(prefix + "in_time", 0)
    late = counts.get(prefix + "late", 0)
    overdue = pending = 0
    for due_on, value in _cells(counts, prefix + "due.").items():
        if date.fromisoformat(due_on) < today:
            overdue += value
        else:
            pending += value
    decided = in_time + late + overdue
    return {
        "rule": DEADLINES[kind],
        "in_time": in_time,
        "late": late,
        "overdue": overdue,
        "pending": pending,
        "total": decided + pending,
        "share_in_time": round(in_time / decided, 4) if decided else None,
    }


def answer_times(counts: Mapping[str, int]) -> dict[str, Any]:
    by_interlocutor = {}
    prefix = "answer_days.interlocutor."
    keys = [key[len(prefix) :] for key, n in counts.items() if n and key.startswith(prefix)]
    interlocutors = sorted({key.split(".")[0] for key in keys})
    for interlocutor in interlocutors:
        by_interlocutor[interlocutor] = summary(histogram(counts, f"{prefix}{interlocutor}."))
    return {
        "description": "days from the referral being sent to its answer",
        "all": summary(histogram(counts, "answer_days.all.")),
        "by_interlocutor": by_interlocutor,
    }
