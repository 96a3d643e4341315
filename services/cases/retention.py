"""How long a platform keeps a case's personal data after the case is closed. Pure.

`RETENTION_YEARS` sets it per platform, e.g. `"SG=5 PN=3"`; a bare number sets it for every
platform not named (5 years otherwise). Years may be fractional (`GN=2.5`). A retention ends
on the same calendar day and hour N whole years after closure (the 1st of March for a case
closed on the 29th of February), plus the fraction as 365.25-day years: never earlier than a
reader of the setting would expect. The setting is read once, at start, and a malformed one
stops the service with a message that says what is wrong, rather than erasing by a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from allodiscri.kernel.reference import PLATFORMS

SETTING = "RETENTION_YEARS"
DEFAULT_YEARS = Decimal(5)
DAYS_PER_YEAR = 365.25
MAX_YEARS = Decimal(100)


class RetentionSettingError(ValueError):
    """`RETENTION_YEARS` cannot be read: nothing is erased by a guess."""


@dataclass(frozen=True)
class RetentionPolicy:
    default_years: Decimal = DEFAULT_YEARS
    years_by_platform: Mapping[str, Decimal] = field(default_factory=dict)

    def years_for(self, platform: str) -> Decimal:
        return self.years_by_platform.get(platform, self.default_years)

    def ends_at(self, platform: str, closed_at: datetime) -> datetime:
        """The instant from which the case's personal data is no longer kept."""
        years = self.years_for(platform)
        whole = int(years)
        return _add_years(closed_at, whole) + timedelta(days=float(years - whole) * DAYS_PER_YEAR)

    def expired(self, platform: str, closed_at: datetime | None, now: datetime) -> bool:
        """Whether a case closed at `closed_at` (None: not closed) is past its retention."""
        return closed_at is not None and now >= self.ends_at(platform, closed_at)

    @classmethod
    def parse(cls, setting: Any) -> RetentionPolicy:
        """From the setting's text; empty or absent means the default for every platform."""
        default = DEFAULT_YEARS
        by_platform: dict[str, Decimal] = {}
        default_given = False
        for entry in str(setting if setting is not None else "").split():
            platform, sign, years_text = entry.rpartition("=")
            years = _years(entry, years_text)
            if not sign:
                if default_given:
                    raise RetentionSettingError(
                        f"{SETTING}: two default durations ({default} and {entry}); "
                        "give one bare number at most"
                    )
                default, default_given = years, True
            elif platform not in PLATFORMS:
                raise RetentionSettingError(
                    f"{SETTING}: {entry!r} names no platform; known platforms: "
                    f"{', '.join(sorted(PLATFORMS))}"
                )
            elif platform in by_platform:
                raise RetentionSettingError(f"{SETTING}: {platform} is given twice")
            else:
                by_platform[platform] = years
        return cls(default, by_platform)


def _years(entry: str, text: str) -> Decimal:
    try:
        years = Decimal(text)
    except InvalidOperation:
        years = Decimal("NaN")
    if not years.is_finite() or not 0 < years <= MAX_YEARS:
        raise RetentionSettingError(
            f"{SETTING}: {entry!r} is not a number of years above 0 and up to {MAX_YEARS} "
            '(expected e.g. "SG=5 PN=3", or a bare number for every other platform)'
        )
    return years


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # the 29th of February, in a year without one
        return moment.replace(year=moment.year + years, month=3, day=1)
