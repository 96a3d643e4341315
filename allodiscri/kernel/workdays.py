"""Working days ("jours ouvrés") on the French public calendar, for every legal deadline.

Shared by the services that count deadlines (cases' legal deadlines, referrals' reminders).
Pure: no I/O, no wall-clock.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays

PLATFORM_TIMEZONE = ZoneInfo("Europe/Paris")
"""The cells' time zone: days, deadlines and "as of" dates are counted in it."""


def local_date(moment: datetime) -> date:
    """The calendar day an instant falls on for the cells: deadlines count local days."""
    return moment.astimezone(PLATFORM_TIMEZONE).date()


SATURDAY, SUNDAY = 5, 6


class WorkingDayCalendar:
    """French working days ("jours ouvrés"): not a weekend day, public holiday or closed day.

    Holidays come from the `holidays` library, one year at a time as dates ask for it, so a
    deadline crossing New Year needs no set-up. `extra_closed_days` are the days a ministry
    closes on top (a "pont"); `subdiv` selects regional holidays (e.g. "57" for Moselle).
    """

    def __init__(
        self,
        *,
        extra_closed_days: Iterable[date] = (),
        weekend: Iterable[int] = (SATURDAY, SUNDAY),
        subdiv: str | None = None,
    ):
        self.extra_closed_days = frozenset(extra_closed_days)
        self.weekend = frozenset(weekend)
        if not self.weekend <= set(range(7)):
            raise ValueError(f"weekend days are weekday numbers 0..6, got {sorted(self.weekend)}")
        if len(self.weekend) == 7:
            raise ValueError("a week with no working day would make every deadline endless")
        self.subdiv = subdiv
        self._holidays_by_year: dict[int, frozenset[date]] = {}

    def holidays_in(self, year: int) -> frozenset[date]:
        if year not in self._holidays_by_year:
            public = holidays.country_holidays("FR", subdiv=self.subdiv, years=year)
            self._holidays_by_year[year] = frozenset(public)
        return self._holidays_by_year[year]

    def is_working_day(self, day: date) -> bool:
        return (
            day.weekday() not in self.weekend
            and day not in self.extra_closed_days
            and day not in self.holidays_in(day.year)
        )

    def add_working_days(self, day: date, n: int) -> date:
        """The n-th working day strictly after `day`, which itself may be a non-working day.

        So a report received on a Saturday gets its first working day on the Monday, as it
        would for one received on the Friday. `n == 0` gives `day` back.
        """
        if n < 0:
            raise ValueError(f"cannot add a negative number of working days ({n})")
        while n > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie in (start, end]; 0 when end is not after start."""
        count = 0
        day = start + timedelta(days=1)
        while day <= end:
            count += self.is_working_day(day)
            day += timedelta(days=1)
        return count


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end: 31 May + 3 months = 31 August,
    30 November + 3 months = 28 or 29 February."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))
