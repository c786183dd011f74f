"""How the product writes a number, a week and a header: one module for every page, chart,
export and the meeting pack, so a figure reads the same wherever it is shown.

- units: whole numbers with thousands separators (``12,345``); compact on KPI tiles (``12.3k``);
- money: the company's currency, compact with k/M/bn (``1.2M EUR``), whole units in tables;
- percents: one decimal (``84.5%``); a change carries its sign (``+2.4%``, ``-0.7%``);
- weeks: the ISO week and its Monday (``W48 · 23 Nov``; with the year where it matters);
- headers: words, not column names (``weekly_units`` reads "Weekly units");
- missing values: an en dash (``–``), never ``None`` or ``nan``.

The Excel number formats that say the same (``EXCEL_FORMATS``) are here too, so a workbook cell
holds the number and shows what the page shows. Pure functions: no Streamlit, no SQL.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

MISSING = "\u2013"  # en dash
WEEK_SEPARATOR = " \u00b7 "  # middle dot

# Column names as the room reads them, where "snake case in words" is not enough.
HEADERS = {
    "sku": "SKU",
    "skus": "SKUs",
    "sku_name": "Product",
    "name": "Product",
    "line_name": "Line name",
    "run_id": "Forecast run",
    "plan_version": "Plan version",
    "wape": "WAPE",
    "mape": "MAPE",
    "mase": "MASE",
    "roi": "ROI",
    "oee": "OEE",
    "hours_delta": "Hours",
    "gap_hours": "Hours short",
    "available_hours": "Available hours",
    "overtime_hours": "Overtime hours",
    "due_date": "Due",
    "created_at": "Created",
    "updated_at": "Updated",
    "approved_at": "Approved",
}

# Excel number formats by kind of value (the same conventions as the functions below).
EXCEL_FORMATS = {
    "units": "#,##0",
    "money": "#,##0",
    "price": "#,##0.00",
    "percent": "0.0%",
    "change": "+0.0%;-0.0%;0.0%",
    "ratio": "0.00",
    "hours": "#,##0",
    "date": "d mmm yyyy",
    "datetime": "d mmm yyyy hh:mm",
}


def missing(value: Any) -> bool:
    """Whether ``value`` is absent (None, NaN, NaT, pandas' NA)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array is not one missing value
        return False


def _number(value: Any) -> float | None:
    if missing(value):
        return None
    number = float(value)
    return None if math.isinf(number) else number


def units(value: Any) -> str:
    """Whole units with thousands separators: ``12,345``."""
    number = _number(value)
    return MISSING if number is None else f"{round(number) + 0:,.0f}"


def compact(value: Any, unit: str = "", *, signed: bool = False) -> str:
    """A compact figure for a KPI tile: ``830``, ``12.3k``, ``2.5M``, ``1.1bn`` (one decimal
    from a thousand on), followed by ``unit`` when given; a ``signed`` change carries its sign
    (``+12.3k``, ``-830``; a figure that shows as 0 has none)."""
    number = _number(value)
    if number is None:
        return MISSING
    suffix = f" {unit}" if unit else ""
    shown = f"{round(number) + 0:,.0f}"
    for limit, letter in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= limit:
            shown = f"{number / limit:,.1f}{letter}"
            break
    if signed and number > 0 and shown != "0":
        shown = f"+{shown}"
    return shown + suffix


def money(value: Any, currency: str = "EUR", *, exact: bool = False, signed: bool = False) -> str:
    """Money in the company's currency: compact (``1.2M EUR``) or, ``exact``, whole currency
    units with separators (``1,234,567 EUR``); a ``signed`` change carries its sign."""
    if exact:
        number = _number(value)
        if number is None:
            return MISSING
        shown = f"{round(number) + 0:,.0f}"
        return f"{'+' if signed and shown != '0' and number > 0 else ''}{shown} {currency}"
    return compact(value, currency, signed=signed)


def percent(value: Any, *, change: bool = False) -> str:
    """A share as a percent with one decimal (``0.845`` reads ``84.5%``); a ``change`` carries
    its sign (``+2.4%``, ``-0.7%``; no ``-0.0%`` from rounding)."""
    number = _number(value)
    if number is None:
        return MISSING
    number = round(number, 4) + 0.0
    return f"{number:+.1%}" if change else f"{number:.1%}"


def relative_change(current: Any, previous: Any) -> str | None:
    """The change from ``previous`` to ``current`` as a signed percent (None without a base)."""
    now, before = _number(current), _number(previous)
    if now is None or not before:
        return None
    return percent(now / before - 1, change=True)


def monday(week: Any) -> dt.date:
    """The Monday of the week holding ``week`` (a date, a datetime, a Timestamp or a numpy
    datetime64)."""
    day = pd.Timestamp(week).date()
    return day - dt.timedelta(days=day.weekday())


def week(value: Any, *, year: bool = False) -> str:
    """A week as the room names it: the ISO week and its Monday, ``W48 · 23 Nov`` (with
    ``year``: ``W48 · 23 Nov 2026``)."""
    if missing(value):
        return MISSING
    first = monday(value)
    number = first.isocalendar().week
    return f"W{number:02d}{WEEK_SEPARATOR}{_day(first)}" + (f" {first:%Y}" if year else "")


def weeks_span(first: Any, last: Any) -> str:
    """A run of weeks: ``W48-W50 (23 Nov - 7 Dec)``, or one week alone."""
    start, end = monday(first), monday(last)
    if start == end:
        return week(start)
    return (
        f"W{start.isocalendar().week:02d}-W{end.isocalendar().week:02d} "
        f"({_day(start)} - {_day(end)})"
    )


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b}"  # 7 Dec, not 07 Dec


def date(value: Any) -> str:
    """A day: ``23 Nov 2026``."""
    return (
        MISSING
        if missing(value)
        else f"{_day(pd.Timestamp(value).date())} {pd.Timestamp(value):%Y}"
    )


def header(column: str) -> str:
    """A column name in words: ``weekly_units`` reads ``Weekly units``; known names
    (``HEADERS``) read as the glossary says."""
    if column in HEADERS:
        return HEADERS[column]
    words = str(column).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def headers(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its columns named in words (``header``)."""
    return frame.rename(columns={c: header(c) for c in frame.columns})


def text(value: Any) -> str:
    """Any cell as text: numbers as ``units`` or with two decimals below 10, missing as
    ``MISSING``."""
    if missing(value):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return f"{value:,.2f}" if abs(value) < 10 and value != round(value) else units(value)
    if isinstance(value, dt.datetime | pd.Timestamp):
        return date(value)
    return str(value)
