"""Forecast accuracy by lag: past forecast runs against what was then sold.

Every stored run (the newest per ``history_end``) forecast some weeks that have since closed.
``lag_frame`` lines those forecasts up with the actuals and a seasonal naive forecast, one row
per origin, SKU, channel and week. The other functions score a scope (the whole company, a
family, a brand, a channel or a SKU) from that frame:

- the scope's series is summed over its SKUs and channels per (origin, week) before any error
  is taken, so errors that cancel within a family do not count against the family;
- WAPE = sum |F - A| / sum A, bias = sum (F - A) / sum A (positive: over-forecast);
- MASE as ``sop_core.forecast.metrics`` defines it: mean over (origin, week) of |F - A| / scale,
  the scale being the in-sample MAE of the seasonal naive, mean |y_t - y_{t-52}|, of the
  scope's summed weekly history up to and including that origin (what the forecaster could
  have known). Pairs whose origin has no scale (52 weeks of history or fewer, or a series
  that repeats itself exactly) are left out of MASE only;
- a zero denominator (no units sold, no scale) gives NaN, never an error.

The MASE scales come from the history in one of two forms: ``history_frame`` (every weekly
sales row, summed and scaled here in pandas: the definition, kept for small databases and
tests) or ``history_scales`` (every scope's scales at the scored origins, summed and scaled in
DuckDB by ``sales.seasonal_naive_scales``: what the dashboard and the CLI use, since at 20,000
SKUs the history is 9 million rows). Both give the same numbers; every function taking
``history`` takes either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from sop_core.data.errors import InputError
from sop_core.data.stores import forecast_runs, sales
from sop_core.demand.consensus import LEVELS
from sop_core.forecast import metrics
from sop_core.forecast.metrics import SEASON

FORECASTS = ("statistical", "consensus")

LAG_COLUMNS = [
    "origin",
    "run_id",
    "lag",
    "sku",
    "family",
    "brand",
    "channel",
    "week",
    "actual",
    "statistical",
    "naive",
    "consensus",
    "price",
    "model",
]
HISTORY_COLUMNS = ["week", "sku", "family", "brand", "channel", "units"]
LAG_METRICS = ["lag", "wape", "bias", "mase", "naive_wape", "naive_bias", "naive_mase", "weeks"]
SKU_METRICS = [
    "sku",
    "family",
    "brand",
    "model",
    "wape",
    "bias",
    "mase",
    "naive_wape",
    "error_units",
    "impact",
    "weeks",
]
VALUE_ADDED_COLUMNS = ["step", "wape", "bias", "mase", "weeks", "wape_gain_vs_previous"]


def lag_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every stored run's forecast of a closed week next to what was sold.

    Only the newest run per ``history_end`` counts, and only weeks up to the last week of
    ``sales_history``. One row per (origin, SKU, channel, week).

    Returns
    -------
    DataFrame
        ``origin`` (the run's ``history_end``), ``run_id``, ``lag`` (weeks after the origin; the
        first forecast week is lag 1), ``sku``, ``family``, ``brand``, ``channel``, ``week``,
        ``actual`` (units sold, 0 without a sales row), ``statistical`` (the run's SKU forecast
        times its channel share), ``naive`` (units of the same SKU and channel 52 weeks earlier,
        104 for lags over 52, so never after the origin; NaN before the SKU's first week),
        ``consensus`` (equal to ``statistical`` here), ``price`` (units-weighted average net
        price over the history, else the list price) and ``model`` (serving the SKU in that
        run). Empty, with these columns, when no forecast week has closed yet.
    """
    frame = forecast_runs.closed_week_forecasts(con, SEASON)
    frame["lag"] = frame["lag"].astype("int64")
    frame["run_id"] = frame["run_id"].astype("int64")
    for column in ("actual", "statistical", "naive", "consensus", "price"):
        frame[column] = frame[column].astype("float64")
    return frame[LAG_COLUMNS]


def with_consensus(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (``lag_frame``) with its ``consensus`` column filled in: each origin's
    statistical forecast with the overrides in force in that planning cycle (made in it or
    before, not undone by then), applied as the Demand review applies them."""
    from sop_core.demand.consensus import Labels, active_overrides, apply_overrides

    frame = frame.copy()
    for origin, rows in frame.groupby("origin", sort=False):
        overrides = active_overrides(con, cycle=pd.Timestamp(origin).date())
        if not overrides:
            continue
        skus, i = np.unique(rows["sku"].to_numpy(dtype=object), return_inverse=True)
        channels, j = np.unique(rows["channel"].to_numpy(dtype=object), return_inverse=True)
        weeks, k = np.unique(rows["week"].to_numpy("datetime64[D]"), return_inverse=True)
        first = rows.groupby("sku")[["family", "brand"]].first().reindex(skus)
        statistical = np.zeros((len(skus), len(channels), len(weeks)))
        statistical[i, j, k] = rows["statistical"].to_numpy(dtype=float)
        labels = Labels(
            skus,
            first["family"].to_numpy(dtype=object),
            first["brand"].to_numpy(dtype=object),
            channels,
            weeks,
        )
        consensus, _ = apply_overrides(statistical, labels, overrides)
        frame.loc[rows.index, "consensus"] = consensus[i, j, k]
    return frame


HISTORY_EMPTY = pd.DataFrame(
    {
        "week": pd.Series(dtype="datetime64[us]"),
        **{column: pd.Series(dtype="object") for column in ("sku", "family", "brand", "channel")},
        "units": pd.Series(dtype="float64"),
    }
)
"""``history_frame``'s columns with no row."""


def history_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The weekly sales history with product attributes, the input of the MASE scale.

    Returns ``week, sku, family, brand, channel, units``.
    """
    frame = sales.units_by_sku_channel(con)
    frame["units"] = frame["units"].astype("float64")
    return frame[HISTORY_COLUMNS]


@dataclass(frozen=True)
class HistoryScales:
    """Every scope's MASE scale at some origins, from ``history_scales``: what the accuracy
    functions read instead of the whole history (``sales.seasonal_naive_scales``).

    ``scopes``: ``level, value, origin, scale``, a scope's own scale (``value`` empty for
    ``total``); ``skus``: ``sku, family, brand, origin`` and the SKU's scale within the scope
    of each level, ``in_sku`` (its own), ``in_total``, ``in_family``, ``in_brand``; ``in_channel``:
    ``channel, sku, origin, scale``, a SKU's scale within a channel, where it has one."""

    scopes: pd.DataFrame
    skus: pd.DataFrame
    in_channel: pd.DataFrame
    origins: frozenset

    def scales(
        self, level: str, value: str | None, origins: np.ndarray, keys: list[str]
    ) -> pd.DataFrame:
        """As ``_scales`` on the scope's rows of the history: ``keys..., origin, scale``
        (per SKU only the SKUs that have a scale)."""
        origins = np.asarray(origins)
        wanted = pd.to_datetime(pd.Index(origins)).as_unit("ns")
        missing = set(wanted) - self.origins
        if missing:
            raise ValueError(f"no scales were computed at {min(missing).date()}")
        value = "" if level == "total" else value
        columns = [*keys, "origin", "scale"]
        scopes = self.scopes
        own = scopes[(scopes["level"] == level) & (scopes["value"] == value)]
        if own.empty or len(origins) == 0:
            empty = {key: pd.Series(dtype="object") for key in keys}
            return pd.DataFrame({**empty, "origin": origins[:0], "scale": []})[columns]
        if not keys:
            rows = own[["origin", "scale"]]
        elif level == "channel":
            rows = self.in_channel[self.in_channel["channel"] == value]
        else:
            skus = self.skus
            chosen = skus if level == "total" else skus[skus[level] == value]
            rows = chosen[["sku", "origin", f"in_{level}"]].rename(columns={f"in_{level}": "scale"})
        if keys:
            rows = rows[rows["scale"].notna()]
        # At the asked origins, in their order and of their type.
        at = pd.DataFrame({"origin": origins, "_at": wanted})
        rows = rows.rename(columns={"origin": "_at"})[[*keys, "_at", "scale"]]
        result = at.merge(rows, on="_at", how="inner" if keys else "left", sort=False)
        return result[columns].reset_index(drop=True)


def history_scales(con: duckdb.DuckDBPyConnection, origins: Iterable) -> HistoryScales:
    """Every scope's MASE scale at ``origins`` (the ``origin`` values of a ``lag_frame``),
    computed in DuckDB: what ``accuracy_by_lag``, ``accuracy_by_sku``, ``value_added`` and
    ``seasonal_naive_scale`` take as ``history`` instead of ``history_frame`` (the same
    numbers, without reading the weekly rows into pandas)."""
    wanted = pd.to_datetime(pd.Index(list(origins))).unique().as_unit("ns")
    rows = sales.seasonal_naive_scales(con, [o.date() for o in wanted], SEASON)
    rows["origin"] = pd.to_datetime(rows["origin"]).astype("datetime64[ns]")
    for column in ("scale", "in_total", "in_family", "in_brand"):
        rows[column] = rows[column].astype("float64")
    own = rows["sku"].isna()
    scopes = rows.loc[own, ["level", "value", "origin", "scale"]].reset_index(drop=True)
    skus = (
        rows.loc[own & (rows["level"] == "sku")]
        .drop(columns="sku")
        .rename(columns={"value": "sku", "scale": "in_sku"})
    )[["sku", "family", "brand", "origin", "in_sku", "in_total", "in_family", "in_brand"]]
    in_channel = rows.loc[~own].rename(columns={"value": "channel"})
    return HistoryScales(
        scopes,
        skus.reset_index(drop=True),
        in_channel[["channel", "sku", "origin", "scale"]].reset_index(drop=True),
        frozenset(wanted),
    )


def scope_values(history: pd.DataFrame | HistoryScales, level: str) -> set:
    """The families, brands, channels or SKUs the sales history has (``level``)."""
    if isinstance(history, HistoryScales):
        scopes = history.scopes
        return set(scopes.loc[scopes["level"] == level, "value"])
    return set(history[level].dropna())


def seasonal_naive_scale(
    history: pd.DataFrame | HistoryScales,
    origins: Iterable,
    level: str = "total",
    value: str | None = None,
) -> pd.Series:
    """The MASE scale of a scope at each origin.

    The scope's units are summed per week (weeks without a row inside its life count as 0);
    the scale at an origin is ``metrics.seasonal_naive_scales`` at that week: the mean
    |y_t - y_{t-52}| over the weeks up to and including the origin. NaN where there is no such
    pair or the mean is 0.

    Parameters
    ----------
    history
        ``history_frame`` output (at least ``week, sku, channel, units`` and the level column),
        or ``history_scales`` output computed at these origins.
    origins
        Forecast origins (week keys).
    level, value
        The scope, as in ``accuracy_by_lag``.

    Returns
    -------
    Series
        Scale indexed by origin.
    """
    _check_scope(level, value)
    origins = pd.to_datetime(pd.Index(list(origins))).unique().to_numpy()
    scales = _scope_scales(history, level, value, origins, [])
    return scales.set_index("origin")["scale"]


def accuracy_by_lag(
    frame: pd.DataFrame,
    history: pd.DataFrame | HistoryScales,
    level: str = "total",
    value: str | None = None,
    lags: Iterable[int] | None = None,
    forecast: str = "statistical",
) -> pd.DataFrame:
    """Accuracy of a scope by forecast lag, next to the seasonal naive forecast.

    Parameters
    ----------
    frame
        ``lag_frame`` output.
    history
        ``history_frame`` or ``history_scales`` output: the MASE scale is taken on the
        scope's summed history.
    level
        ``total``, ``family``, ``brand``, ``channel`` or ``sku``.
    value
        The family, brand, channel or SKU (ignored for ``total``).
    lags
        Lags to keep (default: all).
    forecast
        ``statistical`` or ``consensus``.

    Returns
    -------
    DataFrame
        One row per lag: ``lag, wape, bias, mase, naive_wape, naive_bias, naive_mase, weeks``
        (``weeks``: origin-week pairs scored). The forecast is scored on every cell; the naive
        metrics only on cells that have a naive value (a SKU younger than a year has none), with
        the actuals of those same cells.
    """
    _check_scope(level, value)
    _check_forecast(forecast)
    cells = _in_scope(frame, level, value)
    if lags is not None:
        cells = cells[cells["lag"].isin(list(lags))]
    if cells.empty:
        return pd.DataFrame(columns=LAG_METRICS)
    # (origin, lag) names one week of one run: the pair every error is taken on.
    pairs = _pairs(cells, ["lag", "origin"], forecast)
    scales = _scope_scales(history, level, value, pairs["origin"].unique(), [])
    pairs = pairs.merge(scales, on="origin", how="left")
    result = _score(pairs, ["lag"]).reset_index()
    return result[LAG_METRICS].sort_values("lag", ignore_index=True)


def accuracy_by_sku(
    frame: pd.DataFrame,
    history: pd.DataFrame | HistoryScales,
    lag: int | None = None,
    level: str = "total",
    value: str | None = None,
    forecast: str = "statistical",
) -> pd.DataFrame:
    """The exception list: accuracy per SKU, biggest business impact first.

    Each SKU's series is summed over the scope's channels per (origin, week) before errors are
    taken (with ``level="channel"`` only that channel counts).

    Parameters
    ----------
    frame, history
        ``lag_frame`` output, and ``history_frame`` or ``history_scales`` output.
    lag
        Score only this lag (default: every lag, each origin-week pair once).
    level, value
        Scope filter, as in ``accuracy_by_lag``.
    forecast
        ``statistical`` or ``consensus``.

    Returns
    -------
    DataFrame
        ``sku, family, brand, model`` (of the latest origin), ``wape, bias, mase, naive_wape``,
        ``error_units`` (sum |F - A|), ``impact`` (``error_units`` x the SKU's price) and
        ``weeks``, sorted by ``impact`` descending.
    """
    _check_scope(level, value)
    _check_forecast(forecast)
    cells = _in_scope(frame, level, value)
    if lag is not None:
        cells = cells[cells["lag"] == lag]
    if cells.empty:
        return pd.DataFrame(columns=SKU_METRICS)
    pairs = _pairs(cells, ["sku", "origin", "lag"], forecast)
    scales = _scope_scales(history, level, value, pairs["origin"].unique(), ["sku"])
    pairs = pairs.merge(scales, on=["sku", "origin"], how="left")
    scores = _score(pairs, ["sku"])
    latest = cells.loc[cells["origin"].groupby(cells["sku"]).idxmax()].set_index("sku")
    scores = scores.join(latest[["family", "brand", "model", "price"]])
    scores["error_units"] = scores["abs_error"]
    scores["impact"] = scores["abs_error"] * scores["price"]
    scores = scores.reset_index().sort_values(
        ["impact", "error_units"], ascending=False, na_position="last", ignore_index=True
    )
    return scores[SKU_METRICS]


def value_added(
    frame: pd.DataFrame,
    history: pd.DataFrame | HistoryScales,
    level: str = "total",
    value: str | None = None,
    lag: int | None = None,
) -> pd.DataFrame:
    """Forecast value added: does each step beat the one before it?

    The steps naive -> statistical -> consensus are scored on the same cells (those with a
    naive value), so the comparison is like for like; their WAPE can therefore differ slightly
    from ``accuracy_by_lag``, which scores the forecast on every cell.

    Parameters
    ----------
    frame, history
        ``lag_frame`` output, and ``history_frame`` or ``history_scales`` output.
    level, value
        The scope, as in ``accuracy_by_lag``.
    lag
        Score only this lag (default: every lag).

    Returns
    -------
    DataFrame
        Rows ``naive``, ``statistical``, ``consensus`` with ``step, wape, bias, mase, weeks`` and
        ``wape_gain_vs_previous`` (previous step's WAPE minus this one's; positive: this step
        made the forecast better; NaN for ``naive``).
    """
    _check_scope(level, value)
    cells = _in_scope(frame, level, value)
    if lag is not None:
        cells = cells[cells["lag"] == lag]
    cells = cells[cells["naive"].notna()]
    steps = ("naive", "statistical", "consensus")
    if cells.empty:
        empty = pd.DataFrame({"step": list(steps)})
        for column in VALUE_ADDED_COLUMNS[1:]:
            empty[column] = np.nan
        empty["weeks"] = 0
        return empty[VALUE_ADDED_COLUMNS]
    pairs = cells.groupby(["origin", "lag"], sort=False)[["actual", *steps]].sum().reset_index()
    scales = _scope_scales(history, level, value, pairs["origin"].unique(), [])
    pairs = pairs.merge(scales, on="origin", how="left")
    # Score the three steps as three copies of the pairs, one group each.
    stacked = pd.concat(
        [pairs.assign(step=step, forecast=pairs[step]) for step in steps], ignore_index=True
    ).assign(naive=np.nan, naive_actual=np.nan)
    scores = _score(stacked, ["step"]).reindex(list(steps))
    result = scores[["wape", "bias", "mase", "weeks"]].rename_axis("step").reset_index()
    result["wape_gain_vs_previous"] = result["wape"].shift(1) - result["wape"]
    return result[VALUE_ADDED_COLUMNS]


def _check_scope(level: str, value: str | None) -> None:
    if level not in LEVELS:
        raise InputError(f"Unknown level {level!r}; choose one of {', '.join(LEVELS)}.")
    if level != "total" and value is None:
        raise InputError(f"Name the {level} to score.")


def _check_forecast(forecast: str) -> None:
    if forecast not in FORECASTS:
        raise InputError(f"Unknown forecast {forecast!r}; choose one of {', '.join(FORECASTS)}.")


def _in_scope(frame: pd.DataFrame, level: str, value: str | None) -> pd.DataFrame:
    # The whole company: no copy of a frame of millions of rows.
    if level == "total":
        return frame
    return frame[frame[level] == value]


def _pairs(cells: pd.DataFrame, keys: list[str], forecast: str) -> pd.DataFrame:
    """Sum the cells per key: forecast and actual over all cells, naive (and the actual it is
    scored against) over the cells that have one."""
    work = pd.DataFrame(
        {
            **{key: cells[key] for key in keys},
            "forecast": cells[forecast],
            "actual": cells["actual"],
            "naive": cells["naive"],
            "naive_actual": cells["actual"].where(cells["naive"].notna()),
        }
    )
    return work.groupby(keys, sort=False).sum(min_count=1).reset_index()


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    # NaN where the denominator is 0 or missing, without a division warning.
    return numerator / denominator.where(denominator > 0)


def _score(pairs: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """WAPE, bias and MASE of forecast and naive per ``by`` from (key, origin, week) pairs
    with ``forecast, actual, naive, naive_actual, scale``."""
    error = pairs["forecast"] - pairs["actual"]
    naive_error = pairs["naive"] - pairs["naive_actual"]
    work = pd.DataFrame(
        {
            **{key: pairs[key] for key in by},
            "abs_error": error.abs(),
            "error": error,
            "actual": pairs["actual"],
            "scaled": metrics.scaled_errors(pairs["forecast"], pairs["actual"], pairs["scale"]),
            "naive_abs_error": naive_error.abs(),
            "naive_error": naive_error,
            "naive_actual": pairs["naive_actual"],
            "naive_scaled": metrics.scaled_errors(
                pairs["naive"], pairs["naive_actual"], pairs["scale"]
            ),
        }
    )
    grouped = work.groupby(by, sort=True)
    sums = grouped[
        ["abs_error", "error", "actual", "naive_abs_error", "naive_error", "naive_actual"]
    ].sum()
    means = grouped[["scaled", "naive_scaled"]].mean()
    return pd.DataFrame(
        {
            "wape": _ratio(sums["abs_error"], sums["actual"]),
            "bias": _ratio(sums["error"], sums["actual"]),
            "mase": means["scaled"],
            "naive_wape": _ratio(sums["naive_abs_error"], sums["naive_actual"]),
            "naive_bias": _ratio(sums["naive_error"], sums["naive_actual"]),
            "naive_mase": means["naive_scaled"],
            "abs_error": sums["abs_error"],
            "weeks": grouped.size(),
        }
    )


def _scope_scales(
    history: pd.DataFrame | HistoryScales,
    level: str,
    value: str | None,
    origins: np.ndarray,
    keys: list[str],
) -> pd.DataFrame:
    """The scope's scales per group of ``keys`` and origin, from either form of history."""
    if isinstance(history, HistoryScales):
        return history.scales(level, value, origins, keys)
    return _scales(_in_scope(history, level, value), origins, keys)


def _scales(history: pd.DataFrame, origins: np.ndarray, keys: list[str]) -> pd.DataFrame:
    """Seasonal-naive MASE scale per group of ``keys`` and origin, on each group's weekly
    series summed over its rows; columns ``keys..., origin, scale``."""
    origins = np.asarray(origins)
    columns = [*keys, "origin", "scale"]
    if history.empty or len(origins) == 0:
        return pd.DataFrame(
            {**{key: pd.Series(dtype="object") for key in keys}, "origin": origins[:0], "scale": []}
        )[columns]
    weeks = history["week"].to_numpy().astype("datetime64[D]")
    start = weeks.min()
    week_index = ((weeks - start) // np.timedelta64(7, "D")).astype(np.int64)
    n_weeks = int(week_index.max()) + 1
    if keys:
        grouped = history.groupby(keys, sort=True, dropna=False)
        group = grouped.ngroup().to_numpy()
        labels = grouped.size().index.to_frame(index=False)
    else:
        group = np.zeros(len(history), dtype=np.int64)
        labels = pd.DataFrame(index=[0])
    n_groups = len(labels)

    series = np.zeros((n_groups, n_weeks))
    np.add.at(series, (group, week_index), history["units"].to_numpy(dtype=float))
    first = np.full(n_groups, n_weeks)
    np.minimum.at(first, group, week_index)
    series[np.arange(n_weeks)[None, :] < first[:, None]] = np.nan

    running = metrics.seasonal_naive_scales(series)
    origin_days = origins.astype("datetime64[D]")
    # An origin after the history's last week has that week's scale; one before its start, none.
    column = ((origin_days - start) // np.timedelta64(7, "D")).astype(np.int64)
    column = np.minimum(column, n_weeks - 1)
    usable = column >= 0
    scale = np.full((n_groups, len(origins)), np.nan)
    scale[:, usable] = running[:, column[usable]]

    result = labels.loc[labels.index.repeat(len(origins))].reset_index(drop=True)
    result["origin"] = np.tile(origins, n_groups)
    result["scale"] = scale.ravel()
    return result[columns]
