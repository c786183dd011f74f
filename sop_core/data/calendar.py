"""Planning weeks and the retail holidays that move cosmetics demand.

Every weekly table keys its rows by the Monday that starts the week (ISO weeks). Holidays are
mapped onto the week that *contains* them, because a weekly model only sees a holiday when its
date is a week's key (Prophet's weekly-data trap).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

WEEK_START = "MON"


def week_start(day: dt.date) -> dt.date:
    """Return the Monday of the week that contains ``day``."""
    return day - dt.timedelta(days=day.weekday())


def weeks_text(weeks: float) -> str:
    """A number of weeks as people read it: ``1 week``, ``2 weeks``, ``1.5 weeks``."""
    return f"{weeks:g} week" + ("" if weeks == 1 else "s")


def last_complete_week(as_of: dt.date) -> dt.date:
    """Return the Monday of the last week that ended strictly before ``as_of``.

    A week runs Monday to Sunday; on a Monday the week that ended the day before is complete.
    """
    return week_start(as_of) - dt.timedelta(days=7)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + dt.timedelta(days=offset + 7 * (n - 1))


@dataclass(frozen=True)
class Holiday:
    """A dated retail event; ``week`` is the Monday of the week that contains it."""

    name: str
    date: dt.date

    @property
    def week(self) -> dt.date:
        return week_start(self.date)


def retail_holidays(years: range | list[int]) -> list[Holiday]:
    """Return the retail events that drive cosmetics demand for the given years.

    Black Friday (day after the fourth Thursday of November), Christmas, Valentine's Day and
    Mother's Day (second Sunday of May).
    """
    events: list[Holiday] = []
    for year in years:
        thanksgiving = _nth_weekday(year, 11, 3, 4)
        events.append(Holiday("Valentine's Day", dt.date(year, 2, 14)))
        events.append(Holiday("Mother's Day", _nth_weekday(year, 5, 6, 2)))
        events.append(Holiday("Black Friday", thanksgiving + dt.timedelta(days=1)))
        events.append(Holiday("Christmas", dt.date(year, 12, 25)))
    return sorted(events, key=lambda h: h.date)


def holiday_weeks(weeks: pd.DatetimeIndex) -> pd.DataFrame:
    """Return one row per (holiday, week key) for holidays that fall inside ``weeks``.

    Columns: ``holiday``, ``date``, ``week``. Suitable as Prophet ``holidays`` input once
    renamed (``ds`` = ``week``).
    """
    if len(weeks) == 0:
        return pd.DataFrame(columns=["holiday", "date", "week"])
    years = range(weeks.min().year, weeks.max().year + 1)
    keys = set(weeks.date)
    rows = [
        {"holiday": h.name, "date": h.date, "week": pd.Timestamp(h.week)}
        for h in retail_holidays(years)
        if h.week in keys
    ]
    return pd.DataFrame(rows, columns=["holiday", "date", "week"])
