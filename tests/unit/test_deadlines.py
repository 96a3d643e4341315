from datetime import date, timedelta

import holidays
import pytest

from allodiscri.kernel.case_states import Case, Status, dates_of
from allodiscri.kernel.deadlines import Alert, CaseDates, Deadline, alerts, case_deadlines
from allodiscri.kernel.workdays import SUNDAY, WorkingDayCalendar, add_months

CALENDAR = WorkingDayCalendar()


def test_the_calendar_closes_weekends_and_french_public_holidays_of_any_year():
    assert CALENDAR.is_working_day(date(2026, 4, 30))  # Thursday
    for closed in (date(2026, 5, 1), date(2026, 5, 8), date(2026, 5, 14), date(2026, 5, 25)):
        assert not CALENDAR.is_working_day(closed)
    assert not CALENDAR.is_working_day(date(2026, 5, 2))  # Saturday
    assert not CALENDAR.is_working_day(date(2026, 5, 3))  # Sunday
    assert not WorkingDayCalendar().is_working_day(date(2031, 7, 14))  # a year never asked before


def test_an_acknowledgement_due_across_a_weekend_and_two_friday_holidays():
    # Received Thursday 30 April 2026. Fri 1 May: holiday; Sat 2, Sun 3: weekend;
    # Mon 4 (1), Tue 5 (2), Wed 6 (3), Thu 7 (4); Fri 8 May: holiday; Sat 9, Sun 10: weekend;
    # Mon 11 (5), Tue 12 (6), Wed 13 (7). Due Wednesday 13 May 2026.
    assert CALENDAR.add_working_days(date(2026, 4, 30), 7) == date(2026, 5, 13)


def test_a_meeting_due_across_ascension_and_whit_monday():
    # Requested Thursday 30 April 2026: day 7 is Wed 13 May (above); Thu 14 May: Ascension;
    # Fri 15 (8), Mon 18 (9) .. Fri 22 (13); Mon 25 May: Whit Monday; Tue 26 (14) .. Fri 29 (17);
    # Mon 1 June (18), Tue 2 (19), Wed 3 (20). Due Wednesday 3 June 2026.
    facts = CaseDates(received_on=date(2026, 4, 30), meeting_requested_on=date(2026, 4, 30))
    meeting = case_deadlines(facts, CALENDAR)[-1]
    assert meeting == Deadline("meeting", date(2026, 6, 3), date(2026, 4, 30), None)


def test_an_acknowledgement_due_across_new_year():
    # Received Wednesday 23 December 2026. Thu 24 (1); Fri 25: Christmas; Sat 26, Sun 27;
    # Mon 28 (2), Tue 29 (3), Wed 30 (4), Thu 31 (5); Fri 1 January 2027: New Year's Day;
    # Sat 2, Sun 3; Mon 4 (6), Tue 5 (7). Due Tuesday 5 January 2027.
    calendar = WorkingDayCalendar()
    assert calendar.add_working_days(date(2026, 12, 23), 7) == date(2027, 1, 5)
    assert calendar.working_days_between(date(2026, 12, 23), date(2027, 1, 5)) == 7


def test_a_report_received_on_a_saturday_counts_from_the_monday():
    # Received Saturday 10 January 2026. Mon 12 (1) .. Fri 16 (5); Mon 19 (6), Tue 20 (7).
    assert CALENDAR.add_working_days(date(2026, 1, 10), 7) == date(2026, 1, 20)
    # The same due day as a report received the Friday before.
    assert CALENDAR.add_working_days(date(2026, 1, 9), 7) == date(2026, 1, 20)
    # Saturday 2 May 2026: Mon 4 (1) .. Thu 7 (4); Fri 8: holiday; Mon 11 (5) .. Wed 13 (7).
    assert CALENDAR.add_working_days(date(2026, 5, 2), 7) == date(2026, 5, 13)


def test_a_ministrys_closed_days_are_not_working_days():
    # Friday 15 May 2026 as the Ascension "pont". Received Thursday 7 May: Fri 8: holiday;
    # Mon 11 (1), Tue 12 (2), Wed 13 (3); Thu 14: Ascension; Fri 15: closed;
    # Mon 18 (4), Tue 19 (5), Wed 20 (6), Thu 21 (7).
    bridged = WorkingDayCalendar(extra_closed_days=[date(2026, 5, 15)])
    assert not bridged.is_working_day(date(2026, 5, 15))
    assert bridged.add_working_days(date(2026, 5, 7), 7) == date(2026, 5, 21)
    assert CALENDAR.add_working_days(date(2026, 5, 7), 7) == date(2026, 5, 20)


def test_the_weekend_days_and_the_region_are_configurable():
    # Sundays only: Thu 30 April 2026; Fri 1 May: holiday; Sat 2 (1); Mon 4 (2) .. Thu 7 (5);
    # Fri 8: holiday; Sat 9 (6); Mon 11 (7).
    six_days = WorkingDayCalendar(weekend=[SUNDAY])
    assert six_days.add_working_days(date(2026, 4, 30), 7) == date(2026, 5, 11)
    # Moselle keeps Good Friday (3 April 2026) and Saint Stephen's Day.
    moselle = WorkingDayCalendar(subdiv="57")
    assert CALENDAR.is_working_day(date(2026, 4, 3))
    assert not moselle.is_working_day(date(2026, 4, 3))
    assert CALENDAR.is_working_day(date(2028, 12, 26))  # a Tuesday
    assert not moselle.is_working_day(date(2028, 12, 26))
    with pytest.raises(ValueError, match="^a week with no working day would make every deadline"):
        WorkingDayCalendar(weekend=range(7))
    with pytest.raises(ValueError, match=r"^weekend days are weekday numbers 0\.\.6, got \[0, 7\]"):
        WorkingDayCalendar(weekend=[7, 0])


def test_working_days_between_counts_the_end_but_not_the_start():
    assert CALENDAR.working_days_between(date(2026, 5, 11), date(2026, 5, 13)) == 2
    assert CALENDAR.working_days_between(date(2026, 5, 13), date(2026, 5, 13)) == 0
    assert CALENDAR.working_days_between(date(2026, 5, 13), date(2026, 5, 11)) == 0
    assert CALENDAR.add_working_days(date(2026, 5, 2), 0) == date(2026, 5, 2)
    with pytest.raises(ValueError, match=r"^cannot add a negative number of working days \(-1\)$"):
        CALENDAR.add_working_days(date(2026, 5, 2), -1)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 5, 31), 3, date(2026, 8, 31)),
        (date(2026, 5, 13), 3, date(2026, 8, 13)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2027, 11, 30), 3, date(2028, 2, 29)),  # 2028 is a leap year
        (date(2027, 11, 29), 3, date(2028, 2, 29)),
        (date(2026, 10, 31), 3, date(2027, 1, 31)),
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
        (date(2028, 3, 31), -1, date(2028, 2, 29)),
        (date(2026, 1, 15), 0, date(2026, 1, 15)),
    ],
)
def test_add_months_clamps_to_the_end_of_the_month(day, months, expected):
    assert add_months(day, months) == expected


def test_a_case_has_its_three_deadlines_once_each_is_started():
    facts = CaseDates(
        received_on=date(2026, 4, 30),
        acknowledged_on=date(2026, 5, 6),
        first_feedback_on=date(2026, 7, 1),
        meeting_requested_on=date(2026, 5, 6),
        meeting_held_on=date(2026, 6, 10),
    )
    # Meeting requested Wed 6 May: Thu 7 (1); Fri 8: holiday; Mon 11 (2) .. Wed 13 (4);
    # Thu 14: Ascension; Fri 15 (5); Mon 18 (6) .. Fri 22 (10); Mon 25: Whit Monday;
    # Tue 26 (11) .. Fri 29 (14); Mon 1 June (15) .. Fri 5 (19); Mon 8 June (20).
    assert case_deadlines(facts, CALENDAR) == [
        Deadline("acknowledgement", date(2026, 5, 13), date(2026, 4, 30), date(2026, 5, 6)),
        Deadline("feedback", date(2026, 8, 6), date(2026, 5, 6), date(2026, 7, 1)),
        Deadline("meeting", date(2026, 6, 8), date(2026, 5, 6), date(2026, 6, 10)),
    ]
    assert [d.met_in_time for d in case_deadlines(facts, CALENDAR)] == [True, True, False]


def test_feedback_runs_from_the_acknowledgement_or_from_the_end_of_its_period():
    # Received Thu 30 April 2026, acknowledgement due Wed 13 May 2026 (see above).
    received = CaseDates(received_on=date(2026, 4, 30))
    deadlines = {d.kind: d for d in case_deadlines(received, CALENDAR)}
    assert sorted(deadlines) == ["acknowledgement", "feedback"]
    # Never acknowledged: 3 months from the end of the 7 working days (directive art. 9(1)(f)).
    assert deadlines["feedback"].started_on == date(2026, 5, 13)
    assert deadlines["feedback"].due_on == date(2026, 8, 13)
    acknowledged = CaseDates(received_on=date(2026, 4, 30), acknowledged_on=date(2026, 5, 4))
    feedback = {d.kind: d for d in case_deadlines(acknowledged, CALENDAR)}["feedback"]
    assert (feedback.started_on, feedback.due_on) == (date(2026, 5, 4), date(2026, 8, 4))


def test_the_meeting_deadline_exists_only_once_asked_for():
    # An interview without a request: nothing to time.
    loose = CaseDates(received_on=date(2026, 4, 30), meeting_held_on=date(2026, 5, 4))
    assert "meeting" not in {d.kind for d in case_deadlines(loose, CALENDAR)}
    asked = CaseDates(received_on=date(2026, 4, 30), meeting_requested_on=date(2026, 5, 4))
    assert "meeting" in {d.kind for d in case_deadlines(asked, CALENDAR)}


def test_dates_out_of_order_are_refused():
    """A fact dated before the one it answers is a recording error, named with both dates."""
    with pytest.raises(ValueError) as early_acknowledgement:
        CaseDates(received_on=date(2026, 5, 4), acknowledged_on=date(2026, 5, 1))
    assert str(early_acknowledgement.value) == (
        "acknowledged_on 2026-05-01 is before received_on 2026-05-04"
    )
    with pytest.raises(ValueError) as early_feedback:
        CaseDates(
            received_on=date(2026, 5, 4),
            acknowledged_on=date(2026, 5, 5),
            first_feedback_on=date(2026, 5, 4),
        )
    assert str(early_feedback.value) == (
        "first_feedback_on 2026-05-04 is before acknowledged_on 2026-05-05"
    )
    with pytest.raises(ValueError) as early_meeting:
        CaseDates(
            received_on=date(2026, 5, 4),
            meeting_requested_on=date(2026, 5, 6),
            meeting_held_on=date(2026, 5, 5),
        )
    assert str(early_meeting.value) == (
        "meeting_held_on 2026-05-05 is before meeting_requested_on 2026-05-06"
    )


ACKNOWLEDGEMENT_DUE = date(2026, 5, 13)  # received Thursday 30 April 2026, see above
UNMET = [Deadline("acknowledgement", ACKNOWLEDGEMENT_DUE, date(2026, 4, 30), None)]


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 5, 7), []),  # Thu: 11, 12, 13 May are 3 working days away
        (date(2026, 5, 8), []),  # Fri, a holiday: still 3
        (date(2026, 5, 9), []),  # Sat: still 3
        (date(2026, 5, 11), [Alert("acknowledgement", "approaching", ACKNOWLEDGEMENT_DUE)]),
        (date(2026, 5, 12), [Alert("acknowledgement", "approaching", ACKNOWLEDGEMENT_DUE)]),
        (date(2026, 5, 13), [Alert("acknowledgement", "approaching", ACKNOWLEDGEMENT_DUE)]),
        (date(2026, 5, 14), [Alert("acknowledgement", "missed", ACKNOWLEDGEMENT_DUE)]),
        (date(2026, 9, 1), [Alert("acknowledgement", "missed", ACKNOWLEDGEMENT_DUE)]),
    ],
)
def test_an_unmet_deadline_alerts_when_close_or_missed(today, expected):
    assert alerts(UNMET, today, CALENDAR) == expected


def test_the_warning_window_is_configurable():
    today = date(2026, 5, 7)
    assert alerts(UNMET, today, CALENDAR, warn_working_days=3) == [
        Alert("acknowledgement", "approaching", ACKNOWLEDGEMENT_DUE)
    ]
    assert alerts(UNMET, date(2026, 5, 12), CALENDAR, warn_working_days=0) == []


def test_a_met_deadline_raises_no_alert_even_when_met_late():
    late = Deadline("acknowledgement", ACKNOWLEDGEMENT_DUE, date(2026, 4, 30), date(2026, 5, 20))
    on_time = Deadline("acknowledgement", ACKNOWLEDGEMENT_DUE, date(2026, 4, 30), date(2026, 5, 13))
    assert alerts([late, on_time], date(2026, 6, 1), CALENDAR) == []
    assert not late.met_in_time
    assert on_time.met_in_time
    assert not UNMET[0].met_in_time


def test_alerts_cover_every_deadline_of_a_case():
    facts = CaseDates(
        received_on=date(2026, 4, 30),
        acknowledged_on=date(2026, 5, 6),
        meeting_requested_on=date(2026, 5, 6),
    )
    deadlines = case_deadlines(facts, CALENDAR)
    # Meeting due Mon 8 June 2026 (above), feedback due Thu 6 August 2026.
    assert alerts(deadlines, date(2026, 6, 4), CALENDAR) == [
        Alert("meeting", "approaching", date(2026, 6, 8))
    ]
    assert alerts(deadlines, date(2026, 8, 7), CALENDAR) == [
        Alert("feedback", "missed", date(2026, 8, 6)),
        Alert("meeting", "missed", date(2026, 6, 8)),
    ]


def test_add_working_days_agrees_with_a_naive_count_over_two_whole_years():
    public = holidays.France(years=range(2026, 2029))

    def naive_working(day: date) -> bool:
        return day.weekday() < 5 and day not in public

    calendar = WorkingDayCalendar()
    day = date(2026, 1, 1)
    while day.year < 2028:
        for n in range(1, 26):
            due = calendar.add_working_days(day, n)
            assert naive_working(due), (day, n, due)
            count, cursor = 0, day
            while cursor < due:
                cursor += timedelta(days=1)
                count += naive_working(cursor)
            assert count == n, (day, n, due)
            assert calendar.working_days_between(day, due) == n
        day += timedelta(days=1)


def test_a_cases_deadlines_run_from_the_dates_its_events_recorded():
    """Each date of the case feeds its own deadline: none is taken for another."""
    case = Case(
        case_id="6f1c5a2e-1111-4222-8333-444455556666",
        platform="SG",
        status=Status.IN_TREATMENT,
        version=9,
        received_on=date(2026, 4, 30),
        acknowledged_on=date(2026, 5, 4),
        first_feedback_on=date(2026, 6, 1),
        meeting_requested_on=date(2026, 5, 5),
        meeting_held_on=date(2026, 5, 20),
    )
    assert dates_of(case) == CaseDates(
        received_on=date(2026, 4, 30),
        acknowledged_on=date(2026, 5, 4),
        first_feedback_on=date(2026, 6, 1),
        meeting_requested_on=date(2026, 5, 5),
        meeting_held_on=date(2026, 5, 20),
    )


def test_an_obligation_met_the_day_it_starts_is_in_order():
    """Acknowledging on the day of receipt, informing on the day of the acknowledgement and
    meeting on the day of the request are all valid facts."""
    same_day = date(2026, 5, 4)
    facts = CaseDates(
        received_on=same_day,
        acknowledged_on=same_day,
        first_feedback_on=same_day,
        meeting_requested_on=same_day,
        meeting_held_on=same_day,
    )
    assert all(deadline.met_in_time for deadline in case_deadlines(facts, CALENDAR))
