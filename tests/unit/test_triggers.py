"""Trigger arithmetic on fixed dates: DST in both directions, month ends, Feb 29, cron syntax,
bounds, interval grids and every validation error. No clock is read."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tasky.errors import TriggerError
from tasky.triggers import CronTrigger, IntervalTrigger, make_trigger

NEW_YORK = "America/New_York"


def at(*fields: int, tz: str = "UTC") -> float:
    """The instant of a wall time in ``tz``, as the engine counts it."""
    return datetime(*fields, tzinfo=ZoneInfo(tz)).timestamp()


def ticks(trigger, after: float, n: int) -> list[float]:
    found, t = [], after
    for _ in range(n):
        t = trigger.next_after(t)
        found.append(t)
    return found


# --- DST: America/New_York, 2026-03-08 (02:00 → 03:00) and 2026-11-01 (02:00 → 01:00) ---


def test_a_time_in_the_spring_gap_fires_once_when_the_gap_ends():
    trigger = CronTrigger("30 2 * * *", NEW_YORK)
    assert ticks(trigger, at(2026, 3, 6), 4) == [
        at(2026, 3, 6, 7, 30),  # 02:30 EST
        at(2026, 3, 7, 7, 30),
        at(2026, 3, 8, 7, 0),  # 02:30 does not exist: 03:00 EDT
        at(2026, 3, 9, 6, 30),  # 02:30 EDT
    ]


def test_a_time_after_the_autumn_change_fires_once():
    trigger = CronTrigger("30 2 * * *", NEW_YORK)
    assert ticks(trigger, at(2026, 10, 30), 4) == [
        at(2026, 10, 30, 6, 30),  # 02:30 EDT
        at(2026, 10, 31, 6, 30),
        at(2026, 11, 1, 7, 30),  # 02:30 EST, after the repeated hour
        at(2026, 11, 2, 7, 30),
    ]


def test_a_time_before_the_spring_gap_is_untouched():
    trigger = CronTrigger("30 1 * * *", NEW_YORK)
    assert ticks(trigger, at(2026, 3, 7), 3) == [
        at(2026, 3, 7, 6, 30),
        at(2026, 3, 8, 6, 30),
        at(2026, 3, 9, 5, 30),
    ]


def test_a_repeated_time_fires_once_at_its_first_occurrence():
    trigger = CronTrigger("30 1 * * *", NEW_YORK)
    assert ticks(trigger, at(2026, 10, 31), 3) == [
        at(2026, 10, 31, 5, 30),
        at(2026, 11, 1, 5, 30),  # 01:30 EDT; 01:30 EST (06:30Z) does not fire
        at(2026, 11, 2, 6, 30),
    ]


@pytest.mark.parametrize("expression", ["30 2 * * *", "30 1 * * *"])
def test_one_run_per_calendar_day_all_year(expression):
    trigger = CronTrigger(expression, NEW_YORK)
    runs = [
        t
        for t in ticks(trigger, at(2025, 12, 31, 12, tz=NEW_YORK), 366)
        if t < at(2027, 1, 1, tz=NEW_YORK)
    ]
    days = [datetime.fromtimestamp(t, ZoneInfo(NEW_YORK)).date() for t in runs]
    assert days == [date(2026, 1, 1) + timedelta(days=i) for i in range(365)]


def test_the_gap_collapses_its_ticks_into_one():
    trigger = CronTrigger("*/20 * * * *", NEW_YORK)
    assert ticks(trigger, at(2026, 3, 8, 6, 10), 4) == [
        at(2026, 3, 8, 6, 20),
        at(2026, 3, 8, 6, 40),
        at(2026, 3, 8, 7, 0),  # 02:00, 02:20, 02:40 and 03:00 are one tick at 03:00 EDT
        at(2026, 3, 8, 7, 20),
    ]


def test_the_repeated_hour_fires_only_in_its_first_pass():
    trigger = CronTrigger("*/30 * * * *", NEW_YORK)
    assert ticks(trigger, at(2026, 11, 1, 4, 50), 4) == [
        at(2026, 11, 1, 5, 0),
        at(2026, 11, 1, 5, 30),  # 01:00, 01:30 EDT
        at(2026, 11, 1, 7, 0),
        at(2026, 11, 1, 7, 30),  # 02:00, 02:30 EST
    ]


def test_next_after_an_instant_in_the_second_pass():
    trigger = CronTrigger("*/15 1 * * *", NEW_YORK)
    assert trigger.next_after(at(2026, 11, 1, 6, 40)) == at(2026, 11, 2, 6, 0)


def test_start_at_on_the_gap_end_keeps_the_tick_moved_there():
    trigger = CronTrigger("30 2 * * *", NEW_YORK, start_at=at(2026, 3, 8, 7, 0))
    assert trigger.first_run(at(2026, 3, 1)) == at(2026, 3, 8, 7, 0)
    assert trigger.next_after(at(2026, 3, 8, 7, 0)) == at(2026, 3, 9, 6, 30)


@pytest.mark.parametrize(
    ("tz", "expression", "day_before", "expected"),
    [
        (
            "Europe/Berlin",
            "30 2 * * *",
            (2026, 3, 28),
            [(3, 28, 1, 30), (3, 29, 1, 0), (3, 30, 0, 30)],
        ),
        (
            "Europe/Berlin",
            "30 2 * * *",
            (2026, 10, 24),
            [(10, 24, 0, 30), (10, 25, 0, 30), (10, 26, 1, 30)],
        ),
        (
            "Europe/London",
            "30 1 * * *",
            (2026, 3, 28),
            [(3, 28, 1, 30), (3, 29, 1, 0), (3, 30, 0, 30)],
        ),
        (
            "Europe/London",
            "30 1 * * *",
            (2026, 10, 24),
            [(10, 24, 0, 30), (10, 25, 0, 30), (10, 26, 1, 30)],
        ),
        # a half-hour change: 02:00 → 02:30 in October, 02:00 → 01:30 in April
        (
            "Australia/Lord_Howe",
            "15 2 * * *",
            (2026, 10, 3),
            [(10, 2, 15, 45), (10, 3, 15, 30), (10, 4, 15, 15)],
        ),
        (
            "Australia/Lord_Howe",
            "45 1 * * *",
            (2026, 4, 4),
            [(4, 3, 14, 45), (4, 4, 14, 45), (4, 5, 15, 15)],
        ),
    ],
)
def test_other_zones_follow_the_same_rule(tz, expression, day_before, expected):
    trigger = CronTrigger(expression, tz)
    assert ticks(trigger, at(*day_before, tz=tz), 3) == [at(2026, *f) for f in expected]


# --- calendar and syntax ---


def test_day_31_skips_the_short_months():
    trigger = CronTrigger("0 0 31 * *", "UTC")
    assert ticks(trigger, at(2026, 1, 31), 6) == [at(2026, m, 31) for m in (3, 5, 7, 8, 10, 12)]


def test_feb_29_waits_for_the_next_leap_year():
    trigger = CronTrigger("0 12 29 2 *", "UTC")
    assert ticks(trigger, at(2026, 1, 1), 2) == [at(2028, 2, 29, 12), at(2032, 2, 29, 12)]


def test_hourly():
    assert ticks(CronTrigger("@hourly", "UTC"), at(2026, 5, 4, 10, 17), 2) == [
        at(2026, 5, 4, 11),
        at(2026, 5, 4, 12),
    ]


@pytest.mark.parametrize(
    ("alias", "expression"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * SUN"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_aliases(alias, expression):
    start = at(2026, 5, 4, 10, 17, tz=NEW_YORK)
    assert ticks(CronTrigger(alias, NEW_YORK), start, 3) == ticks(
        CronTrigger(expression, NEW_YORK), start, 3
    )


def test_ranges_steps_and_day_names():
    trigger = CronTrigger("*/15 9-17 * * MON-FRI", "UTC")
    assert ticks(trigger, at(2026, 1, 9, 17, 30), 3) == [  # a Friday
        at(2026, 1, 9, 17, 45),
        at(2026, 1, 12, 9, 0),
        at(2026, 1, 12, 9, 15),
    ]


def test_lists():
    trigger = CronTrigger("0 8,18 * * sat,Sun", "UTC")
    assert ticks(trigger, at(2026, 1, 9), 5) == [
        at(2026, 1, 10, 8),
        at(2026, 1, 10, 18),
        at(2026, 1, 11, 8),
        at(2026, 1, 11, 18),
        at(2026, 1, 17, 8),
    ]


def test_an_expression_that_never_matches_has_no_tick():
    # cronsim syntax: the 1st or 21st of a month that is also its last Monday
    assert CronTrigger("0 0 */20 * 1L", "UTC").next_after(at(2026, 1, 1)) is None


# --- bounds ---


def test_start_at_is_honoured():
    trigger = CronTrigger("0 * * * *", "UTC", start_at=at(2026, 1, 1, 10))
    assert trigger.next_after(at(2025, 6, 1)) == at(2026, 1, 1, 10)
    assert trigger.first_run(at(2025, 6, 1)) == at(2026, 1, 1, 10)
    assert trigger.next_after(at(2026, 1, 1, 10)) == at(2026, 1, 1, 11)
    assert trigger.first_run(at(2026, 1, 1, 10, 30)) == at(2026, 1, 1, 11)


def test_first_run_includes_a_tick_at_now():
    assert CronTrigger("0 * * * *", "UTC").first_run(at(2026, 1, 1, 10)) == at(2026, 1, 1, 10)


def test_end_at_bounds_firing():
    trigger = CronTrigger("0 * * * *", "UTC", end_at=at(2026, 1, 1, 10))
    assert trigger.next_after(at(2026, 1, 1, 9)) == at(2026, 1, 1, 10)
    assert trigger.next_after(at(2026, 1, 1, 10)) is None
    assert trigger.first_run(at(2026, 1, 1, 10, 1)) is None


# --- interval ---


def test_interval_first_run_is_the_anchor_while_it_is_ahead():
    trigger = IntervalTrigger(60, anchor=1_000)
    assert trigger.first_run(500) == 1_000
    assert trigger.first_run(1_000) == 1_000
    assert trigger.first_run(1_001) == 1_060
    assert trigger.next_after(999) == 1_000
    assert trigger.next_after(1_000) == 1_060
    assert trigger.next_after(1_000 + 60 * 1_000 + 5) == 1_000 + 60 * 1_001


def test_interval_ticks_stay_on_the_grid():
    anchor, seconds = at(2026, 1, 1) + 0.3, 0.1
    trigger, t = IntervalTrigger(seconds, anchor), anchor
    for k in range(1, 20_001):
        t = trigger.next_after(t)
        assert t == anchor + k * seconds
    assert t != sum([seconds] * 20_000, anchor)  # what adding to the last tick would drift to


def test_interval_first_run_on_a_tick_is_that_tick():
    # (tick - anchor) / seconds rounds to just above 32976 here: k must step back down
    anchor, seconds = 1_736_105_747.0, 2.2
    tick = anchor + 32_976 * seconds
    assert IntervalTrigger(seconds, anchor).first_run(tick) == tick


def test_interval_end_at():
    trigger = IntervalTrigger(60, anchor=1_000, end_at=1_120)
    assert ticks(trigger, 0, 4) == [1_000, 1_060, 1_120, None]


def test_make_trigger_anchors_an_interval_on_start_at_or_one_interval_after_creation():
    assert make_trigger(None, 30, "UTC", None, None, created_at=1_000) == IntervalTrigger(30, 1_030)
    assert make_trigger(None, 30, "UTC", 5_000, 9_000, created_at=1_000) == IntervalTrigger(
        30, 5_000, 9_000
    )


def test_make_trigger_builds_a_cron_trigger():
    assert make_trigger("@daily", None, NEW_YORK, 1.0, 2.0, created_at=0) == CronTrigger(
        "@daily", NEW_YORK, 1.0, 2.0
    )


def test_triggers_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CronTrigger("@daily", "UTC").end_at = 1.0  # type: ignore[misc]


# --- validation ---


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * * MOX", "cron: bad day-of-week field 'MOX'"),
        ("61 * * * *", "cron: bad minute field '61'"),
        ("*/0 * * * *", "cron: bad minute field '*/0'"),
        ("0 24 * * *", "cron: bad hour field '24'"),
        ("0 17-9 * * *", "cron: bad hour field '17-9'"),
        ("0 0 0 * *", "cron: bad day-of-month field '0'"),
        ("0 0 * 13 *", "cron: bad month field '13'"),
        ("0 0 30 2 *", "cron: day-of-month '30' never occurs in month '2'"),
        (
            "* * *",
            "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 3 in "
            "'* * *'",
        ),
        (
            "0 * * * * *",
            "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 6 "
            "in '0 * * * * *'",
        ),
        ("", "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 0 in ''"),
        (
            "@reboot",
            "cron: unknown alias '@reboot' (known: @yearly, @annually, @monthly, @weekly, "
            "@daily, @midnight, @hourly)",
        ),
    ],
)
def test_a_bad_expression_says_what_is_wrong(expression, message):
    with pytest.raises(TriggerError) as caught:
        make_trigger(expression, None, "UTC", None, None, created_at=0)
    assert (str(caught.value), caught.value.field) == (message, "cron")


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        (
            {"cron": "@daily", "interval": 60},
            "cron",
            "a schedule needs exactly one of cron and interval",
        ),
        ({}, "cron", "a schedule needs exactly one of cron and interval"),
        ({"interval": 0}, "interval", "interval must be greater than 0"),
        ({"interval": -5}, "interval", "interval must be greater than 0"),
        ({"interval": math.inf}, "interval", "interval must be a finite number of seconds"),
        ({"interval": math.nan}, "interval", "interval must be a finite number of seconds"),
        ({"cron": "@daily", "timezone": "Mars/X"}, "timezone", "unknown time zone 'Mars/X'"),
        ({"interval": 60, "timezone": "Mars/X"}, "timezone", "unknown time zone 'Mars/X'"),
        ({"cron": "@daily", "timezone": ""}, "timezone", "unknown time zone ''"),
        (
            {"cron": "@daily", "timezone": "../etc/passwd"},
            "timezone",
            "unknown time zone '../etc/passwd'",
        ),
        (
            {"cron": "@daily", "start_at": 2_000, "end_at": 1_000},
            "end_at",
            "end_at is before start_at",
        ),
        (
            {"interval": 60, "start_at": 2_000, "end_at": 1_000},
            "end_at",
            "end_at is before start_at",
        ),
    ],
)
def test_validation_errors(kwargs, field, message):
    args = {
        "cron": None,
        "interval": None,
        "timezone": "UTC",
        "start_at": None,
        "end_at": None,
        "created_at": 0,
    } | kwargs
    with pytest.raises(TriggerError) as caught:
        make_trigger(**args)
    assert (str(caught.value), caught.value.field) == (message, field)
    assert isinstance(caught.value, ValueError)


def test_instants_are_utc_seconds():
    tick = CronTrigger("30 2 * * *", NEW_YORK).next_after(at(2026, 3, 7, 12))
    assert datetime.fromtimestamp(tick, UTC) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
