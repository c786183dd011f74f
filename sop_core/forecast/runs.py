"""Forecast runs in DuckDB: refresh (or reuse), store, and read back.

A refresh reads the history, closes the database while it fits, and writes the whole run in
one transaction at the end, so the dashboard and other commands can use the file meanwhile and
a failure leaves no partial run. Same data and parameters: the stored run is returned without
refitting. Only some SKUs changed: only those are refit, the rest are taken from the previous
run with the same parameters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from sop_core.data import access, db
from sop_core.data.errors import InputError
from sop_core.data.history_files import parquet_sales_rows
from sop_core.data.stores import forecast_runs as runs_store
from sop_core.data.stores import products as product_store
from sop_core.data.stores import sales
from sop_core.forecast import prophet_model
from sop_core.forecast.classical import Forecast
from sop_core.forecast.engine import (
    BacktestSums,
    Engine,
    ForecastSettings,
    Progress,
    SkuForecast,
    forecast_panel,
)
from sop_core.forecast.panel import Panel, load_panel

# Driver effects stored per SKU: the model's regressor they come from (None: derived).
DRIVER_SOURCES = {
    "price_elasticity": "log_price_ratio",
    "promo_depth": "discount_depth",
    "promo_10pct": None,
    "feature": "feature",
    "display": "display",
    "post_promotion": "post_promotion",
}
LOG_90 = float(np.log(0.9))
# Drivers that need the SKU's own prices: without them the data cannot tell.
PRICE_DRIVERS = {"price_elasticity"}
# Bump when the engine's maths changes: stored runs of another version are not reused.
# (Prophet's version, its Stan program and our Prophet set-up are in the fingerprint too:
# ``prophet_model.identity``.)
ENGINE_VERSION = 4
# The least spread of true effects between SKUs of a family we are willing to assume: with a
# handful of noisy estimates the data cannot show the spread, and assuming none would make
# every SKU's interval as narrow as the family mean's.
MIN_FAMILY_SPREAD = {"price_elasticity": 0.25, "promo_depth": 0.25}
DEFAULT_MIN_SPREAD = 0.05


@dataclass(frozen=True)
class RunSummary:
    """What a refresh did."""

    run_id: int
    reused: bool
    skus: int
    skus_refit: int
    seconds: float
    models: dict[str, int]
    history_end: str
    # SKUs whose candidates failed: ``{"sku", "failed", "error", "served"}`` each.
    fallbacks: list[dict[str, str]] = field(default_factory=list)


def engine_identity() -> str:
    """What else than the data and settings decides a run: our engine's version, Prophet's
    version, the checksum of its Stan program and our Prophet set-up's version."""
    parts = {"engine": str(ENGINE_VERSION), **prophet_model.identity()}
    return "|".join(f"{key}={value}" for key, value in sorted(parts.items()))


def run_fingerprint(panel: Panel, settings: ForecastSettings, sku_prints: list[str]) -> str:
    digest = hashlib.sha256(f"{engine_identity()}|{settings.to_json()}".encode())
    digest.update(str(panel.history_end).encode())
    for value in sku_prints:
        digest.update(value.encode())
    return digest.hexdigest()[:32]


def refresh_forecast(
    path: Path | str,
    settings: ForecastSettings | None = None,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    on_wait: db.WaitCallback | None = None,
    reuse: bool = True,
    history_end: dt.date | None = None,
    who: str = "",
    write: str = "forecast",
    engine: str = "local",
    scheduler: str = "",
    history: Path | str | None = None,
) -> RunSummary:
    """Run the forecast for the database at ``path`` (or reuse a stored run).

    Parameters
    ----------
    settings
        Forecast settings (horizon, backtest origins, Prophet settings...).
    jobs
        Fits run at once (default: the machine's cores).
    progress
        Told ``(fraction_done, message)`` as the run goes.
    on_wait
        Told when another process holds the database.
    reuse
        Reuse stored work where data and parameters are unchanged.
    history_end
        Forecast as of this week: the history after it is left out (a past run, for
        accuracy by forecast lag).
    who, write
        Who asks (``access.require``: refused before any fitting unless they may make
        ``write``, a demand planner's ``forecast`` or the ``production_plan`` that needs it).
    engine, scheduler
        Where the regular SKUs are fitted: ``local`` (``jobs`` processes of this machine) or
        ``dask`` (the Dask cluster whose scheduler is at ``scheduler``; empty: a
        ``LocalCluster`` of ``jobs`` processes started for the run).
    history
        With ``dask``: a Parquet dataset (file, folder or glob) holding the sales history
        instead of the database's (``sop_core.data.history_files``); its workers read their
        batches' rows from it.
    """
    settings = settings or ForecastSettings()
    check_engine(engine, scheduler, history)
    if not 1 <= settings.horizon <= 104:
        raise InputError(f"--horizon must be between 1 and 104 weeks (got {settings.horizon}).")
    report = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    report(0.0, "Reading the history")
    if not Path(path).exists():
        raise InputError(f"There is no database at {path}.")
    db.ensure_schema(path, on_wait=on_wait)
    access.check(path, who, write)
    rows = None if history is None else parquet_sales_rows(history, history_end)
    with db.connect(path, on_wait=on_wait) as con:
        try:
            panel = load_panel(con, history_end, settings.horizon, rows=rows)
        except ValueError as error:
            raise InputError(str(error)) from None
        parameters = settings.to_json()
        prints = panel.fingerprints(f"{engine_identity()}|{parameters}|{panel.history_end}")
        fingerprint = run_fingerprint(panel, settings, prints)
        same = runs_store.run_with_fingerprint(con, fingerprint)
        if same is not None and reuse:
            report(1.0, "Unchanged data: reusing the stored forecast")
            return _summary(con, same, True, time.perf_counter() - started)
        # SKU fingerprints include the history's end, so only a run as of the same week can
        # lend its unchanged SKUs.
        previous = runs_store.run_with_parameters(con, parameters, str(panel.history_end))
        reused: dict[int, SkuForecast] = {}
        if previous is not None and reuse:
            reused = _load_unchanged(con, previous, panel, prints)

    with _engine(engine, scheduler, jobs, history, panel) as runner:
        results, timings = forecast_panel(
            panel, settings, jobs=jobs, reused=reused, progress=report, engine=runner
        )
    for row, result in results.items():
        result.fingerprint = prints[row]
    drivers = shrink_drivers(panel, results)
    shares = channel_shares(panel)
    report(0.97, "Saving the run")
    seconds = time.perf_counter() - started
    with access.writing(path, who, write, on_wait=on_wait) as change:
        run_id = _write_run(
            change.con,
            panel,
            settings,
            fingerprint,
            results,
            drivers,
            shares,
            reused_from=previous if reused else None,
            jobs=jobs,
            seconds=seconds,
            timings=timings,
        )
        change.record(
            "forecast run",
            f"run {run_id}",
            scope=f"as of {panel.history_end}",
            after={"skus": len(results), "horizon": settings.horizon, "reused": len(reused)},
        )
    with db.connect(path, on_wait=on_wait) as con:
        summary = _summary(con, run_id, False, time.perf_counter() - started)
    report(1.0, "Done")
    return summary


ENGINES = ("local", "dask")


def check_engine(engine: str, scheduler: str, history: Path | str | None) -> None:
    """Refuse an engine we do not have, and a scheduler or Parquet history without Dask."""
    if engine not in ENGINES:
        raise InputError(f"The forecast engine is local or dask, not {engine!r}.")
    if engine != "dask" and scheduler:
        raise InputError("A Dask scheduler address needs the dask engine (--engine dask).")
    if engine != "dask" and history is not None:
        raise InputError("A Parquet history needs the dask engine (--engine dask).")


@contextmanager
def _engine(
    engine: str, scheduler: str, jobs: int | None, history: Path | str | None, panel: Panel
) -> Iterator[Engine | None]:
    """The engine of a run: None for the local pool, a connected ``DaskEngine`` for dask."""
    if engine != "dask":
        yield None
        return
    from sop_core.forecast.cluster import DaskEngine

    with DaskEngine(scheduler, jobs, history) as runner:
        if history is not None:
            runner.panel = panel
        yield runner


def _summary(
    con: duckdb.DuckDBPyConnection, run_id: int, reused: bool, seconds: float
) -> RunSummary:
    skus, refit, history_end = runs_store.run_counts(con, run_id)
    models = runs_store.models_used(con, run_id)
    fallbacks = [
        {"sku": r.sku, "failed": r.failed_models, "error": r.failure, "served": r.model}
        for r in runs_store.run_fallbacks(con, run_id).itertuples(index=False)
    ]
    return RunSummary(
        run_id, reused, skus, 0 if reused else refit, seconds, models, str(history_end), fallbacks
    )


def channel_shares(panel: Panel, weeks: int = 13) -> pd.DataFrame:
    """Each SKU's channel shares over its last ``weeks`` (whole history if it sold nothing)."""
    recent = panel.channel_units[:, :, -weeks:].sum(axis=2)
    whole = panel.channel_units.sum(axis=2)
    use = np.where(recent.sum(axis=1, keepdims=True) > 0, recent, whole)
    total = use.sum(axis=1, keepdims=True)
    shares = np.where(total > 0, use / np.maximum(total, 1e-12), 1.0 / len(panel.channels))
    s_idx, c_idx = np.meshgrid(
        np.arange(len(panel.skus)), np.arange(len(panel.channels)), indexing="ij"
    )
    return pd.DataFrame(
        {
            "sku": panel.skus[s_idx.ravel()],
            "channel": panel.channels[c_idx.ravel()],
            "share": shares.ravel(),
        }
    )


def _raw_drivers(result: SkuForecast) -> dict[str, tuple[float, float]]:
    raw = {}
    for driver, regressor in DRIVER_SOURCES.items():
        if regressor and regressor in result.drivers:
            raw[driver] = result.drivers[regressor]
    if "price_elasticity" in raw and "promo_depth" in raw:
        (d, d_se), (e, e_se) = raw["promo_depth"], raw["price_elasticity"]
        variance = (
            0.01 * d_se**2 + LOG_90**2 * e_se**2 + 2 * 0.1 * LOG_90 * result.driver_covariance
        )
        raw["promo_10pct"] = (0.1 * d + LOG_90 * e, float(np.sqrt(max(variance, 1e-12))))
    elif "promo_depth" in raw:
        d, d_se = raw["promo_depth"]
        raw["promo_10pct"] = (0.1 * d, 0.1 * d_se)
    return raw


def shrink_drivers(panel: Panel, results: dict[int, SkuForecast]) -> pd.DataFrame:
    """Shrink each SKU's driver estimates towards its family (empirical Bayes).

    Within a family (or across all SKUs when the family has fewer than three estimates), the
    spread of true effects is estimated as the variance of the estimates minus their average
    squared standard error; each SKU's estimate is then weighted against the family mean by
    their precisions. A SKU whose driver never varied takes the family's value. Drivers the data
    does not hold at all (no prices, no promotions) stay unknown.
    """
    available = {
        "price_elasticity": panel.has_prices,
        "promo_10pct": panel.has_promotions,
        "promo_depth": panel.has_promotions,
        "feature": panel.has_promotions,
        "display": panel.has_promotions,
        "post_promotion": panel.has_promotions,
    }
    raw = {row: _raw_drivers(result) for row, result in results.items()}
    rows_out = []
    for driver in DRIVER_SOURCES:
        estimates = {row: values[driver] for row, values in raw.items() if driver in values}
        floor = MIN_FAMILY_SPREAD.get(driver, DEFAULT_MIN_SPREAD)
        pooled = _family_prior(list(estimates.values()), floor)
        by_family: dict[str, tuple[float, float, float] | None] = {}
        for family in set(panel.families):
            members = [estimates[r] for r in estimates if panel.families[r] == family]
            by_family[family] = _family_prior(members, floor) if len(members) >= 3 else pooled
        for row, result in results.items():
            priced = panel.sku_has_prices is None or bool(panel.sku_has_prices[row])
            if not available[driver] or pooled is None or (driver in PRICE_DRIVERS and not priced):
                rows_out.append((result.sku, driver, None, None, None, None, "unknown"))
                continue
            mean, spread, mean_error = by_family[panel.families[row]] or pooled
            if row in estimates:
                value, se = estimates[row]
                se = max(se, 1e-6)
                precision = 1 / se**2 + 1 / spread**2
                own_weight = (1 / se**2) / precision
                shrunk = own_weight * value + (1 - own_weight) * mean
                # The family mean is itself estimated: its error carries over in proportion.
                error = np.sqrt(1 / precision + ((1 - own_weight) * mean_error) ** 2)
                source = "sku" if own_weight >= 0.9 else "sku+family"
                rows_out.append((result.sku, driver, shrunk, error, value, se, source))
            else:
                error = np.sqrt(spread**2 + mean_error**2)
                rows_out.append((result.sku, driver, mean, error, None, None, "family"))
    return pd.DataFrame(
        rows_out,
        columns=[
            "sku",
            "driver",
            "estimate",
            "standard_error",
            "raw_estimate",
            "raw_standard_error",
            "source",
        ],
    )


def _family_prior(
    estimates: list[tuple[float, float]], floor: float
) -> tuple[float, float, float] | None:
    """Mean, spread and the mean's standard error of the true effects behind a set of
    (estimate, standard error); the spread is at least ``floor``."""
    if not estimates:
        return None
    values = np.array([e for e, _ in estimates])
    errors = np.array([s for _, s in estimates])
    spread2 = max(float(np.var(values)) - float(np.mean(errors**2)), floor**2)
    for _ in range(3):
        weights = 1 / (errors**2 + spread2)
        mean = float(np.sum(weights * values) / np.sum(weights))
        spread2 = max(
            float(np.sum(weights * ((values - mean) ** 2 - errors**2)) / np.sum(weights)),
            floor**2,
        )
    weights = 1 / (errors**2 + spread2)
    return mean, float(np.sqrt(spread2)), float(np.sqrt(1 / np.sum(weights)))


def _write_run(
    con: duckdb.DuckDBPyConnection,
    panel: Panel,
    settings: ForecastSettings,
    fingerprint: str,
    results: dict[int, SkuForecast],
    drivers: pd.DataFrame,
    shares: pd.DataFrame,
    *,
    reused_from: int | None,
    jobs: int | None,
    seconds: float,
    timings: dict[str, float],
) -> int:
    horizon = settings.horizon
    first_week = panel.history_end + np.timedelta64(7, "D")
    run_id = runs_store.insert_run(
        con,
        {
            "fingerprint": fingerprint,
            "parameters": settings.to_json(),
            "horizon": horizon,
            "history_end": str(panel.history_end),
            "first_week": str(first_week),
            "skus": len(results),
            "skus_refit": sum(r.refit for r in results.values()),
            "reused_from": reused_from,
            "jobs": jobs or os.cpu_count() or 1,
            "seconds_total": seconds,
            "seconds_models": timings.get("models", 0.0),
        },
    )
    ordered = [results[row] for row in sorted(results)]
    weeks = first_week + np.arange(horizon) * np.timedelta64(7, "D")
    rows = pd.DataFrame(
        {
            "run_id": run_id,
            "sku": np.repeat([r.sku for r in ordered], horizon),
            "week": np.tile(weeks, len(ordered)),
            **{
                name: np.concatenate([getattr(r.forecast, attr) for r in ordered])
                for name, attr in (
                    ("forecast", "point"),
                    ("lower_80", "lower_80"),
                    ("upper_80", "upper_80"),
                    ("lower_95", "lower_95"),
                    ("upper_95", "upper_95"),
                )
            },
            "model": np.repeat([r.model for r in ordered], horizon),
        }
    )
    models = pd.DataFrame(
        [
            (
                run_id,
                r.sku,
                r.series_type,
                r.model,
                r.reason,
                r.fingerprint,
                r.history_weeks,
                r.refit,
                ", ".join(r.failures) or None,
                "; ".join(f"{m}: {e}" for m, e in r.failures.items()) or None,
            )
            for r in ordered
        ],
        columns=[
            "run_id",
            "sku",
            "series_type",
            "model",
            "reason",
            "fingerprint",
            "history_weeks",
            "refit",
            "failed_models",
            "failure",
        ],
    )
    backtests = pd.DataFrame(
        [
            (
                run_id,
                r.sku,
                model,
                h,
                s.origins,
                s.weeks,
                s.actual_sum,
                s.abs_error_sum,
                s.error_sum,
                s.scaled_abs_error_sum,
                s.scaled_weeks,
            )
            for r in ordered
            for (model, h), s in r.backtest.items()
        ],
        columns=[
            "run_id",
            "sku",
            "model",
            "horizon",
            "origins",
            "weeks",
            "actual_sum",
            "abs_error_sum",
            "error_sum",
            "scaled_abs_error_sum",
            "scaled_weeks",
        ],
    )
    runs_store.insert_run_frames(
        con,
        {
            "forecast_rows": rows,
            "forecast_models": models,
            "backtest_results": backtests,
            "driver_effects": drivers.assign(run_id=run_id),
            "forecast_channel_shares": shares.assign(run_id=run_id),
        },
    )
    return run_id


def _load_unchanged(
    con: duckdb.DuckDBPyConnection, run_id: int, panel: Panel, prints: list[str]
) -> dict[int, SkuForecast]:
    """Results of SKUs whose fingerprint matches the earlier run ``run_id``."""
    models = runs_store.sku_models(con, run_id)
    row_of = {sku: i for i, sku in enumerate(panel.skus)}
    unchanged = models[
        [
            prints[row_of[s]] == f if s in row_of else False
            for s, f in zip(models["sku"], models["fingerprint"], strict=True)
        ]
    ]
    if unchanged.empty:
        return {}
    skus = unchanged["sku"].tolist()
    rows = runs_store.run_rows(con, run_id, skus)
    drivers = runs_store.raw_driver_estimates(con, run_id, skus)
    backtests = runs_store.backtest_rows(con, run_id, skus=skus)
    by_sku_rows = dict(tuple(rows.groupby("sku")))
    by_sku_drivers = dict(tuple(drivers.groupby("sku")))
    by_sku_backtests = dict(tuple(backtests.groupby("sku")))
    reverse = {driver: regressor for driver, regressor in DRIVER_SOURCES.items() if regressor}
    loaded = {}
    for record in unchanged.itertuples(index=False):
        frame = by_sku_rows.get(record.sku)
        if frame is None:
            continue
        forecast = Forecast(
            *(
                frame[c].to_numpy()
                for c in ("forecast", "lower_95", "lower_80", "upper_80", "upper_95")
            )
        )
        effects = {}
        covariance = 0.0
        driver_rows = by_sku_drivers.get(record.sku)
        if driver_rows is not None:
            values = {
                d: (e, s)
                for d, e, s in zip(
                    driver_rows["driver"],
                    driver_rows["raw_estimate"],
                    driver_rows["raw_standard_error"],
                    strict=True,
                )
            }
            effects = {reverse[d]: v for d, v in values.items() if d in reverse}
            covariance = _covariance_back(values)
        backtest = {}
        bt = by_sku_backtests.get(record.sku)
        if bt is not None:
            for b in bt.itertuples(index=False):
                backtest[(b.model, int(b.horizon))] = BacktestSums(
                    int(b.origins),
                    int(b.weeks),
                    b.actual_sum,
                    b.abs_error_sum,
                    b.error_sum,
                    b.scaled_abs_error_sum or 0.0,
                    int(b.scaled_weeks),
                )
        loaded[row_of[record.sku]] = SkuForecast(
            sku=record.sku,
            series_type=record.series_type,
            model=record.model,
            reason=record.reason,
            history_weeks=int(record.history_weeks),
            forecast=forecast,
            drivers=effects,
            driver_covariance=covariance,
            backtest=backtest,
            fingerprint=record.fingerprint,
            refit=False,
            failures=_failures_back(record.failed_models, record.failure),
        )
    return loaded


def _failures_back(failed: str | None, failure: str | None) -> dict[str, str]:
    """A stored SKU's failures as ``SkuForecast.failures``."""
    if not isinstance(failed, str) or not failed:
        return {}
    errors = dict(part.split(": ", 1) for part in (failure or "").split("; ") if ": " in part)
    return {model: errors.get(model, "") for model in failed.split(", ")}


def _covariance_back(values: dict[str, tuple[float, float]]) -> float:
    """Recover cov(promo_depth, price_elasticity) from the stored promo_10pct variance."""
    if not {"promo_depth", "price_elasticity", "promo_10pct"} <= set(values):
        return 0.0
    d_se, e_se, p_se = (values[k][1] for k in ("promo_depth", "price_elasticity", "promo_10pct"))
    return (p_se**2 - 0.01 * d_se**2 - LOG_90**2 * e_se**2) / (2 * 0.1 * LOG_90)


def latest_run(con: duckdb.DuckDBPyConnection) -> int | None:
    """The current forecast run (the newest of those on the latest history), or None."""
    return runs_store.latest_run_id(con)


def backfill_runs(
    path: Path | str,
    count: int,
    step: int = 2,
    settings: ForecastSettings | None = None,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    on_wait: db.WaitCallback | None = None,
    who: str = "",
    engine: str = "local",
    scheduler: str = "",
) -> list[RunSummary]:
    """Make the runs a weekly forecasting routine would have stored: one as of ``step``,
    ``2 * step``, ... ``count * step`` weeks before the end of the history (runs already
    stored are reused). Accuracy by forecast lag compares them with what was then sold."""
    if not 1 <= count <= 52 or not 1 <= step <= 13:
        raise InputError(
            f"Backfill between 1 and 52 runs, 1 to 13 weeks apart (got {count}, {step})."
        )
    report = progress or (lambda fraction, message: None)
    with db.connect(path, on_wait=on_wait) as con:
        last = sales.last_history_week(con)
    if last is None:
        raise InputError("There is no sales history to forecast.")
    summaries = []
    for index in range(count):
        as_of = last - dt.timedelta(weeks=step * (count - index))

        def told(fraction: float, message: str, index: int = index, as_of=as_of) -> None:
            report(
                (index + fraction) / count,
                f"Run {index + 1} of {count} (as of {as_of:%d %b %Y}): {message}",
            )

        summaries.append(
            refresh_forecast(
                path,
                settings,
                jobs=jobs,
                progress=told,
                on_wait=on_wait,
                history_end=as_of,
                who=who,
                engine=engine,
                scheduler=scheduler,
            )
        )
    report(1.0, "Done")
    return summaries


def forecast_frame(con: duckdb.DuckDBPyConnection, run_id: int) -> pd.DataFrame:
    """A run's rows with the CLI's columns: sku, week, forecast, lower_80, upper_80, lower_95,
    upper_95, model."""
    return runs_store.forecast_frame(con, run_id)


def backtest_report(con: duckdb.DuckDBPyConnection, run_id: int, horizon: int) -> dict:
    """``{"overall": {model: {wape, bias, mase, skus}}, "per_sku": [...]}`` for one horizon."""
    frame = runs_store.backtest_rows(con, run_id, horizon=horizon)
    if frame.empty:
        stored = runs_store.backtest_horizons(con, run_id)
        raise InputError(
            f"No backtest for a {horizon}-week horizon in forecast run {run_id}"
            + (
                f"; stored horizons: {', '.join(map(str, stored))}."
                if stored
                else " (no SKU has enough history for a backtest)."
            )
        )
    # Compare models on the SKUs every model was tested on.
    common = set.intersection(*(set(g["sku"]) for _, g in frame.groupby("model")))
    frame = frame[frame["sku"].isin(common)]
    overall = {}
    for model, group in frame.groupby("model"):
        actual = group["actual_sum"].sum()
        overall[model] = {
            "wape": round(float(group["abs_error_sum"].sum() / actual), 4),
            "bias": round(float(group["error_sum"].sum() / actual), 4),
            "mase": _ratio(group["scaled_abs_error_sum"].sum(), group["scaled_weeks"].sum()),
            "skus": int(group["sku"].nunique()),
        }
    per_sku = []
    for sku, group in frame.groupby("sku"):
        entry: dict = {"sku": sku}
        for row in group.itertuples(index=False):
            entry[row.model] = {
                "wape": round(row.abs_error_sum / row.actual_sum, 4) if row.actual_sum else None,
                "bias": round(row.error_sum / row.actual_sum, 4) if row.actual_sum else None,
                "mase": _ratio(row.scaled_abs_error_sum, row.scaled_weeks),
            }
        per_sku.append(entry)
    served = runs_store.served_models(con, run_id)
    for entry in per_sku:
        entry["served_by"] = served.get(entry["sku"])
    return {"run_id": run_id, "horizon": horizon, "overall": overall, "per_sku": per_sku}


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(float(numerator / denominator), 4) if denominator else None


def driver_report(con: duckdb.DuckDBPyConnection, run_id: int) -> list[dict]:
    """Per SKU: price elasticity, promotion uplift per 10% discount, feature and display
    uplift (full support), each with its 95% interval and where it comes from (``sku``,
    ``sku+family`` or ``family``), the post-promotion dip and how sure we are. ``None`` where the
    data cannot tell."""
    effects = runs_store.driver_effects(con, run_id)
    products = product_store.product_groups(con)["family"]
    promoted = sales.promoted_weeks(con)
    report = []
    for sku, group in effects.groupby("sku", sort=True):
        values = {r.driver: r for r in group.itertuples(index=False)}
        elasticity, e_se, e_raw_se, e_source = _effect(values, "price_elasticity")
        promo, p_se, p_raw_se, p_source = _effect(values, "promo_10pct")
        feature, f_se, _, f_source = _effect(values, "feature")
        display, d_se, _, d_source = _effect(values, "display")
        post = _effect(values, "post_promotion")[0]
        report.append(
            {
                "sku": sku,
                "family": products.get(sku),
                "price_elasticity": _round(elasticity),
                "price_elasticity_lower": _round(_shift(elasticity, -1.96, e_se)),
                "price_elasticity_upper": _round(_shift(elasticity, 1.96, e_se)),
                "price_elasticity_source": e_source,
                "promo_uplift_per_10pct_discount": _round(_uplift(promo)),
                "promo_uplift_lower": _round(_uplift(_shift(promo, -1.96, p_se))),
                "promo_uplift_upper": _round(_uplift(_shift(promo, 1.96, p_se))),
                "promo_uplift_source": p_source,
                "feature_uplift": _round(_uplift(feature)),
                "display_uplift": _round(_uplift(display)),
                "feature_uplift_lower": _round(_uplift(_shift(feature, -1.96, f_se))),
                "feature_uplift_upper": _round(_uplift(_shift(feature, 1.96, f_se))),
                "feature_uplift_source": f_source,
                "display_uplift_lower": _round(_uplift(_shift(display, -1.96, d_se))),
                "display_uplift_upper": _round(_uplift(_shift(display, 1.96, d_se))),
                "display_uplift_source": d_source,
                "post_promo_dip_after_25pct": _round(
                    None if post is None else -float(np.expm1(0.25 * post))
                ),
                "promoted_weeks": int(promoted.get(sku, 0)),
                "confidence": _confidence(e_raw_se, p_raw_se),
            }
        )
    return report


def _effect(values: dict, driver: str) -> tuple[float | None, float | None, float | None, str]:
    """(estimate, standard error, the SKU's own standard error, source) of one driver."""
    row = values.get(driver)
    if row is None or row.estimate is None or pd.isna(row.estimate):
        return None, None, None, row.source if row is not None else "unknown"
    raw_se = None if pd.isna(row.raw_standard_error) else float(row.raw_standard_error)
    return float(row.estimate), float(row.standard_error), raw_se, row.source


def _shift(value: float | None, z: float, error: float | None) -> float | None:
    return None if value is None or error is None else value + z * error


def _uplift(log_effect: float | None) -> float | None:
    return None if log_effect is None else float(np.expm1(log_effect))


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def _confidence(elasticity_se: float | None, promo_se: float | None) -> str:
    """How sure the SKU's own history makes us, in words, from the standard errors of its own
    estimates of the two main effects (``family`` when it has none: the family's values)."""
    if elasticity_se is None and promo_se is None:
        return "family"
    worst = max(elasticity_se or 0.0, 5 * (promo_se or 0.0))
    return "high" if worst <= 0.25 else "medium" if worst <= 0.5 else "low"
