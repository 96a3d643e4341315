"""Small-cell suppression, the analyst's view, and exports: no individual ever shows through."""

import csv
import io
import json
import random
from datetime import date

import pytest

from services.reporting import export, views
from services.reporting.confidentiality import (
    IdentifierLeak,
    ensure_no_identifiers,
    protect_calendar,
    protect_cells,
    protect_compliance,
    protect_counts,
    protect_table,
)
from services.reporting.figures import TABLES

CASE_ID = "6f1c5a2e-1111-4222-8333-444455556666"
# As a reader sees them (README), stated here rather than imported from the code under test.
SMALL = "< 5"  # a count under 5
MASKED = "masked"  # a count hidden so that a small one cannot be worked out


def table(cells, total=None, multi_valued=False):
    total = sum(cells.values()) if total is None else total
    return {"unit": "cases", "multi_valued": multi_valued, "total": total, "cells": cells}


def test_counts_under_five_are_hidden_and_a_lone_hidden_cell_takes_the_next_smallest():
    shown = protect_table(table({"web": 40, "email": 3, "phone": 7, "postal": 9}))
    assert shown["cells"] == {"web": 40, "email": SMALL, "phone": MASKED, "postal": 9}
    assert shown["total"] == 59


def test_two_hidden_cells_need_no_secondary_suppression_and_zeros_show():
    cells = {"web": 40, "email": 3, "phone": 1, "postal": 0}
    assert protect_cells(cells) == {"web": 40, "email": SMALL, "phone": SMALL, "postal": 0}


def test_a_table_with_a_small_total_hides_everything():
    shown = protect_table(table({"web": 2, "phone": 1}))
    assert shown["total"] == SMALL and shown["cells"] == {"web": SMALL, "phone": SMALL}


def test_zeros_show_in_a_table_whose_total_is_hidden():
    """Zero names no one: hiding it too would only make the table harder to read."""
    shown = protect_table(table({"web": 2, "phone": 0, "email": 1}))
    assert shown["total"] == SMALL
    assert shown["cells"] == {"web": SMALL, "phone": 0, "email": SMALL}


def test_ties_for_the_secondary_cell_go_to_the_first_code():
    assert protect_cells({"b": 6, "a": 6, "c": 2}) == {"b": 6, "a": MASKED, "c": SMALL}


def test_months_are_protected_within_their_year_and_follow_a_hidden_year():
    years = table({"2024": 3, "2025": 30, "2026": 60})
    months = table({"2024-05": 3, "2025-01": 26, "2025-02": 4, "2026-01": 50, "2026-02": 10})
    shown_years, shown_months = protect_calendar(years, months)
    assert shown_years["cells"] == {"2024": SMALL, "2025": MASKED, "2026": 60}
    assert shown_months["cells"] == {
        "2024-05": SMALL,
        "2025-01": MASKED,  # its year is hidden: its months would give it away
        "2025-02": SMALL,
        "2026-01": 50,
        "2026-02": 10,
    }


def test_the_share_in_time_is_withheld_when_it_would_reveal_a_hidden_count():
    compliance = {
        "rule": "r",
        "in_time": 57,
        "late": 3,
        "overdue": 0,
        "pending": 8,
        "total": 68,
        "share_in_time": 0.95,
    }
    shown = protect_compliance(compliance)
    assert (shown["late"], shown["pending"], shown["share_in_time"]) == (SMALL, MASKED, None)
    assert protect_compliance({**compliance, "late": 0, "total": 65})["share_in_time"] == 0.95


def test_no_hidden_cell_of_an_additive_table_can_be_worked_out_from_what_is_shown():
    generator = random.Random(11)
    for _ in range(2000):
        cells = {f"c{i}": generator.choice([0, 1, 2, 3, 4, 5, 6, 9, 30]) for i in range(5)}
        shown = protect_table(table(cells))
        hidden = [code for code, value in shown["cells"].items() if isinstance(value, str)]
        visible = [value for value in shown["cells"].values() if isinstance(value, int)]
        assert all(value == 0 or value >= 5 for value in visible)
        if isinstance(shown["total"], int):
            assert len(hidden) != 1, (cells, shown)


def test_the_first_statistics_are_protected_too():
    assert protect_counts({}) == {}
    assert protect_counts({"total": 3, "channel": {"web": 3}, "kind": {"violence": 2}}) == {
        "total": SMALL,
        "channel": {"web": SMALL},
        "kind": {"violence": SMALL},
    }
    shown = protect_counts({"total": 12, "channel": {"web": 10, "phone": 2}, "kind": {}})
    assert shown["channel"] == {"web": MASKED, "phone": SMALL}


def test_the_first_statistics_show_zeros_and_an_empty_kind_table_when_no_kind_was_given():
    """Zero names no one, even in a table whose total is hidden; e-mail reports may carry no
    kind of facts, so a section may come without any kind counted."""
    assert protect_counts({"total": 3, "channel": {"web": 3, "phone": 0}}) == {
        "total": SMALL,
        "channel": {"web": SMALL, "phone": 0},
        "kind": {},
    }
    assert protect_counts({"total": 7, "channel": {"email": 7}}) == {
        "total": 7,
        "channel": {"email": 7},
        "kind": {},
    }
    # Four of seven reports said no kind: the lone hidden kind has no other cell to mask.
    assert protect_counts({"total": 7, "channel": {"email": 7}, "kind": {"violence": 3}}) == {
        "total": 7,
        "channel": {"email": 7},
        "kind": {"violence": SMALL},
    }


def counts_of(cases: int) -> dict[str, int]:
    """SG counters for `cases` web cases of one kind, a few of them closed."""
    return {
        "SG.cases.total": cases,
        "SG.cases.channel.web": cases,
        "SG.cases.kind.violence": cases,
        "SG.cases.month.2026-03": cases,
        "SG.cases.case_status.closed": 2,
        "SG.cases.case_status.received": cases - 2,
        "SG.cases.outcome.sanction": 2,
        "SG.durations.closure.d12": 2,
        "SG.referrals.total": 1,
        "SG.referrals.interlocutor.hr-office": 1,
        "SG.answer_days.all.d3": 1,
        "SG.answer_days.interlocutor.hr-office.d3": 1,
        "PN.cases.total": 1,
    }


@pytest.mark.parametrize("role", ["analyst", "auditor"])
def test_other_roles_see_no_count_under_five(role):
    view = views.detailed("SG", 42, counts_of(30), date(2026, 4, 1), role)
    assert view["confidentiality"]["exact_counts"] is False
    assert view["tables"]["case_status"]["cells"] == {"closed": SMALL, "received": MASKED}
    assert view["tables"]["outcome"]["total"] == SMALL
    assert view["durations"]["closure"] == {
        **view["durations"]["closure"],
        "count": SMALL,
        "median_days": None,
        "p90_days": None,
    }
    assert view["referrals"] == SMALL
    assert view["referral_answer_times"]["by_interlocutor"]["hr-office"]["count"] == SMALL
    numbers = list(_numbers(view["tables"])) + [view["cases"]]
    assert numbers and all(n == 0 or n >= 5 for n in numbers)


def test_a_platform_with_three_cases_shows_other_roles_nothing_under_five():
    """Every figure of a small platform, whatever its place in the answer (cases, referrals,
    years and months, compliance, answer times), shows as "< 5", in the same shape as the cell's
    view: the same names, none added or left exact beside it."""
    counts = {
        **counts_of(3),
        "SG.compliance.acknowledgement.in_time": 2,
        "SG.compliance.acknowledgement.late": 1,
    }
    view = views.detailed("SG", 42, counts, date(2026, 4, 1), "analyst")
    exact = views.detailed("SG", 42, counts, date(2026, 4, 1), "cell-manager")
    assert (view["cases"], view["referrals"]) == (SMALL, SMALL)
    assert (view["tables"]["year"]["total"], view["tables"]["year"]["cells"]) == (
        SMALL,
        {"2026": SMALL},
    )
    assert (view["tables"]["month"]["total"], view["tables"]["month"]["cells"]) == (
        SMALL,
        {"2026-03": SMALL},
    )
    acknowledgement = view["compliance"]["acknowledgement"]
    assert {name: acknowledgement[name] for name in ("in_time", "late", "total")} == {
        "in_time": SMALL,
        "late": SMALL,
        "total": SMALL,
    }
    assert acknowledgement["share_in_time"] is None
    assert view["referral_answer_times"]["all"] == {
        **view["referral_answer_times"]["all"],
        "count": SMALL,
        "median_days": None,
        "p90_days": None,
    }
    assert set(view) == set(exact)
    assert set(view["tables"]) == set(exact["tables"])
    assert set(view["compliance"]["feedback"]) == set(exact["compliance"]["feedback"])
    assert set(view["referral_answer_times"]) == set(exact["referral_answer_times"])


def _numbers(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, int) and not isinstance(value, bool):
        yield value


def test_the_cell_sees_exact_counts_of_its_own_platform_only():
    view = views.detailed("SG", 42, counts_of(30), date(2026, 4, 1), "cell-manager")
    assert view["confidentiality"]["exact_counts"] is True
    assert view["tables"]["case_status"]["cells"] == {"closed": 2, "received": 28}
    assert view["cases"] == 30 and view["platform"] == "SG"


def test_an_identifier_never_leaves_in_statistics():
    with pytest.raises(IdentifierLeak):
        ensure_no_identifiers({"tables": {"kind": {"cells": {CASE_ID: 1}}}})
    with pytest.raises(IdentifierLeak):
        ensure_no_identifiers(["camille.martin@example.org"])
    leaking = {**counts_of(30), f"SG.cases.channel.{CASE_ID}": 1}
    with pytest.raises(IdentifierLeak):
        views.detailed("SG", 1, leaking, date(2026, 4, 1), "analyst")


def test_a_table_exports_as_csv_with_labels_and_as_json_with_its_notes():
    view = views.detailed("SG", 42, counts_of(30), date(2026, 4, 1), "analyst")
    rows = list(csv.reader(io.StringIO(export.render(view, "case_status", "csv"))))
    assert rows == [
        ["code", "label", "count"],
        ["closed", "clos", SMALL],
        ["received", "reçu", MASKED],
        ["total", "cases", "30"],
    ]
    exported = json.loads(export.render(view, "kind", "json"))
    assert exported["table"] == "kind" and exported["platform"] == "SG"
    assert exported["data"] == view["tables"]["kind"]
    assert "more than the total" in exported["data"]["note"]
    assert exported["confidentiality"]["exact_counts"] is False
    durations = list(csv.reader(io.StringIO(export.render(view, "durations", "csv"))))
    assert durations[0] == ["measure", "description", "count", "median_days", "p90_days"]
    assert ["closure", view["durations"]["closure"]["description"], SMALL, "", ""] in durations


@pytest.mark.parametrize("name", export.EXPORTABLE)
def test_every_table_exports(name):
    view = views.detailed("SG", 42, counts_of(30), date(2026, 4, 1), "cell-manager")
    assert len(list(csv.reader(io.StringIO(export.render(view, name, "csv"))))) >= 2
    assert json.loads(export.render(view, name, "json"))["table"] == name
    assert set(TABLES) <= set(export.EXPORTABLE)
