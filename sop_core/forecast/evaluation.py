"""A holdout evaluation of the forecast engine on a company's own history (``evaluate``).

Hold out the last ``weeks`` weeks, forecast them from the history before with the engine (as
a refresh would have then: the promotions already in the ``promotions`` table for those weeks
are known, prices are held at their regular level), and score against what was sold:

- ``selected``: what the engine serves (per SKU, the backtest's choice);
- every candidate alone (``prophet``, ``theta``, ``ets``, ``seasonal_naive_adjusted``, ``gbm``,
  ``median``): the candidate serves every SKU the engine models with candidates, and the
  engine's own method the others (new, intermittent, flat SKUs), so every name is scored on
  the same SKU-weeks;
- the benchmarks: ``seasonal_naive`` (the same week a year earlier) and ``prophet_default``
  (a default-settings ``prophet.Prophet()`` per SKU on its weekly units, as other forecasting
  apps fit it).

Scores, overall and per family: WAPE = sum |F - A| / sum A, bias = sum (F - A) / sum A, and
MASE (``metrics``: each SKU's errors over its seasonal naive scale up to the cut-off, averaged
over the SKU-weeks that have a scale). Nothing is written; the database is only read.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from sop_core.data import db
from sop_core.data.errors import InputError
from sop_core.data.stores import sales
from sop_core.data.workers import stop_pool, worker_pool
from sop_core.forecast import classical, metrics
from sop_core.forecast.engine import (
    CANDIDATES,
    ForecastSettings,
    Progress,
    forecast_panel,
)
from sop_core.forecast.panel import Panel, load_panel

BENCHMARKS = ("seasonal_naive", "prophet_default")


def evaluate(
    path: Path | str,
    weeks: int = 26,
    *,
    settings: ForecastSettings | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> dict:
    """Score the engine, its candidates and the benchmarks on the last ``weeks`` weeks.

    Returns ``{"holdout_weeks", "history_end", "first_week", "last_week", "skus",
    "overall": {name: {"wape", "bias", "mase"}}, "by_family": [{"family", "skus",
    name: {...}, ...}], "models": {served model: SKUs}}``.
    """
    report = progress or (lambda fraction, message: None)
    if not 1 <= weeks <= 104:
        raise InputError(f"--holdout must be between 1 and 104 weeks (got {weeks}).")
    if not Path(path).exists():
        raise InputError(f"There is no database at {path}.")
    report(0.0, "Reading the history")
    with db.connect(path) as con:
        cutoff = holdout_cutoff(con, weeks)
        panel = load_panel(con, cutoff, weeks)
        full = load_panel(con)
    actual = _actuals(panel.skus, full, panel.history_end, weeks)

    settings = settings or ForecastSettings(horizon=weeks)
    settings = replace(settings, horizon=weeks)
    results, _ = forecast_panel(
        panel, settings, jobs=jobs, progress=lambda f, m: report(0.05 + 0.6 * f, m)
    )
    ordered = [results[row] for row in range(len(panel.skus))]
    forecasts: dict[str, np.ndarray] = {"selected": np.vstack([r.forecast.point for r in ordered])}
    for name in CANDIDATES:
        forecasts[name] = np.vstack(
            [r.candidates.get(name, r.forecast.point)[:weeks] for r in ordered]
        )
    histories = [panel.series(row)[1] for row in range(len(panel.skus))]
    forecasts["seasonal_naive"] = np.vstack([classical.seasonal_naive(h, weeks) for h in histories])
    report(0.7, f"Default Prophet on {len(histories):,} SKUs (the benchmark)")
    forecasts["prophet_default"] = np.vstack(
        default_prophet(
            [panel.series(row) for row in range(len(panel.skus))],
            weeks,
            jobs=jobs,
            progress=lambda f, m: report(0.7 + 0.28 * f, m),
        )
    )
    scales = np.array([metrics.seasonal_naive_scale(h) for h in histories])
    overall = {name: _scores(values, actual, scales) for name, values in forecasts.items()}
    by_family = []
    for family in sorted(set(panel.families)):
        rows = panel.families == family
        entry: dict = {"family": str(family), "skus": int(rows.sum())}
        for name, values in forecasts.items():
            entry[name] = _scores(values[rows], actual[rows], scales[rows])
        by_family.append(entry)
    models: dict[str, int] = {}
    for result in ordered:
        models[result.model] = models.get(result.model, 0) + 1
    report(1.0, "Done")
    return {
        "holdout_weeks": weeks,
        "history_end": str(panel.history_end),
        "first_week": str(panel.history_end + np.timedelta64(7, "D")),
        "last_week": str(panel.history_end + np.timedelta64(7 * weeks, "D")),
        "skus": len(panel.skus),
        "overall": overall,
        "by_family": by_family,
        "models": dict(sorted(models.items(), key=lambda item: -item[1])),
    }


def holdout_cutoff(con: duckdb.DuckDBPyConnection, weeks: int) -> dt.date:
    """The last week of history before a ``weeks``-week holdout, or ``InputError`` when there
    is no history or less than a year of it before the held-out weeks."""
    first, last = sales.sales_history_span(con)
    if last is None:
        raise InputError("There is no sales history to hold out.")
    cutoff = last - dt.timedelta(weeks=weeks)
    if (cutoff - first).days < 7 * 52:
        raise InputError(
            f"A {weeks}-week holdout needs a year of history before it; this history starts "
            f"{first:%d %b %Y}."
        )
    return cutoff


def _actuals(skus: np.ndarray, full: Panel, history_end: np.datetime64, weeks: int) -> np.ndarray:
    """Units sold per SKU (rows in ``skus`` order) in the ``weeks`` weeks after the cut-off;
    0 for a week without sales (and for a SKU the full history does not have)."""
    start = int(np.searchsorted(full.weeks, history_end, side="right"))
    row_of = {sku: i for i, sku in enumerate(full.skus)}
    actual = np.zeros((len(skus), weeks))
    for i, sku in enumerate(skus):
        if sku in row_of:
            values = np.nan_to_num(full.units[row_of[sku], start : start + weeks], nan=0.0)
            actual[i, : len(values)] = values
    return actual


def _scores(forecast: np.ndarray, actual: np.ndarray, scales: np.ndarray) -> dict[str, float]:
    total = float(actual.sum())
    error = forecast - actual
    scaled = metrics.scaled_errors(forecast, actual, scales[:, None])
    known = np.isfinite(scaled)
    return {
        "wape": round(float(np.abs(error).sum()) / total, 4) if total > 0 else None,
        "bias": round(float(error.sum()) / total, 4) if total > 0 else None,
        "mase": round(float(scaled[known].mean()), 4) if known.any() else None,
    }


def default_prophet(
    series: Sequence[tuple[np.ndarray, np.ndarray]],
    horizon: int,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> list[np.ndarray]:
    """A default-settings ``prophet.Prophet()`` per series (weeks, units): fit, then predict
    ``horizon`` weeks; negative forecasts are cut to 0. The benchmark every weekly forecasting
    app can run; in ``jobs`` processes for more than a few series."""
    report = progress or (lambda fraction, message: None)
    cores = os.cpu_count() or 1
    jobs = min(max(1, jobs or cores), 4 * cores)
    chunks = [list(series[i : i + 20]) for i in range(0, len(series), 20)]
    out: list[np.ndarray] = []
    if jobs <= 1 or len(series) <= 20:
        for chunk in chunks:
            out.extend(_prophet_chunk(chunk, horizon))
            report(len(out) / max(len(series), 1), f"Default Prophet: {len(out):,} SKUs")
        return out
    pool = worker_pool(jobs)
    try:
        for done, result in enumerate(pool.map(_prophet_chunk, chunks, [horizon] * len(chunks))):
            out.extend(result)
            report((done + 1) / len(chunks), f"Default Prophet: {len(out):,} SKUs")
        pool.shutdown()
    except BaseException:
        stop_pool(pool)
        raise
    return out


def _prophet_chunk(chunk: list[tuple[np.ndarray, np.ndarray]], horizon: int) -> list[np.ndarray]:
    from prophet import Prophet

    for name in ("cmdstanpy", "prophet"):
        logging.getLogger(name).disabled = True  # a line per fit otherwise
    out = []
    for weeks, units in chunk:
        if len(units) < 2:
            out.append(np.full(horizon, float(units[-1]) if len(units) else 0.0))
            continue
        frame = pd.DataFrame({"ds": pd.to_datetime(weeks), "y": units})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = Prophet()
            model.fit(frame)
            future = model.make_future_dataframe(periods=horizon, freq="7D", include_history=False)
            out.append(np.maximum(model.predict(future)["yhat"].to_numpy(), 0.0))
    return out
