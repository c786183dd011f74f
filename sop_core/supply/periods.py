"""Weekly frames per fiscal month or quarter, for the charts and tables that show them: one
way for the pages (``sop_ui.periods``) and the meeting pack.

``by_period`` applies the rules of a bucketed export (``sop_core.data.export.bucketed_frame``:
sums with a split week allocated by its days, stocks as a period's last week's, bands combined
as independent errors), recomputes the ratios it is told of from their sums, and keeps a
``week`` column holding each period's first day, so the chart builders draw the frame as they
draw weeks (``charts.style.period_axis`` then names the periods). Totals are the same in every
bucket.
"""

from __future__ import annotations

import pandas as pd

from sop_core.data.export import bucketed_frame
from sop_core.data.fiscal import FiscalCalendar
from sop_core.supply.loads import load_ratio

# How the frames of two kinds of chart add up per period: a production plan's stocks are
# levels (a period's are its last week's; ``inventory`` is one by its name), a load is its
# hours over its available hours and its chance of overload its riskiest week's.
PLAN = {"rules": {"safety_stock": "last", "below_safety": "last"}}
LOAD = {
    "ratios": {"utilisation": ("needed_hours", "available_hours")},
    "rules": {"overload_probability": "max"},
}


def by_period(
    weekly: pd.DataFrame,
    bucket: str,
    calendar: FiscalCalendar,
    *,
    centre: str | None = None,
    ratios: dict[str, tuple[str, str]] | None = None,
    rules: dict[str, str] | None = None,
) -> pd.DataFrame:
    """``weekly`` per period of ``bucket`` (as it is by week): ``week`` the period's first
    day, a column named after the bucket with the period's name, ``weeks`` the weeks it holds.
    ``centre`` is the column the frame's ``lower_``/``upper_`` bands are around; ``ratios``
    names ratio columns to recompute from the sums of their numerator and denominator
    (``{"utilisation": ("hours", "available_hours")}``); ``rules`` how a column adds up where
    its name does not say (``{"safety_stock": "last"}``, ``export.PERIOD_RULES``)."""
    if bucket == "week" or weekly.empty or "week" not in weekly:
        return weekly
    out = bucketed_frame(weekly, bucket, calendar, centre, rules)
    for name, (numerator, denominator) in (ratios or {}).items():
        out[name] = load_ratio(out[numerator].to_numpy(), out[denominator].to_numpy())
    out = out.rename(columns={"period_start": "week"})
    out["week"] = pd.to_datetime(out["week"])
    return _in_order_of(out, weekly)


def _in_order_of(out: pd.DataFrame, weekly: pd.DataFrame) -> pd.DataFrame:
    """``out``'s rows with their text keys in the order ``weekly`` first has them (a
    comparison's reference scenario first, lines as the page listed them), then by period:
    the bucketing sorts them by name."""
    keys = [
        name
        for name in weekly.columns
        if name != "week" and name in out.columns and out[name].dtype == object
    ]
    if not keys:
        return out
    order = {name: {v: i for i, v in enumerate(pd.unique(weekly[name]))} for name in keys}
    return out.sort_values(
        [*keys, "week"],
        key=lambda column: column.map(order[column.name]) if column.name in order else column,
        kind="stable",
    ).reset_index(drop=True)
