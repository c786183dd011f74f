"""A global gradient-boosting forecast: one LightGBM model trained across every SKU.

(docstring to be completed)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sop_core.forecast import prophet_model
from sop_core.forecast.panel import DRIVERS, Panel, regular_price

MIN_TRAIN_WEEKS = 26
LAGS = (1, 2, 3, 4, 52)
LEVEL_WEEKS = 52
# Rolling means of the target: {lag: (window, ...)}.
ROLLING = {1: (4, 13), 51: (3,)}
FOURIER_ORDER = 3
DROPNA = False
BASELINE = False
PROMO_LIFT = True
HOLIDAY_SPLIT = False
TRAIN_WEEKS = 104
WEIGHT_POWER = 1.0
# Drivers 52 weeks earlier (what moved last year's week that the seasonal lag repeats).
YEAR_AGO_DRIVERS = ("discount_depth", "feature", "display")
REGULAR_PRICE_WEEKS = 13
PARAMS = {
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 63,
    "min_data_in_leaf": 200,
}


def _calendar(weeks: np.ndarray, first_day: np.datetime64, count: int) -> pd.DataFrame:
    """Calendar columns for ``count`` grid weeks from ``first_day``."""
    days = prophet_model.days_since_epoch(first_day + 7 * np.arange(count) * np.timedelta64(1, "D"))
    fourier = prophet_model.fourier_features(days, FOURIER_ORDER)
    holidays, names = prophet_model.holiday_features(days)
    columns = {f"yearly_{i}": fourier[:, i] for i in range(fourier.shape[1])}
    if holidays.size:
        if HOLIDAY_SPLIT:
            for j, (name, offset) in enumerate(names):
                columns[f"{name}_{offset}"] = holidays[:, j]
        else:
            columns["holiday"] = (holidays > 0).astype(float) @ (1 + np.arange(len(names)))
    dates = pd.to_datetime(first_day) + pd.to_timedelta(7 * np.arange(count), unit="D")
    columns["week_of_year"] = dates.isocalendar().week.to_numpy().astype(float)
    return pd.DataFrame(columns)


def _driver_columns(panel: Panel) -> list[int]:
    columns = []
    for i, name in enumerate(DRIVERS):
        if name == "log_price_ratio" and not panel.has_prices:
            continue
        if name != "log_price_ratio" and not panel.has_promotions:
            continue
        columns.append(i)
    return columns


def _promo_lift(
    log_units: np.ndarray,
    drivers: np.ndarray,
    first: np.ndarray,
    rows: np.ndarray,
    cut: int,
    level: np.ndarray,
) -> np.ndarray:
    """Per SKU: mean log1p(units) in promoted weeks less that in calm weeks, before ``cut``."""
    depth = drivers[rows, :cut, DRIVERS.index("discount_depth")]
    post = drivers[rows, :cut, DRIVERS.index("post_promotion")]
    alive = np.arange(cut)[None, :] >= first[rows][:, None]
    y = np.where(alive, log_units[rows, :cut], 0.0)
    promo = alive & (depth > 0)
    calm = alive & (depth == 0) & (post == 0)
    # Only the last year: the level (and season) then compare like with like.
    recent = np.arange(cut)[None, :] >= cut - 52
    promo &= recent
    calm &= recent
    with np.errstate(invalid="ignore", divide="ignore"):
        lift = (y * promo).sum(1) / promo.sum(1) - (y * calm).sum(1) / calm.sum(1)
    return np.where(promo.sum(1) > 0, lift, np.nan)


def _year_ago(
    drivers: np.ndarray, first: np.ndarray, ids: np.ndarray, ds: np.ndarray, columns: list[int]
) -> dict[str, np.ndarray]:
    back = ds - 52
    known = back >= first[ids]
    safe = np.where(known, back, 0)
    return {
        f"{DRIVERS[i]}_52": np.where(known, drivers[ids, safe, i], np.nan) for i in columns
    }


def _seasonal_base(
    log_units: np.ndarray, level: np.ndarray, first: np.ndarray, ids: np.ndarray, ds: np.ndarray
) -> np.ndarray:
    """The normalised target a year earlier, averaged over weeks 51-53 back (NaN without)."""
    total = np.zeros(len(ds))
    count = np.zeros(len(ds))
    for back in (51, 52, 53):
        src = ds - back
        known = src >= first[ids]
        total += np.where(known, log_units[ids, np.where(known, src, 0)], 0.0)
        count += known
    base = np.divide(total, count, out=np.full(len(ds), np.nan), where=count > 0)
    return base - level[ids]


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
    `horizon` for origin 0, `min(horizon, origin)` otherwise."""
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean

    n, w = panel.units.shape
    driver_cols = _driver_columns(panel)
    driver_names = [DRIVERS[i] for i in driver_cols]
    calendar = _calendar(panel.weeks, panel.weeks[0], w + horizon)
    log_units = np.log1p(np.maximum(panel.units, 0.0))
    drivers = np.nan_to_num(panel.drivers, nan=0.0)
    price = DRIVERS.index("log_price_ratio")
    depth_col = DRIVERS.index("discount_depth")
    year_ago = [DRIVERS.index(d) for d in YEAR_AGO_DRIVERS if panel.has_promotions]
    wanted = set(int(r) for r in rows)
    result: dict[int, dict[int, np.ndarray]] = {}

    for origin in origins:
        cut = w - origin
        steps = horizon if origin == 0 else min(horizon, origin)
        if steps <= 0 or cut <= 0:
            continue
        first = panel.first_index
        train_rows = np.flatnonzero(cut - first >= MIN_TRAIN_WEEKS)
        if len(train_rows) == 0:
            continue
        # Per-series level: mean log1p(units) over the last LEVEL_WEEKS before the cut.
        lo = np.maximum(first[train_rows], cut - LEVEL_WEEKS)
        level = np.array(
            [log_units[r, a:cut].mean() for r, a in zip(train_rows, lo, strict=True)]
        )
        # Future drivers for every trained series over the steps after the cut.
        future = np.zeros((len(train_rows), steps, len(DRIVERS)))
        if origin > 0:
            future[:] = drivers[train_rows, cut : cut + steps]
        elif panel.planned is not None:
            known = min(steps, panel.planned.shape[1])
            future[:, :known] = panel.planned[train_rows, :known]
        if panel.has_prices:
            for k, r in enumerate(train_rows):
                base = regular_price(
                    drivers[r, first[r] : cut, price],
                    drivers[r, first[r] : cut, depth_col],
                    REGULAR_PRICE_WEEKS,
                )
                if origin > 0:
                    shift = panel.discount_log_ratio[r, cut : cut + steps]
                elif panel.planned_discount_log_ratio is not None:
                    shift = np.zeros(steps)
                    known = min(steps, panel.planned_discount_log_ratio.shape[1])
                    shift[:known] = panel.planned_discount_log_ratio[r, :known]
                else:
                    shift = np.zeros(steps)
                future[k, :, price] = base + shift

        lengths = cut - first[train_rows]
        ids = np.repeat(train_rows, lengths)
        ds = np.concatenate([np.arange(a, cut) for a in first[train_rows]])
        frame = {
            "unique_id": ids,
            "ds": ds,
            "y": log_units[ids, ds] - np.repeat(level, lengths),
        }
        level_of = np.zeros(n)
        level_of[train_rows] = level
        base_train = _seasonal_base(log_units, level_of, first, ids, ds)
        if BASELINE:
            frame["y"] = frame["y"] - np.nan_to_num(base_train)
            frame["seasonal_base"] = base_train
        for i, name in zip(driver_cols, driver_names, strict=True):
            frame[name] = drivers[ids, ds, i]
        for name in calendar.columns:
            frame[name] = calendar[name].to_numpy()[ds]
        frame.update(_year_ago(drivers, first, ids, ds, year_ago))
        families = pd.Categorical(panel.families)
        frame["family"] = pd.Categorical.from_codes(families.codes[ids], families.categories)
        statics = ["family"]
        if PROMO_LIFT and panel.has_promotions:
            lift = _promo_lift(log_units, drivers, first, train_rows, cut, level)
            frame["promo_lift"] = np.repeat(lift, lengths)
            statics.append("promo_lift")
        df = pd.DataFrame(frame)

        model = lgb.LGBMRegressor(
            **PARAMS,
            random_state=seed,
            deterministic=True,
            force_row_wise=True,
            num_threads=threads,
            verbose=-1,
        )
        fc = MLForecast(
            models={"gbm": model},
            freq=1,
            lags=list(LAGS),
            lag_transforms={lag: [RollingMean(k) for k in ws] for lag, ws in ROLLING.items()} or None,
            num_threads=1,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prep = fc.preprocess(df, static_features=statics, dropna=DROPNA)
            if TRAIN_WEEKS:
                prep = prep[prep["ds"].to_numpy() >= cut - TRAIN_WEEKS]
            features = fc.ts.features_order_
            kwargs = {}
            if WEIGHT_POWER:
                level_of_row = level_of[prep["unique_id"].to_numpy()]
                weight = np.exp(WEIGHT_POWER * (level_of_row - level_of_row.max()))
                kwargs = {"gbm": {"sample_weight": weight / weight.mean()}}
            fc.fit_models(prep[features], prep["y"].to_numpy(), models_fit_kwargs=kwargs)

        predict_rows = np.array([r for r in train_rows if r in wanted], dtype=int)
        if len(predict_rows) == 0:
            continue
        index = {r: k for k, r in enumerate(train_rows)}
        pick = np.array([index[r] for r in predict_rows])
        fids = np.repeat(predict_rows, steps)
        fds = np.tile(np.arange(cut, cut + steps), len(predict_rows))
        xf = {"unique_id": fids, "ds": fds}
        for i, name in zip(driver_cols, driver_names, strict=True):
            xf[name] = future[pick][:, :, i].ravel()
        for name in calendar.columns:
            xf[name] = calendar[name].to_numpy()[fds]
        xf.update(_year_ago(drivers, first, fids, fds, year_ago))
        base_future = _seasonal_base(log_units, level_of, first, fids, fds)
        if BASELINE:
            xf["seasonal_base"] = base_future
        x_df = pd.DataFrame(xf)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fc.predict(steps, X_df=x_df, ids=list(predict_rows))
        values = out["gbm"].to_numpy().reshape(len(predict_rows), steps)
        if BASELINE:
            # X_df rows and the output are both ordered by (id, step).
            values = values + np.nan_to_num(base_future).reshape(len(predict_rows), steps)
        got = out["unique_id"].to_numpy().reshape(len(predict_rows), steps)[:, 0]
        for r, v in zip(got, values, strict=True):
            lvl = level[index[int(r)]]
            result.setdefault(int(r), {})[origin] = np.maximum(np.expm1(v + lvl), 0.0)
    return result
