"""A global gradient-boosting forecast: one LightGBM model trained across every SKU.

The per-SKU models (Prophet, Theta) each learn from one history of two or three years; this
one learns from all of them at once, so a SKU borrows the shape of the others: how a family's
season moves, how a promotion lifts a SKU that sells like this one, how fast sales come back
after a dip. It is one candidate of the forecast run, backtested like the others.

What it is: mlforecast's recursive pipeline with a LightGBM regressor, fitted twice: once for
the final forecast on every SKU with at least ``MIN_TRAIN_WEEKS`` of history, and once before
the earliest backtest origin for all of them; that model is brought forward through the later
origins with the weeks in between (``MLForecast.update``: its lags see them, it is not
refitted), so no forecast sees a week after its origin. In the backtest it is thus up to 26
weeks staler than the model that serves, which makes its backtest a little pessimistic
(13-week WAPE 8.8% instead of 8.5% on 1,000 SKUs) and saves two of four fits.

- Target: ``log1p(units)`` less the SKU's level (the mean of ``log1p(units)`` over its last
  ``LEVEL_WEEKS`` before the origin), so one model serves SKUs of any size; the forecast adds
  the level back. Rows are weighted by the SKU's volume (``exp(level)``): the accuracy that
  counts (WAPE, in units) is the big SKUs', and weighting by it cut the backtest WAPE by 7%.
- Features: lags 1-4 and 52 of the target and its 4- and 13-week rolling means (a recursive
  forecast feeds its own predictions back in); yearly Fourier terms (order 3) and the ISO week;
  the retail holidays of ``prophet_model.holiday_features``; the five drivers (promotion depth,
  feature, display, price ratio, post-promotion dip; left out when the data has no prices or
  no promotions); the family as a categorical; and each SKU's promotion lift over the last
  year (mean log units in promoted weeks less calm weeks), so the model knows which SKUs
  respond. Only the last ``TRAIN_WEEKS`` weeks before an origin are targets (older weeks still
  feed the lags).
- Future drivers: in a backtest the promotions that happened (they were planned ahead); for the
  final forecast the planned ones (``panel.planned``). The price ratio is held at the SKU's
  regular level (``panel.regular_price`` at the origin) moved by each discount, as the per-SKU
  models do, so the backtest does not know price changes the forecast could not have known.
- Tuning (1,000-SKU samples of 156 and 110 weeks, 13-week backtest WAPE at origins 13, 26,
  39): 63 leaves with at least 100 rows each, 80 trees at learning rate 0.12, 63 bins. Larger
  trees and volume weights mattered most (0.093 -> 0.085); more lags, last year's drivers, a
  seasonal-difference target or L1 loss did not help, and more trees at a lower rate gained
  nothing for their time.
- Cost: about 1.7 s for 1,000 SKUs x 156 weeks and four origins (0, 13, 26, 39) with two
  threads (2.8 s with a fit per origin), most of it LightGBM's training and the recursive steps;
  importing mlforecast and LightGBM takes another second the first time (they are imported
  here, not at start-up). Deterministic for a
  seed (``deterministic=True``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sop_core.forecast import prophet_model
from sop_core.forecast.panel import DRIVERS, Panel, regular_price

MIN_TRAIN_WEEKS = 26  # history before an origin for a SKU to be trained on and forecast
LEVEL_WEEKS = 52  # weeks of the per-SKU level the target is measured from
TRAIN_WEEKS = 104  # the last weeks before an origin that are targets
REGULAR_PRICE_WEEKS = 13
LAGS = (1, 2, 3, 4, 52)
ROLLING_WINDOWS = (4, 13)  # rolling means of the target, from lag 1
FOURIER_ORDER = 3
PROMO_LIFT_WEEKS = 52
TRAIN_SERIES = 10_000
"""Most SKUs the model is trained on (``_training_sample``); a larger company's SKUs are all
forecast by a model trained on this many of them. Training is most of the model's time and
grows with the rows; beyond a few thousand series it learns nothing new (docs/SCALE.md)."""
PARAMS = {
    "n_estimators": 80,
    "learning_rate": 0.12,
    "num_leaves": 63,
    "min_data_in_leaf": 100,
    "max_bin": 63,
}


def global_forecasts(
    panel: Panel,
    rows: Sequence[int],
    origins: Sequence[int],
    horizon: int,
    *,
    seed: int = 7,
    threads: int = 1,
) -> dict[int, dict[int, np.ndarray]]:
    """For each panel row in `rows` and each origin (weeks before the history's end; 0 = the
    final forecast), the point forecast in units for the weeks after that origin: length
    `horizon` for origin 0, `min(horizon, origin)` otherwise.

    Rows with fewer than ``MIN_TRAIN_WEEKS`` weeks before an origin have no forecast for it
    (they are absent from the result, or from its inner dictionary)."""
    wanted = {int(r) for r in rows}
    result: dict[int, dict[int, np.ndarray]] = {}
    if not wanted:
        return result
    w = panel.units.shape[1]
    calendar = _calendar(panel.weeks[0], w + max(horizon, 1))
    log_units = np.log1p(np.maximum(panel.units, 0.0))
    drivers = np.nan_to_num(panel.drivers, nan=0.0)
    # The final forecast has a model of its own; the backtest origins share one, trained
    # before the earliest and brought forward through the later ones (see the module).
    final = [0] if 0 in origins else []
    backtest = sorted({int(o) for o in origins if 0 < int(o) < w}, reverse=True)
    for group in (final, backtest):
        if not group:
            continue
        cut = w - group[0]
        train_rows = np.flatnonzero(cut - panel.first_index >= MIN_TRAIN_WEEKS)
        predict_rows = np.array([r for r in train_rows if r in wanted], dtype=int)
        if len(predict_rows) == 0:
            continue
        forecasts = _fit_and_forecast(
            panel,
            log_units,
            drivers,
            calendar,
            train_rows,
            predict_rows,
            [(origin, horizon if origin == 0 else min(horizon, origin)) for origin in group],
            seed,
            threads,
        )
        for origin, by_row in forecasts.items():
            for row, values in by_row.items():
                result.setdefault(row, {})[origin] = values
    return result


def _fit_and_forecast(
    panel: Panel,
    log_units: np.ndarray,
    drivers: np.ndarray,
    calendar: pd.DataFrame,
    train_rows: np.ndarray,
    predict_rows: np.ndarray,
    plan: list[tuple[int, int]],
    seed: int,
    threads: int,
) -> dict[int, dict[int, np.ndarray]]:
    """Train on every week of ``train_rows`` before the first origin of ``plan`` (``(origin,
    steps)`` pairs, origins in weeks before the end, earliest first), then for each origin
    forecast ``predict_rows`` for its ``steps`` weeks, bringing the model's series forward to
    the next origin with the weeks in between (``MLForecast.update``; never refitted)."""
    # LightGBM's OpenMP threads spin while they wait: on a machine the app, a refresh or Dask
    # workers share, its global model took 31-69 s instead of 6-8 s (docs/SCALE.md). Set
    # before the OpenMP runtime loads; the numbers do not change.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean

    n = len(panel.skus)
    first = panel.first_index
    w = panel.units.shape[1]
    cut = w - plan[0][0]
    driver_cols = _driver_columns(panel)
    # The target is measured from each SKU's level before the cut.
    level = np.zeros(n)
    for r in train_rows:
        level[r] = log_units[r, max(first[r], cut - LEVEL_WEEKS) : cut].mean()

    lengths = cut - first[train_rows]
    ids = np.repeat(train_rows, lengths)
    ds = np.concatenate([np.arange(a, cut) for a in first[train_rows]])
    frame = {"unique_id": ids, "ds": ds, "y": log_units[ids, ds] - level[ids]}
    for i in driver_cols:
        frame[DRIVERS[i]] = drivers[ids, ds, i]
    for name in calendar.columns:
        frame[name] = calendar[name].to_numpy()[ds]
    families = pd.Categorical(panel.families)
    frame["family"] = pd.Categorical.from_codes(families.codes[ids], families.categories)
    statics = ["family"]
    if panel.has_promotions:
        lift = np.full(n, np.nan)
        lift[train_rows] = _promo_lift(log_units, drivers, first, train_rows, cut)
        frame["promo_lift"] = lift[ids]
        statics.append("promo_lift")

    model = lgb.LGBMRegressor(
        **PARAMS,
        random_state=seed,
        deterministic=True,
        force_row_wise=True,
        num_threads=threads,
        verbose=-1,
    )
    pipeline = MLForecast(
        models={"gbm": model},
        freq=1,
        lags=list(LAGS),
        lag_transforms={1: [RollingMean(k) for k in ROLLING_WINDOWS]},
        num_threads=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = pipeline.preprocess(pd.DataFrame(frame), static_features=statics, dropna=False)
        prepared = prepared[
            (prepared["ds"].to_numpy() >= cut - TRAIN_WEEKS)
            & np.isin(prepared["unique_id"].to_numpy(), _training_sample(panel, train_rows, level))
        ]
        row_level = level[prepared["unique_id"].to_numpy()]
        weight = np.exp(row_level - row_level.max())
        pipeline.fit_models(
            prepared[pipeline.ts.features_order_],
            prepared["y"].to_numpy(),
            models_fit_kwargs={"gbm": {"sample_weight": weight / weight.mean()}},
        )
        out = {}
        for origin, steps in plan:
            at = w - origin
            if at > cut:  # the weeks since the last origin, as the model sees them
                ids = np.repeat(train_rows, at - cut)
                ds = np.tile(np.arange(cut, at), len(train_rows))
                pipeline.update(
                    pd.DataFrame({"unique_id": ids, "ds": ds, "y": log_units[ids, ds] - level[ids]})
                )
                cut = at
            out[origin] = _predict(
                pipeline, panel, drivers, calendar, driver_cols, predict_rows, cut, steps, origin
            )
    # A log forecast far beyond anything seen would overflow: cap at 10x the history's peak.
    peak = np.nanmax(log_units, axis=1) + np.log(10.0)
    return {
        origin: {
            int(r): np.maximum(np.expm1(np.minimum(v + level[r], peak[r])), 0.0)
            for r, v in values.items()
        }
        for origin, values in out.items()
    }


def _training_sample(panel: Panel, train_rows: np.ndarray, level: np.ndarray) -> np.ndarray:
    """The SKUs the model learns from: all of ``train_rows`` up to ``TRAIN_SERIES``; beyond,
    ``TRAIN_SERIES`` of them evenly spaced through the SKUs ordered by family and by level, so
    that every family and every size is in it as often as in the company. No random draw: the
    same data gives the same sample. Every SKU of ``train_rows`` is still forecast."""
    if len(train_rows) <= TRAIN_SERIES:
        return train_rows
    families = pd.Categorical(panel.families).codes[train_rows]
    ordered = train_rows[np.lexsort((level[train_rows], families))]
    picks = np.unique(np.linspace(0, len(ordered) - 1, TRAIN_SERIES).round().astype(int))
    return np.sort(ordered[picks])


def _predict(
    pipeline,
    panel: Panel,
    drivers: np.ndarray,
    calendar: pd.DataFrame,
    driver_cols: list[int],
    rows: np.ndarray,
    cut: int,
    steps: int,
    origin: int,
) -> dict[int, np.ndarray]:
    """The fitted pipeline's forecast of ``rows`` for ``steps`` weeks from ``cut``, on the
    target's scale (log units less the level)."""
    future = _future_drivers(panel, drivers, rows, cut, steps, origin)
    fids = np.repeat(rows, steps)
    fds = np.tile(np.arange(cut, cut + steps), len(rows))
    x_future = {"unique_id": fids, "ds": fds}
    for i in driver_cols:
        x_future[DRIVERS[i]] = future[:, :, i].ravel()
    for name in calendar.columns:
        x_future[name] = calendar[name].to_numpy()[fds]
    out = pipeline.predict(steps, X_df=pd.DataFrame(x_future), ids=list(rows))
    values = out["gbm"].to_numpy().reshape(-1, steps)
    order = out["unique_id"].to_numpy().reshape(-1, steps)[:, 0].astype(int)
    return dict(zip(order.tolist(), values, strict=True))


def _driver_columns(panel: Panel) -> list[int]:
    """The drivers the data knows: the price ratio with prices, the rest with promotions."""
    return [
        i
        for i, name in enumerate(DRIVERS)
        if (panel.has_prices if name == "log_price_ratio" else panel.has_promotions)
    ]


def _future_drivers(
    panel: Panel, drivers: np.ndarray, rows: np.ndarray, cut: int, steps: int, origin: int
) -> np.ndarray:
    """``(rows, steps, len(DRIVERS))``: the drivers of the weeks after the cut.

    A backtest knows the promotions that happened (they were planned ahead); the final
    forecast knows ``panel.planned``. The price ratio is the SKU's regular level at the cut,
    moved by each known discount.
    """
    future = np.zeros((len(rows), steps, len(DRIVERS)))
    shift = np.zeros((len(rows), steps))
    if origin > 0:
        future[:] = drivers[rows, cut : cut + steps]
        shift[:] = panel.discount_log_ratio[rows, cut : cut + steps]
    elif panel.planned is not None:
        known = min(steps, panel.planned.shape[1])
        future[:, :known] = panel.planned[rows, :known]
        if panel.planned_discount_log_ratio is not None:
            shift[:, :known] = panel.planned_discount_log_ratio[rows, :known]
    price = DRIVERS.index("log_price_ratio")
    if panel.has_prices:
        depth = DRIVERS.index("discount_depth")
        for k, r in enumerate(rows):
            start = panel.first_index[r]
            base = regular_price(
                drivers[r, start:cut, price], drivers[r, start:cut, depth], REGULAR_PRICE_WEEKS
            )
            future[k, :, price] = base + shift[k]
    else:
        future[:, :, price] = 0.0
    return np.nan_to_num(future, nan=0.0)


def _calendar(first_week: np.datetime64, count: int) -> pd.DataFrame:
    """Calendar features of ``count`` grid weeks from ``first_week``: yearly Fourier terms, the
    ISO week and one code for the holiday window a week falls in (0: none)."""
    weeks = first_week + 7 * np.arange(count) * np.timedelta64(1, "D")
    days = prophet_model.days_since_epoch(weeks)
    fourier = prophet_model.fourier_features(days, FOURIER_ORDER)
    columns = {f"yearly_{i}": fourier[:, i] for i in range(fourier.shape[1])}
    holidays, names = prophet_model.holiday_features(days)
    if names:
        columns["holiday"] = (holidays > 0).astype(float) @ (1.0 + np.arange(len(names)))
    columns["week_of_year"] = pd.DatetimeIndex(weeks).isocalendar().week.to_numpy().astype(float)
    return pd.DataFrame(columns)


def _promo_lift(
    log_units: np.ndarray, drivers: np.ndarray, first: np.ndarray, rows: np.ndarray, cut: int
) -> np.ndarray:
    """Per SKU: the mean ``log1p(units)`` of its promoted weeks less that of its calm weeks
    (no promotion, no post-promotion dip) in the ``PROMO_LIFT_WEEKS`` before ``cut``; NaN
    without a promoted week."""
    weeks = np.arange(cut)[None, :]
    alive = (weeks >= first[rows][:, None]) & (weeks >= cut - PROMO_LIFT_WEEKS)
    depth = drivers[rows, :cut, DRIVERS.index("discount_depth")]
    post = drivers[rows, :cut, DRIVERS.index("post_promotion")]
    y = np.where(alive, log_units[rows, :cut], 0.0)
    promoted = alive & (depth > 0)
    calm = alive & (depth == 0) & (post == 0)
    n_promoted, n_calm = promoted.sum(axis=1), calm.sum(axis=1)
    lift = (y * promoted).sum(axis=1) / np.maximum(n_promoted, 1) - (y * calm).sum(
        axis=1
    ) / np.maximum(n_calm, 1)
    return np.where((n_promoted > 0) & (n_calm > 0), lift, np.nan)
