from __future__ import annotations

import datetime as dt

import pandas as pd

from sop_core.data.calendar import holiday_weeks, last_complete_week, retail_holidays, week_start


def test_week_key_is_the_monday():
    assert week_start(dt.date(2026, 11, 25)) == dt.date(2026, 11, 23)
    assert week_start(dt.date(2026, 11, 23)) == dt.date(2026, 11, 23)
    assert week_start(dt.date(2026, 11, 29)) == dt.date(2026, 11, 23)


def test_last_complete_week_ends_before_the_date():
    # Wednesday: the current week is incomplete, the previous one is the last complete.
    assert last_complete_week(dt.date(2026, 11, 25)) == dt.date(2026, 11, 16)
    # Monday: the week that ended yesterday is complete.
    assert last_complete_week(dt.date(2026, 11, 30)) == dt.date(2026, 11, 23)


def test_holiday_dates():
    by_name = {(h.name, h.date.year): h.date for h in retail_holidays([2025, 2026])}
    assert by_name[("Black Friday", 2026)] == dt.date(2026, 11, 27)
    assert by_name[("Black Friday", 2025)] == dt.date(2025, 11, 28)
    assert by_name[("Mother's Day", 2026)] == dt.date(2026, 5, 10)
    assert by_name[("Valentine's Day", 2026)] == dt.date(2026, 2, 14)


def test_holidays_land_on_the_week_that_contains_them():
    weeks = pd.date_range("2026-01-05", periods=52, freq="7D")
    marks = holiday_weeks(weeks)
    assert set(marks["holiday"]) == {"Valentine's Day", "Mother's Day", "Black Friday", "Christmas"}
    assert all(week in set(weeks) for week in marks["week"])
    christmas = marks.loc[marks["holiday"] == "Christmas", "week"].iloc[0]
    assert christmas == pd.Timestamp("2026-12-21")  # Monday of the week holding 25 Dec
