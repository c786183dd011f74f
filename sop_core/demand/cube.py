"""The demand review's numbers: history and forecast of any scope, in units or revenue.

``load_demand_cube`` reads, once per forecast run and data change, everything the Demand
review page shows as arrays (SKU x channel x week): the actuals, the statistical forecast with
its bands, the consensus (statistical + overrides, from the run's ``PlanBase``), the latest
plan of record's frozen targets, promotion weeks and holidays. Switching the scope then only
sums arrays, with no query and no model.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from sop_core.data.calendar import holiday_weeks
from sop_core.data.stores import plans_of_record, sales
from sop_core.demand.consensus import LEVELS, scope_cells
from sop_core.demand.plan_base import PlanBase

MEASURES = ("units", "revenue")
# A week counts as a promotion week of a scope when at least this share of the scope's volume
# is on promotion (a SKU's own promotion always counts).
PROMOTED_SHARE = 0.15


@dataclass
class DemandCube:
    """Actuals and forecasts of a run, ready to sum for any scope."""

    base: PlanBase
    history_weeks: np.ndarray  # datetime64[D]
    actual_units: np.ndarray  # (SKUs, channels, history weeks)
    actual_revenue: np.ndarray
    promoted_history: np.ndarray  # (SKUs, channels, history weeks) bool
    promoted_future: np.ndarray  # (SKUs, channels, weeks) bool: promotions in the calendar
    approved_name: str | None = None
    approved_by_channel: np.ndarray | None = None  # (SKUs, channels, weeks) units
    approved_revenue_by_channel: np.ndarray | None = None

    def choices(self, level: str, families: tuple[str, ...] = ()) -> list[str]:
        """The names a scope level offers (empty for the total), within ``families``."""
        base = self.base
        keep = np.isin(base.families, list(families)) if families else slice(None)
        if level == "channel":
            keep = slice(None)
        values = {
            "family": base.families,
            "brand": base.brands,
            "channel": base.channels,
            "sku": base.skus,
        }.get(level)
        return [] if values is None else sorted({str(v) for v in values[keep]})

    def sku_labels(self) -> dict[str, str]:
        """``sku -> "sku name"`` for pickers."""
        return {str(s): f"{s}  {n}" for s, n in zip(self.base.skus, self.base.names, strict=True)}

    def series(
        self,
        level: str,
        target: str | None,
        measure: str = "units",
        families: tuple[str, ...] = (),
        channels: tuple[str, ...] = (),
    ) -> pd.DataFrame:
        """One row per week, history then horizon: ``week, actual, statistical, lower_80,
        upper_80, lower_95, upper_95, consensus, approved, promoted_share, promoted, holiday``
        for the scope (narrowed to ``families`` and ``channels`` when given), in units or
        revenue. The bands add the SKUs' bands (a cautious width)."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}")
        base = self.base
        rows, columns = scope_cells(base, level, target)
        if families:
            rows = rows & np.isin(base.families, list(families))
        if channels:
            columns = columns & np.isin(base.channels, list(channels))
        block = np.ix_(rows, columns)

        def total(values: np.ndarray) -> np.ndarray:
            return values[block].sum(axis=(0, 1))

        price = base.channel_price[:, :, None] if measure == "revenue" else 1.0
        statistical_c = base.statistical_by_channel
        statistical = total(statistical_c * price)
        # The SKU bands belong to the scope by its channels' part of each SKU's forecast,
        # and turn into money at the scope's average price of the week.
        sku_total = statistical_c.sum(axis=1)
        part = _share(statistical_c[:, columns].sum(axis=1), sku_total)
        to_measure = _share(statistical, total(statistical_c))
        bands = {
            name: (band * part)[rows].sum(axis=0) * to_measure
            for name, band in base.statistical_bands.items()
        }
        future_units = total(base.consensus_by_channel)
        promoted_future = _share(
            total(base.consensus_by_channel * self.promoted_future), future_units
        )
        history = self.actual_revenue if measure == "revenue" else self.actual_units
        promoted_history = _share(
            total(self.actual_units * self.promoted_history), total(self.actual_units)
        )
        if self.approved_by_channel is None:
            approved = np.full(len(base.weeks), np.nan)
        elif measure == "revenue":  # at the scenario's own prices and discounts
            approved = total(self.approved_revenue_by_channel)
        else:
            approved = total(self.approved_by_channel)
        nan_history = np.full(len(self.history_weeks), np.nan)
        frame = pd.DataFrame(
            {
                "week": pd.to_datetime(np.concatenate([self.history_weeks, base.weeks])),
                "actual": np.concatenate([total(history), np.full(len(base.weeks), np.nan)]),
                "statistical": np.concatenate([nan_history, statistical]),
                **{name: np.concatenate([nan_history, values]) for name, values in bands.items()},
                "consensus": np.concatenate(
                    [nan_history, total(base.consensus_by_channel * price)]
                ),
                "approved": np.concatenate([nan_history, approved]),
                "promoted_share": np.concatenate([promoted_history, promoted_future]),
            }
        )
        holidays = holiday_weeks(pd.DatetimeIndex(frame["week"]))
        names = holidays.groupby("week")["holiday"].agg(", ".join)
        frame["holiday"] = frame["week"].map(names).fillna("")
        single = level == "sku"
        frame["promoted"] = frame["promoted_share"] > (0 if single else PROMOTED_SHARE)
        return frame


def next_weeks(series: pd.DataFrame, weeks: int = 13) -> pd.DataFrame:
    """The table under the chart, from ``series``: the next ``weeks`` weeks with the
    statistical forecast, the consensus, the team's change, the approved plan, the same
    week a year earlier, and what is on (promotions, holidays)."""
    frame = series
    future = frame[frame["statistical"].notna()].head(weeks).copy()
    by_week = frame.set_index("week")["actual"]
    future["last_year"] = (future["week"] - pd.Timedelta(weeks=52)).map(by_week).to_numpy()
    future["override"] = future["consensus"] - future["statistical"]
    future["vs_last_year"] = (
        future["consensus"] / future["last_year"].where(future["last_year"] > 0) - 1
    )
    future["on"] = [
        ", ".join(
            part
            for part in (
                f"promotion ({share:.0%} of volume)" if promoted else "",
                holiday,
            )
            if part
        )
        for promoted, share, holiday in zip(
            future["promoted"], future["promoted_share"], future["holiday"], strict=True
        )
    ]
    return future[
        [
            "week",
            "statistical",
            "lower_80",
            "upper_80",
            "consensus",
            "override",
            "approved",
            "last_year",
            "vs_last_year",
            "on",
        ]
    ].reset_index(drop=True)


def load_demand_cube(
    con: duckdb.DuckDBPyConnection, base: PlanBase, history_weeks: int = 104
) -> DemandCube:
    """Read the last ``history_weeks`` of actuals, the promotion calendar and the latest plan
    of record for ``base`` (a run's plan arrays, consensus included)."""
    sku_index = {sku: i for i, sku in enumerate(base.skus)}
    channel_index = {ch: i for i, ch in enumerate(base.channels)}
    # The history shown ends where the run's forecast starts.
    start = _date(base.weeks[0])
    rows = sales.history_before(con, start, history_weeks)
    last = pd.Timestamp(start) - pd.Timedelta(7, "D")
    weeks = pd.date_range(end=last, periods=history_weeks, freq="7D").to_numpy("datetime64[D]")
    shape = (len(base.skus), len(base.channels), len(weeks))
    actual_units, actual_revenue = np.zeros(shape), np.zeros(shape)
    promoted_history = np.zeros(shape, dtype=bool)
    i = rows["sku"].map(sku_index)
    j = rows["channel"].map(channel_index)
    known = i.notna() & j.notna()
    t = np.searchsorted(weeks, rows["week"].to_numpy("datetime64[D]"))
    cells = (i[known].astype(int).to_numpy(), j[known].astype(int).to_numpy(), t[known.to_numpy()])
    actual_units[cells] = rows.loc[known, "units"].to_numpy(dtype=float)
    actual_revenue[cells] = rows.loc[known, "revenue"].to_numpy(dtype=float)
    promoted_history[cells] = rows.loc[known, "promoted"].to_numpy(dtype=bool)

    promoted_future = np.zeros((len(base.skus), len(base.channels), len(base.weeks)), dtype=bool)
    promotions = sales.promotions_overlapping(con, _date(base.weeks[0]), _date(base.weeks[-1]))
    for sku, channel, start, end in promotions[
        ["sku", "channel", "start_week", "end_week"]
    ].itertuples(index=False):
        if sku not in sku_index:
            continue
        span = (base.weeks >= np.datetime64(start, "D")) & (base.weeks <= np.datetime64(end, "D"))
        if channel in channel_index:
            promoted_future[sku_index[sku], channel_index[channel], span] = True
        elif not isinstance(channel, str) or not channel:  # NULL or empty: every channel
            promoted_future[sku_index[sku], :, span] = True

    cube = DemandCube(base, weeks, actual_units, actual_revenue, promoted_history, promoted_future)
    approved = approved_plan(con, base)
    if approved is not None:
        cube.approved_name, cube.approved_by_channel, cube.approved_revenue_by_channel = approved
    return cube


def approved_plan(
    con: duckdb.DuckDBPyConnection, base: PlanBase
) -> tuple[str, np.ndarray, np.ndarray] | None:
    """The latest plan of record on ``base``'s grid: its name, and its frozen targets' units
    and revenue per SKU, channel and week (split by channel like today's consensus; NaN for
    weeks it did not freeze)."""
    latest = plans_of_record.plan_of_record(con)
    if latest is None:
        return None
    frozen = plans_of_record.frozen_targets(con, latest.plan_version)
    units = np.full(base.baseline.shape, np.nan)
    revenue = np.full(base.baseline.shape, np.nan)
    i = frozen["sku"].map({sku: k for k, sku in enumerate(base.skus)})
    j = frozen["week"].map(
        {pd.Timestamp(w): k for k, w in enumerate(base.weeks.astype("datetime64[ns]"))}
    )
    known = (i.notna() & j.notna()).to_numpy()
    cells = (i[known].astype(int).to_numpy(), j[known].astype(int).to_numpy())
    units[cells] = frozen.loc[known, "target"].to_numpy(dtype=float)
    revenue[cells] = frozen.loc[known, "revenue"].to_numpy(dtype=float)
    split = base.baseline_by_channel
    sku_total = split.sum(axis=1, keepdims=True)
    share = np.divide(
        split,
        sku_total,
        out=np.broadcast_to(base.channel_share[:, :, None], split.shape).copy(),
        where=sku_total > 0,
    )
    name = f"plan of record v{latest.plan_version} ({latest.scenario})"
    return name, units[:, None, :] * share, revenue[:, None, :] * share


def _date(value: np.datetime64) -> dt.date:
    return value.astype("datetime64[D]").astype(dt.date)


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """``part / whole``, 0 where ``whole`` is 0."""
    return np.divide(part, whole, out=np.zeros_like(whole, dtype=float), where=whole > 0)
