"""The demand picture per fiscal month or quarter: ``DemandCube.series`` and the table of the
next weeks (``cube.next_weeks``) summed per period of a bucket, with the weeks split between
two periods allocated by their days (``fiscal.bucketed_weeks``), so totals stay as by week.

A period that straddles the end of the history (some of its weeks sold, the rest forecast) is
a forecast period: its forecast, consensus and plan of record are the period's *landing*,
the actuals of its closed weeks plus the forecast of its open ones (the bands only around the
open weeks: what is sold is certain), and it has no actual point, since it has not closed.
The table of the next weeks holds the forecast weeks alone, so its first period may hold only
part of its weeks (its ``weeks`` column says how many).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sop_core.data.export import bucketed_frame
from sop_core.data.fiscal import FiscalCalendar, bucketed_weeks

FORECASTS = ("statistical", "consensus", "approved")
BANDS = ("80", "95")


def series_by_period(series: pd.DataFrame, bucket: str, calendar: FiscalCalendar) -> pd.DataFrame:
    """``series`` (``DemandCube.series``) per period of ``bucket``: the same columns, ``week``
    the period's first day, plus ``period`` (its name, "Nov 2026") and ``weeks`` (the weeks it
    holds). ``actual`` is summed over closed periods; a period straddling the history's end
    lands at its actuals to date plus the forecast of its open weeks (module docstring).
    ``promoted`` says at least half a period's weeks are promotion weeks, ``promoted_share``
    is its volume's share on promotion, ``holiday`` names the holidays of the weeks it mostly
    holds."""
    if bucket == "week" or series.empty:
        return series
    mapping = bucketed_weeks(series["week"], bucket, calendar)
    rows = series.merge(mapping, on="week", how="inner")
    share = rows["share"]
    closed = rows["actual"].notna()
    open_ = rows["statistical"].notna()
    volume = rows["actual"].where(closed, rows["consensus"]).fillna(0.0)
    weighted = pd.DataFrame(
        {
            "period_start": rows["period_start"],
            "period": rows["period"],
            "weeks": share,
            "open": share.where(open_, 0.0),
            "actual": (rows["actual"] * share).where(closed, 0.0),
            "volume": volume * share,
            "promoted_volume": volume * share * rows["promoted_share"].fillna(0.0),
            "promoted": share.where(rows["promoted"], 0.0),
            **{name: (rows[name] * share).where(open_, 0.0) for name in FORECASTS},
            "has_approved": rows["approved"].notna() & open_,
            **{
                f"spread_{level}_{side}": (
                    (rows[f"{side}_{level}"] - rows["statistical"]) ** 2 * share
                ).where(open_, 0.0)
                for level in BANDS
                for side in ("lower", "upper")
            },
        }
    )
    periods = weighted.groupby(["period_start", "period"], sort=True).agg(
        {
            **{name: "sum" for name in weighted.columns if name not in ("period_start", "period")},
            "has_approved": "any",
        }
    )
    forecast = periods["open"] > 0
    to_date = periods["actual"]
    out = pd.DataFrame(index=periods.index)
    out["actual"] = to_date.where(~forecast)
    for name in FORECASTS:
        out[name] = (to_date + periods[name]).where(forecast)
    out["approved"] = out["approved"].where(periods["has_approved"])
    for level in BANDS:
        for side, sign in (("lower", -1.0), ("upper", 1.0)):
            edge = out["statistical"] + sign * np.sqrt(periods[f"spread_{level}_{side}"])
            out[f"{side}_{level}"] = edge.clip(lower=to_date) if side == "lower" else edge
    out["promoted_share"] = periods["promoted_volume"] / periods["volume"].where(
        periods["volume"] > 0
    )
    out["promoted_share"] = out["promoted_share"].fillna(0.0)
    # Shaded when at least half its weeks are: a quarter with one promotion week is not a
    # promotion quarter (the share on promotion still says how much there is).
    out["promoted"] = periods["promoted"] >= periods["weeks"] / 2
    out["weeks"] = periods["weeks"]
    out = out.reset_index().rename(columns={"period_start": "week"})
    out["week"] = pd.to_datetime(out["week"])
    out["holiday"] = out["period"].map(_holidays(series, mapping)).fillna("")
    return out[[*series.columns, "period", "weeks"]]


def next_weeks_by_period(
    table: pd.DataFrame, series: pd.DataFrame, bucket: str, calendar: FiscalCalendar
) -> pd.DataFrame:
    """The table of the next weeks (``cube.next_weeks`` of ``series``) per period of
    ``bucket``, as ``sop_ui.periods.frame`` gives a frame: ``week`` the period's first day, a
    column named after the bucket with its name, ``weeks`` the forecast weeks it holds. The
    figures are summed (the 80% band around the statistical forecast), the change on a year
    earlier recomputed from the sums, and "what is on" counts the promotion weeks and names
    the holidays."""
    if bucket == "week" or table.empty:
        return table
    figures = table.drop(columns=["vs_last_year", "on"])
    out = bucketed_frame(figures, bucket, calendar, "statistical")
    out = out.rename(columns={"period_start": "week"})
    out["week"] = pd.to_datetime(out["week"])
    out["vs_last_year"] = out["consensus"] / out["last_year"].where(out["last_year"] > 0) - 1
    shown = series[series["week"].isin(table["week"])]
    mapping = bucketed_weeks(shown["week"], bucket, calendar)
    main = _main_periods(mapping)
    promoted = shown.assign(period=shown["week"].map(main)).groupby("period")["promoted"].sum()
    holidays = _holidays(shown, mapping)
    out["on"] = [
        ", ".join(
            part
            for part in (
                _promotion_weeks(int(promoted.get(period, 0))),
                holidays.get(period, ""),
            )
            if part
        )
        for period in out[bucket]
    ]
    return out[["week", bucket, *(c for c in table.columns if c != "week"), "weeks"]]


def _main_periods(mapping: pd.DataFrame) -> pd.Series:
    """Each week's period: the one holding most of its days."""
    main = mapping.sort_values("share", ascending=False).drop_duplicates("week")
    return main.set_index("week")["period"]


def _holidays(series: pd.DataFrame, mapping: pd.DataFrame) -> pd.Series:
    """The holidays of each period's weeks (a week's in the period holding most of it)."""
    weeks = series.loc[series["holiday"] != "", ["week", "holiday"]]
    if weeks.empty:
        return pd.Series(dtype=object)
    weeks = weeks.assign(period=weeks["week"].map(_main_periods(mapping)))
    return weeks.groupby("period")["holiday"].agg(lambda names: ", ".join(dict.fromkeys(names)))


def _promotion_weeks(count: int) -> str:
    if count == 0:
        return ""
    return f"promotion in {count} week{'s' if count != 1 else ''}"
