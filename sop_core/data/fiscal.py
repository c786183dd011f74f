"""The company's fiscal calendar: every planning week mapped to its fiscal month, quarter and
year, and the shares by which a week falls into its months or quarters (``bucketed_weeks``;
weekly figures are summed by them in ``export.bucketed_frame``).

Two kinds of calendar:

- ``calendar``: fiscal months are calendar months and the year starts on the 1st of
  ``start_month``. A week split by a month boundary is allocated by its days (a week of
  Monday 28 Sep belongs 3/7 to September and 4/7 to October), so totals stay the same in every
  bucket.
- ``445``, ``454``, ``544``: retail calendars of whole weeks. The year starts on the Monday
  nearest the 1st of ``start_month`` and has 52 weeks, or 53 when the next year's start is 53
  weeks away (every five or six years); the 53rd week goes to the year's last month. Each
  quarter has months of 4, 4 and 5 weeks (or 4-5-4, 5-4-4), so every week belongs to exactly
  one month.

A fiscal year is named after the calendar year it ends in: with ``start_month`` 7, the year from
July 2026 to June 2027 is FY2027. A month is named after the calendar month it stands for
("Nov 2026"); a quarter after its number and year ("Q4 2026", "Q2 FY2027" when the year does
not start in January).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from sop_core.data.errors import InputError

PATTERNS: dict[str, tuple[int, int, int] | None] = {
    "calendar": None,
    "445": (4, 4, 5),
    "454": (4, 5, 4),
    "544": (5, 4, 4),
}
BUCKETS = ("week", "month", "quarter")
DEFAULT_BUCKET = "week"
# The keys of ``company_settings`` that hold the calendar.
START_KEY, PATTERN_KEY = "fiscal_start_month", "fiscal_pattern"
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Columns of ``FiscalCalendar.weeks``.
WEEK_COLUMNS = ("week", "share", "year", "quarter", "month", "month_start", "quarter_start")


def checked_bucket(bucket: str) -> str:
    """``bucket`` if it is one of ``BUCKETS``; otherwise a planner-readable error."""
    if bucket not in BUCKETS:
        raise InputError(f"Unknown bucket {bucket!r}: use one of {', '.join(BUCKETS)}.")
    return bucket


@dataclass(frozen=True)
class Period:
    """One fiscal month: ``start`` to ``end`` (exclusive)."""

    year: int  # the fiscal year, named after the calendar year it ends in
    month: int  # 1-12, in fiscal order
    start: dt.date
    end: dt.date

    @property
    def quarter(self) -> int:
        return (self.month - 1) // 3 + 1


@dataclass(frozen=True)
class FiscalCalendar:
    """A fiscal calendar: the first month of the fiscal year and the pattern of its months."""

    start_month: int = 1
    pattern: str = "calendar"

    def __post_init__(self) -> None:
        if not isinstance(self.start_month, int) or not 1 <= self.start_month <= 12:
            raise InputError(
                f"The fiscal year's first month must be 1 to 12, not {self.start_month!r}."
            )
        if self.pattern not in PATTERNS:
            raise InputError(
                f"Unknown fiscal pattern {self.pattern!r}: use one of {', '.join(PATTERNS)}."
            )

    @classmethod
    def from_settings(cls, settings: dict[str, object]) -> FiscalCalendar:
        """The calendar kept in ``company_settings`` (calendar months from January if unset)."""
        start = str(settings.get(START_KEY) or "Jan").strip()
        if start[:3].title() in MONTH_NAMES:
            number = MONTH_NAMES.index(start[:3].title()) + 1
        elif start.isdigit():
            number = int(start)
        else:
            raise InputError(f"The fiscal year's first month must be Jan to Dec, not {start!r}.")
        return cls(number, str(settings.get(PATTERN_KEY) or "calendar").replace("-", ""))

    def settings(self) -> dict[str, str]:
        """The ``company_settings`` rows that keep this calendar, as words ("Jul", "4-4-5"):
        a settings sheet holds text, and a number there would read as a figure."""
        pattern = "-".join(self.pattern) if self.retail else self.pattern
        return {START_KEY: MONTH_NAMES[self.start_month - 1], PATTERN_KEY: pattern}

    @property
    def retail(self) -> bool:
        """Whether months are whole weeks (4-4-5 and its kin)."""
        return PATTERNS[self.pattern] is not None

    def describe(self) -> str:
        """``Fiscal year from July, 4-4-5 weeks`` as a planner reads it."""
        months = "calendar months" if not self.retail else f"{'-'.join(self.pattern)} weeks"
        return f"Fiscal year from {MONTH_NAMES[self.start_month - 1]}, {months}"

    # -- years and months -------------------------------------------------------------------
    def year_start(self, year: int) -> dt.date:
        """The first day of fiscal year ``year`` (a Monday for retail patterns)."""
        nominal = dt.date(year if self.start_month == 1 else year - 1, self.start_month, 1)
        if not self.retail:
            return nominal
        # The Monday nearest the 1st: Tuesday to Thursday go back, Friday to Sunday forward.
        shifted = nominal + dt.timedelta(days=3)
        return shifted - dt.timedelta(days=shifted.weekday())

    def year_of(self, day: dt.date) -> int:
        """The fiscal year ``day`` falls in."""
        year = day.year + (1 if self.start_month != 1 else 0)
        while self.year_start(year) > day:
            year -= 1
        while self.year_start(year + 1) <= day:
            year += 1
        return year

    def weeks_in_year(self, year: int) -> int:
        """52 or 53 (whole weeks, retail patterns) between the year's start and the next's."""
        return (self.year_start(year + 1) - self.year_start(year)).days // 7

    def months(self, year: int) -> list[Period]:
        """The twelve fiscal months of ``year``, in order."""
        return list(_months(self, year))

    def fiscal_month(self, calendar_month: dt.date) -> tuple[int, int]:
        """(fiscal year, fiscal month 1-12) of the fiscal month that stands for the calendar
        month of ``calendar_month`` ("Nov 2026" is fiscal month 5 of FY2027 from July)."""
        month = (calendar_month.month - self.start_month) % 12 + 1
        year = calendar_month.year
        if self.start_month != 1 and calendar_month.month >= self.start_month:
            year += 1
        return year, month

    def month_start(self, year: int, month: int) -> dt.date:
        """The first day of fiscal month ``month`` of ``year``."""
        return _months(self, year)[month - 1].start

    def month_label(self, year: int, month: int) -> str:
        """``Nov 2026``: the calendar month a fiscal month stands for."""
        calendar_month = (self.start_month - 1 + month - 1) % 12
        first_year = year if self.start_month == 1 else year - 1
        calendar_year = first_year + (self.start_month - 1 + month - 1) // 12
        return f"{MONTH_NAMES[calendar_month]} {calendar_year}"

    def quarter_label(self, year: int, quarter: int) -> str:
        """``Q4 2026``, or ``Q2 FY2027`` when the fiscal year does not start in January."""
        return f"Q{quarter} {year}" if self.start_month == 1 else f"Q{quarter} FY{year}"

    def year_label(self, year: int) -> str:
        return f"{year}" if self.start_month == 1 else f"FY{year}"

    # -- weeks ------------------------------------------------------------------------------
    def weeks(self, weeks: object) -> pd.DataFrame:
        """Each week (a Monday) with the fiscal month(s) it belongs to: ``WEEK_COLUMNS``.

        ``share`` is the part of the week in that month: 1 for retail patterns; with calendar
        months a week split by a month boundary has two rows whose shares (days / 7) sum to 1.
        ``month_start`` and ``quarter_start`` are the periods' first days, their sort keys."""
        mondays = pd.to_datetime(pd.Series(pd.unique(pd.to_datetime(pd.Series(weeks))))).dt.date
        rows: list[tuple] = []
        for monday in sorted(mondays):
            rows.extend(_week_rows(self, monday))
        frame = pd.DataFrame(rows, columns=list(WEEK_COLUMNS))
        for column in ("week", "month_start", "quarter_start"):
            frame[column] = pd.to_datetime(frame[column])
        return frame

    def period_label(self, day: object, bucket: str) -> str:
        """The name of the ``bucket`` period that holds most of the week starting ``day``
        ("Nov 2026", "Q4 2026"; a period's first day names its period)."""
        year, number = self.period_of(pd.Timestamp(day).date(), bucket)
        label = self.month_label if bucket == "month" else self.quarter_label
        return label(year, number)

    def period_of(self, week: dt.date, bucket: str) -> tuple[int, int]:
        """(fiscal year, month or quarter) that holds most of ``week``'s days."""
        rows = _week_rows(self, week)
        year, quarter, month = max(rows, key=lambda row: row[1])[2:5]
        return (year, month) if checked_bucket(bucket) == "month" else (year, quarter)


@lru_cache(maxsize=256)
def _months(calendar: FiscalCalendar, year: int) -> tuple[Period, ...]:
    start = calendar.year_start(year)
    pattern = PATTERNS[calendar.pattern]
    if pattern is None:
        starts = [_add_months(start, i) for i in range(13)]
    else:
        lengths = list(pattern) * 4
        lengths[-1] += calendar.weeks_in_year(year) - 52
        starts = [start + dt.timedelta(weeks=int(w)) for w in np.cumsum([0, *lengths])]
    return tuple(Period(year, i + 1, starts[i], starts[i + 1]) for i in range(12))


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    return dt.date(day.year + index // 12, index % 12 + 1, 1)


@lru_cache(maxsize=8192)
def _week_rows(calendar: FiscalCalendar, monday: dt.date) -> tuple[tuple, ...]:
    """The rows of ``FiscalCalendar.weeks`` for one week."""
    end = monday + dt.timedelta(days=7)
    rows = []
    year = calendar.year_of(monday)
    for period in (*_months(calendar, year), *_months(calendar, year + 1)):
        days = (min(end, period.end) - max(monday, period.start)).days
        if days > 0:
            quarter_start = _months(calendar, period.year)[(period.quarter - 1) * 3].start
            rows.append(
                (
                    monday,
                    days / 7,
                    period.year,
                    period.quarter,
                    period.month,
                    period.start,
                    quarter_start,
                )
            )
    return tuple(rows)


def bucketed_weeks(weeks: object, bucket: str, calendar: FiscalCalendar) -> pd.DataFrame:
    """Each week with the period(s) of ``bucket`` it belongs to: ``week``, ``period`` (its
    name), ``period_start`` and ``share`` (the part of the week's days in it; a week split
    between two months of calendar months has two rows)."""
    table = calendar.weeks(weeks) if len(weeks) else pd.DataFrame(columns=list(WEEK_COLUMNS))
    number = "month" if checked_bucket(bucket) != "quarter" else "quarter"
    label = calendar.month_label if number == "month" else calendar.quarter_label
    grouped = (
        table.groupby(["week", f"{number}_start", "year", number], sort=True)["share"]
        .sum()
        .reset_index()
    )
    grouped["period"] = [
        label(int(y), int(p)) for y, p in zip(grouped["year"], grouped[number], strict=True)
    ]
    grouped = grouped.rename(columns={f"{number}_start": "period_start"})
    return grouped[["week", "period", "period_start", "share"]]
