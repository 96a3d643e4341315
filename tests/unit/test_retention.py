"""The retention policy: durations per platform, when a retention ends, malformed settings."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.cases.retention import (
    DEFAULT_YEARS,
    RetentionPolicy,
    RetentionSettingError,
)

CLOSED = datetime(2026, 6, 30, 14, 30, tzinfo=UTC)


def test_platforms_named_get_their_duration_and_the_others_the_default():
    policy = RetentionPolicy.parse("SG=3 PN=2.5")
    assert policy.years_for("SG") == 3
    assert policy.years_for("PN") == Decimal("2.5")
    assert policy.years_for("GN") == DEFAULT_YEARS == 5
    assert RetentionPolicy.parse("7 SG=3").years_for("GN") == 7


@pytest.mark.parametrize("setting", [None, "", "   "])
def test_no_setting_keeps_every_platform_five_years(setting):
    policy = RetentionPolicy.parse(setting)
    assert [policy.years_for(platform) for platform in ("SG", "PN", "GN")] == [5, 5, 5]


def test_a_number_alone_from_the_configuration_file_is_the_default():
    assert RetentionPolicy.parse(4).years_for("SG") == 4


def test_whole_years_end_on_the_same_day_and_hour():
    policy = RetentionPolicy.parse("SG=5")
    ends = policy.ends_at("SG", CLOSED)
    assert ends == datetime(2031, 6, 30, 14, 30, tzinfo=UTC)
    assert not policy.expired("SG", CLOSED, ends - timedelta(seconds=1))
    assert policy.expired("SG", CLOSED, ends)


def test_a_case_closed_on_the_29th_of_february_is_kept_until_the_1st_of_march():
    leap = datetime(2028, 2, 29, 9, tzinfo=UTC)
    assert RetentionPolicy.parse("SG=1").ends_at("SG", leap) == datetime(2029, 3, 1, 9, tzinfo=UTC)


def test_a_fraction_of_a_year_counts_365_25_days_a_year():
    policy = RetentionPolicy.parse("PN=2.5")
    assert policy.ends_at("PN", CLOSED) == datetime(2028, 6, 30, 14, 30, tzinfo=UTC) + timedelta(
        days=182.625
    )


def test_a_case_not_closed_never_expires():
    assert not RetentionPolicy.parse("SG=1").expired("SG", None, datetime(2100, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("SG=five", "'SG=five' is not a number of years above 0 and up to 100"),
        ("SG=0", "'SG=0' is not a number of years"),
        ("SG=-2", "'SG=-2' is not a number of years"),
        ("SG=nan", "'SG=nan' is not a number of years"),
        ("SG=1000", "'SG=1000' is not a number of years"),
        ("SG=", "'SG=' is not a number of years"),
        ("DGFIP=3", "'DGFIP=3' names no platform; known platforms: GN, PN, SG"),
        ("SG=3 SG=4", "SG is given twice"),
        ("5 6", "two default durations"),
        ("SG:5", "'SG:5' is not a number of years"),
    ],
)
def test_a_malformed_setting_is_refused_with_what_is_wrong(setting, message):
    with pytest.raises(RetentionSettingError, match="RETENTION_YEARS") as refused:
        RetentionPolicy.parse(setting)
    assert message in str(refused.value)
