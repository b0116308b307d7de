"""Crontab lines read the standard cron way: 0 and 7 are Sunday, ranges never wrap."""

from __future__ import annotations

import pytest

from bot.core.crontab import CrontabError, parse_crontab, weekday_names


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("1-5", "mon,tue,wed,thu,fri"),
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("sun", "sun"),
        ("5-7", "fri,sat,sun"),
        ("0,6", "sat,sun"),
        ("*/2", "tue,thu,sat,sun"),
        ("1-7", "*"),
        ("0-6", "*"),
        ("*", "*"),
    ],
)
def test_weekdays_mean_what_cron_means(field: str, days: str) -> None:
    assert weekday_names(field) == days
    assert parse_crontab(f"0 9 * * {field}").weekdays == days


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0 9 * * fri-mon", "day of week range fri-mon runs backwards"),
        ("0 9 * * 5-1", "day of week range 5-1 runs backwards"),
        ("0 9 * * 8", "day of week must be"),
        ("0 9 * dec-jan *", "month range dec-jan runs backwards"),
        ("0 9 * *", "must have 5 fields"),
        ("0 0 9 * * *", "must have 5 fields"),
    ],
)
def test_lines_cron_would_refuse_are_refused_with_the_reason(line: str, message: str) -> None:
    with pytest.raises(CrontabError, match=message):
        parse_crontab(line)


def test_both_day_fields_restricted_means_either_matches() -> None:
    assert parse_crontab("0 0 1,15 * mon").either_day
    assert not parse_crontab("0 0 1,15 * *").either_day
    assert not parse_crontab("0 0 * * mon").either_day
    assert not parse_crontab("0 0 */2 * mon").either_day


def test_seconds_are_a_sixth_field_only_when_asked_for() -> None:
    schedule = parse_crontab("*/5 * * * * *", seconds=True)
    assert (schedule.second, schedule.minute) == ("*/5", "*")
    assert parse_crontab("0 9 * * *", seconds=True).second == "0"
