"""Figures by week, fiscal month or quarter: the sidebar's *Figures by* switch (in the URL as
``bucket``) applied to what a page shows.

A page passes each weekly frame it charts or tables through ``frame`` (the rules of a bucketed
export, ``sop_core.data.export.bucketed_frame``: sums with split weeks allocated by their days,
stocks as a period's last week's, bands combined as independent errors, and the ratios it
names recomputed from their sums). The frame keeps a ``week`` column, each period's first day,
so the chart builders draw it as they draw weeks; ``widgets.chart`` then names the periods on
the axis (``charts.style.period_axis``) and ``widgets.table`` shows the period's name instead
of the week. Totals are the same in every bucket.
"""

from __future__ import annotations

import pandas as pd

from sop_core.data.export import bucketed_frame
from sop_core.data.fiscal import FiscalCalendar
from sop_core.supply.loads import load_ratio
from sop_ui import filters, loaders

# How the frames of two kinds of chart add up per period, for every page that draws them:
# a production plan's stocks are levels (a period's are its last week's; ``inventory`` is one
# by its name), a load is its hours over its available hours and its chance of overload its
# riskiest week's.
PLAN = {"rules": {"safety_stock": "last", "below_safety": "last"}}
LOAD = {
    "ratios": {"utilisation": ("needed_hours", "available_hours")},
    "rules": {"overload_probability": "max"},
}


def bucket() -> str:
    """ "week", "month" or "quarter": what the sidebar's *Figures by* says."""
    return filters.bucket()


def weekly() -> bool:
    return bucket() == "week"


def calendar() -> FiscalCalendar:
    return loaders.fiscal_calendar()


def label(day: object) -> str:
    """The name of the period of the chosen bucket that starts on (or holds) ``day``."""
    return calendar().period_label(day, bucket())


def frame(
    weekly_frame: pd.DataFrame,
    *,
    centre: str | None = None,
    ratios: dict[str, tuple[str, str]] | None = None,
    rules: dict[str, str] | None = None,
) -> pd.DataFrame:
    """``weekly_frame`` per period of the chosen bucket (as it is by week): ``week`` the
    period's first day, a column named after the bucket with the period's name, ``weeks`` the
    weeks it holds. ``centre`` is the column the frame's ``lower_``/``upper_`` bands are
    around; ``ratios`` names ratio columns to recompute from the sums of their numerator and
    denominator (``{"utilisation": ("hours", "available_hours")}``); ``rules`` how a column
    adds up where its name does not say (``{"safety_stock": "last"}``, ``export.PERIOD_RULES``)."""
    chosen = bucket()
    if chosen == "week" or weekly_frame.empty or "week" not in weekly_frame:
        return weekly_frame
    out = bucketed_frame(weekly_frame, chosen, calendar(), centre, rules)
    for name, (numerator, denominator) in (ratios or {}).items():
        out[name] = load_ratio(out[numerator].to_numpy(), out[denominator].to_numpy())
    out = out.rename(columns={"period_start": "week"})
    out["week"] = pd.to_datetime(out["week"])
    return _in_order_of(out, weekly_frame)


def _in_order_of(out: pd.DataFrame, weekly_frame: pd.DataFrame) -> pd.DataFrame:
    """``out``'s rows with their text keys in the order ``weekly_frame`` first has them (a
    comparison's reference scenario first, lines as the page listed them), then by period:
    the bucketing sorts them by name."""
    keys = [
        name
        for name in weekly_frame.columns
        if name != "week" and name in out.columns and out[name].dtype == object
    ]
    if not keys:
        return out
    order = {name: {v: i for i, v in enumerate(pd.unique(weekly_frame[name]))} for name in keys}
    return out.sort_values(
        [*keys, "week"],
        key=lambda column: column.map(order[column.name]) if column.name in order else column,
        kind="stable",
    ).reset_index(drop=True)
