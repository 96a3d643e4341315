"""Statistics never expose an individual: small-cell suppression, and a guard on identifiers.

The cell (listeners, cell manager) knows its cases and sees exact counts. Every other role sees:

1. a count from 1 to 4 as "< 5" (0 names no one and is shown);
2. a table whose total is 1 to 4 as "< 5" throughout;
3. when exactly one cell of a table is "< 5", the smallest other non-zero cell as "masked"
   (ties: the first code), so the total minus the cells shown never gives the hidden one;
4. months within each year as a table whose total is the year's count, and every month of a
   hidden year hidden too, so years and months never undo each other;
5. a median or 90th percentile only over 5 values or more;
6. a compliance breakdown as a table, and its share in time only when none of in time, late
   and overdue is hidden.

Multi-valued tables (kinds, criteria) follow the same rules although their cells do not add up
to the total: the safe side. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Any

from allodiscri.kernel.actors import CELL

THRESHOLD = 5
SMALL = "< 5"
MASKED = "masked"

RULE = (
    f"Counts from 1 to {THRESHOLD - 1} are shown as '{SMALL}'. When a single cell of a table is "
    f"hidden, the next smallest is shown as '{MASKED}' so that it cannot be worked out from the "
    f"total; months follow their year. Medians and percentiles need {THRESHOLD} values."
)


def sees_exact_counts(role: str) -> bool:
    return role in CELL


def is_small(value: int) -> bool:
    return 0 < value < THRESHOLD


def count(value: int) -> int | str:
    return SMALL if is_small(value) else value


def protect_cells(cells: dict[str, int]) -> dict[str, int | str]:
    """Primary suppression, and the secondary one when a single cell would be hidden."""
    small = [code for code, value in cells.items() if is_small(value)]
    masked = None
    if len(small) == 1:
        others = sorted((value, code) for code, value in cells.items() if value >= THRESHOLD)
        masked = others[0][1] if others else None
    return {
        code: SMALL if code in small else MASKED if code == masked else value
        for code, value in cells.items()
    }


def protect_table(table: dict[str, Any]) -> dict[str, Any]:
    total = table["total"]
    if is_small(total):
        cells = {code: SMALL if value else 0 for code, value in table["cells"].items()}
        return {**table, "total": SMALL, "cells": cells}
    return {**table, "cells": protect_cells(table["cells"])}


def protect_calendar(years: dict[str, Any], months: dict[str, Any]):
    """Years as a table; each year's months as a table whose total is the year's count."""
    shown_years = protect_table(years)
    shown_months: dict[str, int | str] = {}
    for year, shown in shown_years["cells"].items():
        of_year = {month: n for month, n in months["cells"].items() if month[:4] == year}
        if isinstance(shown, str):
            shown_months |= {
                month: SMALL if is_small(n) else MASKED for month, n in of_year.items()
            }
        else:
            shown_months |= protect_cells(of_year)
    return shown_years, {**months, "total": shown_years["total"], "cells": shown_months}


def protect_summary(summary: dict[str, Any]) -> dict[str, Any]:
    if not is_small(summary["count"]):
        return summary
    return {**summary, "count": SMALL, "median_days": None, "p90_days": None}


def protect_compliance(figures: dict[str, Any]) -> dict[str, Any]:
    verdicts = ("in_time", "late", "overdue", "pending")
    shown = protect_table(
        {"total": figures["total"], "cells": {name: figures[name] for name in verdicts}}
    )
    hidden = any(isinstance(shown["cells"][name], str) for name in verdicts[:3])
    return {
        **figures,
        **shown["cells"],
        "total": shown["total"],
        "share_in_time": None if hidden else figures["share_in_time"],
    }


def protect_counts(section: dict[str, Any]) -> dict[str, Any]:
    """The first statistics' shape: {"total": n, "channel": {...}, "kind": {...}}."""
    if not section:
        return section
    total = section.get("total", 0)
    shown: dict[str, Any] = {"total": count(total)}
    for dimension in ("channel", "kind"):
        cells = section.get(dimension, {})
        if is_small(total):
            shown[dimension] = {code: SMALL if value else 0 for code, value in cells.items()}
        else:
            shown[dimension] = protect_cells(cells)
    return shown


def protect(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures as every role but the cell's may see them."""
    tables = figures["tables"]
    protected = {name: protect_table(table) for name, table in tables.items()}
    protected["year"], protected["month"] = protect_calendar(tables["year"], tables["month"])
    answers = figures["referral_answer_times"]
    return {
        **figures,
        "cases": count(figures["cases"]),
        "referrals": count(figures["referrals"]),
        "tables": protected,
        "durations": {name: protect_summary(s) for name, s in figures["durations"].items()},
        "compliance": {name: protect_compliance(c) for name, c in figures["compliance"].items()},
        "referral_answer_times": {
            **answers,
            "all": protect_summary(answers["all"]),
            "by_interlocutor": {
                name: protect_summary(s) for name, s in answers["by_interlocutor"].items()
            },
        },
    }


# -- the guard ----------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


class IdentifierLeak(ValueError):
    """Statistics about to carry something that identifies a case or a person."""


def ensure_no_identifiers(value: Any) -> Any:
    """`value` unchanged, or IdentifierLeak if any key or text in it holds a case, report or
    referral id (a UUID) or an e-mail address. Statistics are built from codes and counts only;
    this makes sure of it on the way out."""
    if isinstance(value, dict):
        for key, item in value.items():
            ensure_no_identifiers(key)
            ensure_no_identifiers(item)
    elif isinstance(value, list | tuple):
        for item in value:
            ensure_no_identifiers(item)
    elif isinstance(value, str) and ("@" in value or _IDENTIFIER.search(value)):
        raise IdentifierLeak("statistics would carry an identifier or an address; none was sent")
    return value
