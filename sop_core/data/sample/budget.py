"""The sample's budget: units and revenue per family and fiscal month, for every month of the
fiscal year the history ends in and of the next, set a few percent above where demand is
heading, so the Overview has a gap to budget to show.

Each month's budget is the same fiscal month's sales in the latest year the history covers
whole, grown by the family's yearly growth (its true trend; revenue also by the change in its
price paid) once per year between the two, then stretched by ``STRETCH``: what finance asks
on top of the trend.
Nothing here draws from the generator's random numbers, so a seed still makes the same company.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sop_core.data.fiscal import FiscalCalendar

STRETCH = 1.05  # the budget's ambition over the trend
YEARS_BACK = 3  # how far back a month may look for a whole year of sales


def budget_frame(
    sales: pd.DataFrame,
    products: pd.DataFrame,
    truth: pd.DataFrame,
    calendar: FiscalCalendar,
    first_future_week: dt.date,
) -> pd.DataFrame:
    """The ``budget`` table: ``month, sku, family, units, revenue`` (family rows, ``sku``
    empty) for the fiscal years of ``first_future_week`` and the next."""
    weekly = (
        sales.merge(products[["sku", "family"]], on="sku")
        .assign(revenue=lambda f: f["units"] * f["net_price"].fillna(0.0))
        .groupby(["family", "week"], as_index=False)[["units", "revenue"]]
        .sum()
    )
    growth = _yearly_growth(sales, products, truth)
    mapping = calendar.weeks(weekly["week"].unique())
    monthly = weekly.merge(mapping, on="week")
    for column in ("units", "revenue"):
        monthly[column] = monthly[column] * monthly["share"]
    monthly = monthly.groupby(["family", "year", "month"]).agg(
        units=("units", "sum"), revenue=("revenue", "sum"), weeks=("share", "sum")
    )
    year = calendar.year_of(first_future_week)
    rows = []
    for fiscal_year in (year, year + 1):
        for period in calendar.months(fiscal_year):
            whole = (period.end - period.start).days / 7
            month = dt.datetime.strptime(
                calendar.month_label(fiscal_year, period.month), "%b %Y"
            ).date()
            for family, (units_growth, revenue_growth) in growth.items():
                for back in range(1, YEARS_BACK + 1):
                    key = (family, fiscal_year - back, period.month)
                    if key in monthly.index and monthly.loc[key, "weeks"] >= whole - 1e-6:
                        past = monthly.loc[key]
                        rows.append(
                            (
                                month,
                                None,
                                family,
                                round(float(past["units"] * units_growth**back * STRETCH)),
                                round(float(past["revenue"] * revenue_growth**back * STRETCH), 2),
                            )
                        )
                        break
    return pd.DataFrame(rows, columns=["month", "sku", "family", "units", "revenue"]).assign(
        month=lambda f: pd.to_datetime(f["month"])
    )


def _yearly_growth(
    sales: pd.DataFrame, products: pd.DataFrame, truth: pd.DataFrame
) -> dict[str, tuple[float, float]]:
    """Per family: the yearly growth of (units, revenue). Units grow by the family's true
    trend (its SKUs' ``trend_per_year``, weighted by their last 52 weeks' units: what a good
    forecast finds); revenue also by the change in the average price paid over the last 52
    weeks against the 52 before."""
    last = sales["week"].max()
    recent = sales["week"] > last - pd.Timedelta(weeks=52)
    before = ~recent & (sales["week"] > last - pd.Timedelta(weeks=104))
    frame = sales.merge(products[["sku", "family"]], on="sku").assign(
        revenue=lambda f: f["units"] * f["net_price"].fillna(0.0)
    )
    sold = frame[recent].groupby("sku")["units"].sum()
    trend = truth.set_index("sku")["trend_per_year"].reindex(sold.index).fillna(0.0)
    weighted = (
        pd.DataFrame({"units": sold, "grown": sold * (1 + trend)})
        .join(products.set_index("sku")["family"])
        .groupby("family")[["units", "grown"]]
        .sum()
    )
    now = frame[recent].groupby("family")[["units", "revenue"]].sum()
    then = frame[before].groupby("family")[["units", "revenue"]].sum()
    price = (now["revenue"] / now["units"]) / (then["revenue"] / then["units"])
    growth = {}
    for family, row in weighted.iterrows():
        units = float(row["grown"] / row["units"]) if row["units"] > 0 else 1.0
        moved = float(price.get(family, 1.0))
        growth[family] = (units, units * (moved if np.isfinite(moved) else 1.0))
    return growth
