"""The plan base: the consensus demand and the facts every later step plans on, as arrays.

``load_plan_base`` reads one forecast run (its statistical forecast and bands), applies the
team's consensus overrides, and adds prices, costs, batch sizes, line routings and available
hours: SKU x week arrays built once per run. Scenarios, capacity, the production plan and the
meeting's figures all start from it; none of them touches the database again for a lever move.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from sop_core.data.calendar import week_start
from sop_core.data.errors import InputError
from sop_core.data.stores import forecast_runs, production, sales
from sop_core.data.stores import products as product_store
from sop_core.demand.consensus import Labels, active_overrides, apply_overrides

DRIVERS = ("price_elasticity", "promo_depth", "promo_10pct", "feature", "display", "post_promotion")
BANDS = ("lower_80", "upper_80", "lower_95", "upper_95")


@dataclass
class PlanBase:
    """Everything a scenario's maths needs, as arrays: built once per forecast run."""

    run_id: int
    skus: np.ndarray
    names: np.ndarray
    families: np.ndarray
    brands: np.ndarray
    channels: np.ndarray
    weeks: np.ndarray  # datetime64[D]
    baseline: np.ndarray  # (SKUs, weeks)
    lower_80: np.ndarray
    upper_80: np.ndarray
    channel_share: np.ndarray  # (SKUs, channels)
    channel_price: np.ndarray  # (SKUs, channels): regular net price in each channel
    list_price: np.ndarray
    regular_price: np.ndarray  # average regular net price per unit
    unit_cost: np.ndarray  # variable cost + setup spread over the standard batch
    variable_cost: np.ndarray
    setup_cost: np.ndarray  # per batch
    batch_size: np.ndarray  # standard batch
    hours_per_unit: np.ndarray  # line hours per unit (0 where unknown)
    line_index: np.ndarray  # (SKUs,) index into ``lines``, -1 where none
    lines: np.ndarray
    line_names: np.ndarray
    available_hours: np.ndarray  # (lines, weeks)
    effects: dict[str, np.ndarray]  # driver -> (SKUs,), NaN where unknown
    errors: dict[str, np.ndarray]  # driver -> standard error
    max_discount_seen: np.ndarray
    price_change_seen: np.ndarray  # largest relative move of the regular price seen
    # The plan's baseline is the consensus (statistical forecast + the team's overrides);
    # these keep both per channel, exactly, and the statistical 95% band (SKUs x weeks).
    statistical_by_channel: np.ndarray | None = None
    consensus_by_channel: np.ndarray | None = None
    lower_95: np.ndarray | None = None
    upper_95: np.ndarray | None = None
    # The statistical forecast's own bands (``BANDS``), before the team's overrides moved them.
    statistical_bands: dict[str, np.ndarray] = field(default_factory=dict)
    consensus_warnings: list[str] = field(default_factory=list)
    # The range of price moves each SKU's history has seen: the lowest and highest unpromoted
    # net price relative to its regular price now, in log units (NaN where the history holds
    # no unpromoted price), and its weeks of history. None (a base built without them): the
    # range is taken as ``price_change_seen`` either way. The levers read them to say when
    # they leave what the history has seen (``sop_core.scenario.history.history_ranges``).
    price_low_seen: np.ndarray | None = None
    price_high_seen: np.ndarray | None = None
    history_weeks: np.ndarray | None = None

    @property
    def statistical(self) -> np.ndarray:
        """The statistical forecast (SKUs x weeks), before the team's overrides."""
        if self.statistical_by_channel is None:
            return self.baseline
        return self.statistical_by_channel.sum(axis=1)

    def scope_mask(self, scope: str, target: str | None) -> np.ndarray:
        """SKUs a lever applies to (for a channel scope: every SKU), read-only."""
        return self._scope(scope, target)[0]

    def scope_rows(self, scope: str, target: str | None) -> np.ndarray:
        """The row numbers of ``scope_mask``."""
        return self._scope(scope, target)[1]

    def _scope(self, scope: str, target: str | None) -> tuple[np.ndarray, np.ndarray]:
        """The mask and rows of a lever's scope, built once per scope and target asked for (a
        plan file's thousands of levers ask again and again)."""
        key = ("all", None) if scope in ("all", "channel") else (scope, target)
        cache = self.__dict__.setdefault("_scopes", {})
        if key not in cache:
            if key[0] == "all":
                mask = np.ones(len(self.skus), dtype=bool)
            else:
                values = {"family": self.families, "brand": self.brands, "sku": self.skus}[scope]
                mask = values == target
                if not mask.any():
                    raise InputError(f"There is no {scope} called {target!r}.")
            mask.setflags(write=False)
            cache[key] = (mask, np.flatnonzero(mask))
        return cache[key]

    def week_mask(self, start: dt.date | None, end: dt.date | None) -> np.ndarray:
        first = np.datetime64(start) if start else self.weeks[0]
        last = np.datetime64(end) if end else self.weeks[-1]
        return (self.weeks >= first) & (self.weeks <= last)

    def week_span(self, start: dt.date | None, end: dt.date | None) -> slice:
        """The weeks from ``start`` to ``end`` (inclusive) as a slice of the horizon; a date
        counts for the week that contains it (the slice is empty outside the horizon)."""
        spans = self.__dict__.setdefault("_week_spans", {})
        span = spans.get((start, end))
        if span is None:
            span = spans[(start, end)] = self._week_span(start, end)
        return span

    def _week_span(self, start: dt.date | None, end: dt.date | None) -> slice:
        first = np.searchsorted(self.weeks, np.datetime64(week_start(start), "D")) if start else 0
        last = (
            np.searchsorted(self.weeks, np.datetime64(week_start(end), "D"), side="right")
            if end
            else len(self.weeks)
        )
        return slice(int(first), int(max(first, last)))

    def channel_slice(self, scope: str, target: str | None) -> slice | int:
        """The channels a lever reaches: one (its index) for a channel lever, else all."""
        if scope != "channel":
            return slice(None)
        if target not in set(self.channels):
            raise InputError(f"There is no channel called {target!r}.")
        return list(self.channels).index(target)

    @functools.cached_property
    def family_index(self) -> np.ndarray:
        return np.unique(self.families, return_inverse=True)[1]

    @functools.cached_property
    def _family_groups(self) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(self.family_index, kind="stable")
        starts = np.flatnonzero(np.diff(self.family_index[order], prepend=-1))
        return order, starts

    def family_sum(self, values: np.ndarray) -> np.ndarray:
        """``values`` (SKUs x weeks) summed by family (families in sorted order)."""
        order, starts = self._family_groups
        return np.add.reduceat(values[order], starts, axis=0)

    @functools.cached_property
    def _line_groups(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        known = np.flatnonzero(self.line_index >= 0)
        order = known[np.argsort(self.line_index[known], kind="stable")]
        starts = np.flatnonzero(np.diff(self.line_index[order], prepend=-1))
        return order, starts, self.line_index[order][starts]

    def line_hours_sum(self, values: np.ndarray) -> np.ndarray:
        """``values`` (SKUs x weeks) summed by each SKU's default line (lines x weeks)."""
        total = np.zeros((len(self.lines), values.shape[1]))
        order, starts, lines = self._line_groups
        if len(order):
            total[lines] = np.add.reduceat(values[order], starts, axis=0)
        return total

    def line_hours(self, volume: np.ndarray) -> np.ndarray:
        """Line hours per line and week needed to make ``volume`` (SKUs x weeks)."""
        return self.line_hours_sum(volume * self.hours_per_unit[:, None])

    def line_units_per_hour(self) -> np.ndarray:
        """Units a line makes per available hour at its baseline mix (0 for an unused line)."""
        units = self.line_hours_sum(self.baseline).sum(axis=1)
        hours = self.baseline_hours.sum(axis=1)
        return np.divide(units, hours, out=np.zeros_like(units), where=hours > 0)

    @functools.cached_property
    def baseline_hours(self) -> np.ndarray:
        return self.line_hours(self.baseline)

    @functools.cached_property
    def baseline_by_channel(self) -> np.ndarray:
        if self.consensus_by_channel is not None:
            return self.consensus_by_channel
        return self.baseline[:, None, :] * self.channel_share[:, :, None]

    @functools.cached_property
    def revenue_base_by_channel(self) -> np.ndarray:
        return self.baseline_by_channel * self.channel_price[:, :, None]

    @functools.cached_property
    def revenue_base(self) -> np.ndarray:
        return self.revenue_base_by_channel.sum(axis=1)

    @functools.cached_property
    def weekly_price(self) -> np.ndarray:
        """Average regular price per unit of each SKU and week, at that week's channel mix."""
        price = np.divide(
            self.revenue_base,
            self.baseline,
            out=np.zeros_like(self.baseline),
            where=self.baseline > 0,
        )
        return np.where(self.baseline > 0, price, self.regular_price[:, None])

    @functools.cached_property
    def margin_base(self) -> np.ndarray:
        return (
            self.revenue_base
            - self.baseline * self.variable_cost[:, None]
            - self.setup_spend[:, None]
        )

    @functools.cached_property
    def baseline_totals(self) -> dict[str, float]:
        """The baseline's volume, revenue and margin over the horizon (every scenario's
        starting point, summed once rather than at each lever move)."""
        return {
            "baseline": float(self.baseline.sum()),
            "revenue_base": float(self.revenue_base.sum()),
            "margin_base": float(self.margin_base.sum()),
        }

    @functools.cached_property
    def setup_spend(self) -> np.ndarray:
        """Setup cost per week at the baseline's batch cadence (batches of the standard size)."""
        weekly = self.baseline.mean(axis=1)
        return np.nan_to_num(self.setup_cost * weekly / self.batch_size)


def load_plan_base(
    con: duckdb.DuckDBPyConnection,
    run_id: int,
    weeks: int | None = None,
    *,
    consensus: bool = True,
) -> PlanBase:
    """Build the arrays for the forecast run ``run_id`` (its first ``weeks`` weeks). The
    baseline is the consensus: the run's statistical forecast with the team's overrides in
    force (``consensus=False``: the statistical forecast alone)."""
    forecast = _forecast_grid(con, run_id, weeks)
    skus, all_weeks = forecast.skus, forecast.weeks
    products = product_store.planning_facts(con).reindex(skus)
    channels, share = _channel_shares(con, run_id, skus)
    list_price = products["list_price"].fillna(0.0).to_numpy(dtype=float)
    channel_price = _channel_prices(con, skus, channels, list_price)
    regular_price = (share * channel_price).sum(axis=1)
    seen = sales.price_moves_seen(con).reindex(skus)
    ranges = sales.price_ranges_seen(con).reindex(skus)
    batch = products["standard_batch_size"].to_numpy(dtype=float)
    unit_cost = products["unit_variable_cost"].fillna(0.0).to_numpy(dtype=float) + np.nan_to_num(
        products["setup_cost_per_batch"].to_numpy(dtype=float) / np.where(batch > 0, batch, np.nan)
    )
    speed = products["units_per_hour"].to_numpy(dtype=float)
    oee = products["oee"].to_numpy(dtype=float)
    hours_per_unit = np.nan_to_num(1.0 / (speed * oee), nan=0.0, posinf=0.0)
    lines, line_names, line_index, available = _lines_and_hours(
        con, products["default_line"], all_weeks
    )

    statistical = forecast.grid("forecast")
    statistical_c = statistical[:, None, :] * share[:, :, None]
    consensus_c, warnings = statistical_c, []
    statistical_bands = {name: forecast.grid(name) for name in BANDS}
    bands = dict(statistical_bands)
    overrides = active_overrides(con) if consensus else []
    baseline = statistical
    if overrides:
        labels = Labels(
            skus,
            products["family"].fillna("unassigned").to_numpy(dtype=object),
            products["brand"].fillna("unassigned").to_numpy(dtype=object),
            channels,
            all_weeks,
        )
        consensus_c, warnings = apply_overrides(statistical_c, labels, overrides)
        baseline = consensus_c.sum(axis=1)
        # The band moves with the consensus; where the statistical forecast is zero, the
        # consensus is the band.
        ratio = np.divide(baseline, statistical, out=np.ones_like(baseline), where=statistical > 0)
        bands = {
            name: np.where(statistical > 0, band * ratio, baseline)
            for name, band in statistical_bands.items()
        }
        totals = consensus_c.sum(axis=2)
        volume = totals.sum(axis=1, keepdims=True)
        share = np.divide(totals, volume, out=share.copy(), where=volume > 0)
        regular_price = (share * channel_price).sum(axis=1)
    effects, errors = _driver_effects(con, run_id, skus)

    return PlanBase(
        run_id=run_id,
        skus=skus,
        names=products["name"].fillna("").to_numpy(dtype=object),
        families=products["family"].fillna("unassigned").to_numpy(dtype=object),
        brands=products["brand"].fillna("unassigned").to_numpy(dtype=object),
        channels=channels,
        weeks=all_weeks,
        baseline=baseline,
        lower_80=bands["lower_80"],
        upper_80=bands["upper_80"],
        channel_share=share,
        channel_price=channel_price,
        list_price=list_price,
        regular_price=regular_price,
        unit_cost=unit_cost,
        variable_cost=products["unit_variable_cost"].fillna(0.0).to_numpy(dtype=float),
        setup_cost=products["setup_cost_per_batch"].fillna(0.0).to_numpy(dtype=float),
        batch_size=np.where(batch > 0, batch, np.nan),
        hours_per_unit=hours_per_unit,
        line_index=line_index,
        lines=lines,
        line_names=line_names,
        available_hours=available,
        effects=effects,
        errors=errors,
        max_discount_seen=np.nan_to_num(seen["max_discount"].to_numpy(dtype=float)),
        price_change_seen=np.nan_to_num(np.expm1(seen["price_move"].to_numpy(dtype=float))),
        statistical_by_channel=statistical_c,
        consensus_by_channel=consensus_c,
        lower_95=bands["lower_95"],
        upper_95=bands["upper_95"],
        statistical_bands=statistical_bands,
        consensus_warnings=warnings,
        price_low_seen=ranges["price_low"].to_numpy(dtype=float),
        price_high_seen=ranges["price_high"].to_numpy(dtype=float),
        history_weeks=np.nan_to_num(ranges["history_weeks"].to_numpy(dtype=float)).astype(int),
    )


@dataclass(frozen=True)
class _ForecastGrid:
    """A run's forecast rows for its first weeks, sorted by SKU and week."""

    rows: pd.DataFrame
    skus: np.ndarray
    weeks: np.ndarray  # datetime64[D]

    def grid(self, column: str) -> np.ndarray:
        """One column as SKUs x weeks."""
        return self.rows[column].to_numpy(dtype=float).reshape(len(self.skus), len(self.weeks))


def _forecast_grid(con: duckdb.DuckDBPyConnection, run_id: int, weeks: int | None) -> _ForecastGrid:
    rows = forecast_runs.forecast_bands(con, run_id)
    if rows.empty:
        raise InputError(f"Forecast run {run_id} has no rows.")
    all_weeks = np.sort(rows["week"].unique()).astype("datetime64[D]")
    if weeks:
        all_weeks = all_weeks[:weeks]
        rows = rows[rows["week"].isin(pd.to_datetime(all_weeks))]
    skus = np.array(sorted(rows["sku"].unique()), dtype=object)
    return _ForecastGrid(rows, skus, all_weeks)


def _channel_shares(
    con: duckdb.DuckDBPyConnection, run_id: int, skus: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The run's channels and each SKU's share of volume in them (SKUs x channels)."""
    frame = forecast_runs.channel_shares(con, run_id)
    channels = np.array(sorted(frame["channel"].unique()), dtype=object)
    share = (
        frame.pivot(index="sku", columns="channel", values="share")
        .reindex(index=skus, columns=channels)
        .fillna(0.0)
        .to_numpy()
    )
    return channels, share


def _channel_prices(
    con: duckdb.DuckDBPyConnection,
    skus: np.ndarray,
    channels: np.ndarray,
    list_price: np.ndarray,
) -> np.ndarray:
    """Regular (unpromoted) net price per SKU and channel over the last 13 weeks of history,
    the list price where a channel sold nothing at a regular price."""
    prices = sales.regular_channel_prices(con, weeks=13)
    channel_price = (
        prices.pivot(index="sku", columns="channel", values="regular_price")
        .reindex(index=skus, columns=channels)
        .to_numpy(dtype=float)
    )
    return np.where(np.isfinite(channel_price), channel_price, list_price[:, None])


def _lines_and_hours(
    con: duckdb.DuckDBPyConnection, default_lines: pd.Series, weeks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The lines, their names, each SKU's line (-1 where none) and the available hours per
    line and week (lines x weeks)."""
    frame = production.line_names(con)
    lines = frame["line"].to_numpy(dtype=object)
    line_lookup = {line: i for i, line in enumerate(lines)}
    line_index = np.array([line_lookup.get(x, -1) for x in default_lines])
    hours = production.available_hours(con, weeks[0].astype(object), len(weeks))
    available = (
        hours.pivot(index="line", columns="week", values="available_hours")
        .reindex(index=lines, columns=pd.to_datetime(weeks))
        .fillna(0.0)
        .to_numpy()
    )
    return lines, frame["name"].to_numpy(dtype=object), line_index, available


def _driver_effects(
    con: duckdb.DuckDBPyConnection, run_id: int, skus: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each driver's estimate and standard error per SKU (NaN where unknown)."""
    drivers = forecast_runs.driver_effects(con, run_id)
    effects, errors = {}, {}
    for driver in DRIVERS:
        subset = drivers[drivers["driver"] == driver].set_index("sku").reindex(skus)
        effects[driver] = subset["estimate"].to_numpy(dtype=float)
        errors[driver] = subset["standard_error"].to_numpy(dtype=float)
    return effects, errors
