"""The forecast refresh: every SKU's baseline, its driver effects and a backtest, in one run.

For each SKU the history decides the method:

- ``regular`` (a year or more of steady sales): Prophet with promotion and price drivers, and
  two challengers (statsforecast's Theta on the history with the estimated promotion and price
  effects taken out, and their ``ensemble``). A rolling-origin backtest (origins 13, 26, 39
  and 52 weeks before the end; 13- and 26-week horizons) picks the one that serves the SKU;
  classic seasonal naive is reported beside them as the benchmark.
- ``new`` (under a year): ``family_share``, the family's forecast shape at the SKU's recent
  level (``recent_mean`` when the family has nothing to lend).
- ``intermittent`` (many weeks without sales): ``croston_sba``.
- ``zero`` and ``flat`` series: their obvious forecast.
- a Prophet failure falls back to Theta (or seasonal naive), and says so.

The baseline is the forecast with no future promotion and prices at the SKU's recent regular
level. Prophet fits run as separate processes (Prophet's Stan program), ``jobs`` at a time.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sop_core.forecast import classical, prophet_model
from sop_core.forecast.classical import QUANTILES, Forecast
from sop_core.forecast.panel import DRIVERS, Panel
from sop_core.forecast.prophet_model import ProphetSettings

Progress = Callable[[float, str], None]

SERIES_TYPES = ("regular", "new", "intermittent", "zero", "flat")
CANDIDATES = ("prophet", "theta", "ensemble")
PROMOTION_DRIVERS = ("discount_depth", "feature", "display", "post_promotion")


@dataclass(frozen=True)
class ForecastSettings:
    """What a forecast run does; part of its fingerprint."""

    horizon: int = 26
    backtest_origins: tuple[int, ...] = (13, 26, 39, 52)
    backtest_horizons: tuple[int, ...] = (13, 26)
    selection_horizon: int = 13
    min_model_weeks: int = 52
    intermittent_zero_share: float = 0.3
    regular_price_weeks: int = 13
    seed: int = 7
    prophet: ProphetSettings = field(default_factory=ProphetSettings)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class BacktestSums:
    """Errors of one model for one SKU and horizon, summed over origins."""

    origins: int = 0
    weeks: int = 0
    actual_sum: float = 0.0
    abs_error_sum: float = 0.0
    error_sum: float = 0.0
    scaled_abs_error_sum: float = 0.0

    def add(self, actual: np.ndarray, forecast: np.ndarray, scale: float) -> None:
        error = forecast - actual
        self.origins += 1
        self.weeks += len(actual)
        self.actual_sum += float(actual.sum())
        self.abs_error_sum += float(np.abs(error).sum())
        self.error_sum += float(error.sum())
        if np.isfinite(scale):
            self.scaled_abs_error_sum += float(np.abs(error).sum() / scale)

    @property
    def wape(self) -> float:
        return self.abs_error_sum / self.actual_sum if self.actual_sum > 0 else float("inf")


@dataclass
class SkuForecast:
    """Everything a run stores for one SKU."""

    sku: str
    series_type: str
    model: str
    reason: str
    history_weeks: int
    forecast: Forecast
    drivers: dict[str, tuple[float, float]] = field(default_factory=dict)
    driver_covariance: float = 0.0  # between promo_depth and price_elasticity
    backtest: dict[tuple[str, int], BacktestSums] = field(default_factory=dict)
    fingerprint: str = ""
    refit: bool = True


@dataclass
class ProphetTask:
    row: int
    origin: int  # weeks before the end of the history; 0 is the final fit
    weeks: np.ndarray
    y: np.ndarray
    regressors: np.ndarray
    names: list[str]
    base: np.ndarray
    future_weeks: np.ndarray
    future_regressors: np.ndarray
    settings: ProphetSettings
    seed: int


@dataclass
class ProphetOutcome:
    row: int
    origin: int
    forecast: Forecast | None = None
    effects: dict[str, tuple[float, float]] = field(default_factory=dict)
    covariance: float = 0.0
    history_effect: np.ndarray | None = None
    future_effect: np.ndarray | None = None
    error: str | None = None


def run_prophet_task(task: ProphetTask, workdir: Path) -> ProphetOutcome:
    """Fit and forecast one series; never raises (a failure is reported in ``error``)."""
    try:
        fit = prophet_model.fit(
            task.weeks, task.y, task.regressors, task.names, task.settings, workdir=workdir
        )
        rng = np.random.default_rng(task.seed)
        future = {name: task.future_regressors[:, i] for i, name in enumerate(task.names)}
        yhat, paths = prophet_model.predict_log(
            fit, task.future_weeks, future, task.settings.uncertainty_samples, rng
        )
        sigma = fit.sigma_obs * fit.y_scale
        # The model is on log1p(units): the expected value adds half the noise variance.
        point = np.expm1(yhat + 0.5 * sigma**2)
        bounds = np.expm1(np.quantile(paths, QUANTILES, axis=0))
        forecast = Forecast(point, *bounds).clipped()
        if not np.isfinite(forecast.point).all():
            raise ValueError("non-finite forecast")
        effects = fit.regressor_effects()
        coefficients = np.array([effects.get(n, (0.0, 0.0))[0] for n in task.names])
        covariance = 0.0
        if {"discount_depth", "log_price_ratio"} <= set(effects):
            covariance = fit.regressor_covariance("discount_depth", "log_price_ratio")
        return ProphetOutcome(
            row=task.row,
            origin=task.origin,
            forecast=forecast,
            effects=effects,
            covariance=covariance,
            history_effect=(task.regressors - task.base[None, :]) @ coefficients,
            future_effect=(task.future_regressors - task.base[None, :]) @ coefficients,
        )
    except (prophet_model.StanFitError, np.linalg.LinAlgError, ValueError, OSError) as error:
        return ProphetOutcome(row=task.row, origin=task.origin, error=str(error)[:200])


def classify(units: np.ndarray, settings: ForecastSettings) -> str:
    """The kind of series: regular, new, intermittent, zero or flat."""
    if len(units) == 0 or not np.any(units > 0):
        return "zero"
    if np.all(units == units[0]):
        return "flat"
    if np.mean(units == 0) >= settings.intermittent_zero_share:
        return "intermittent"
    if len(units) < settings.min_model_weeks:
        return "new"
    return "regular"


def _regular_price(ratio: np.ndarray, depth: np.ndarray, weeks: int) -> float:
    """The SKU's recent regular price ratio (median of recent unpromoted weeks)."""
    recent_ratio, recent_depth = ratio[-weeks:], depth[-weeks:]
    calm = recent_ratio[recent_depth < 1e-9]
    chosen = calm if len(calm) else recent_ratio
    chosen = chosen[np.isfinite(chosen)]
    return float(np.median(chosen)) if len(chosen) else 0.0


def _tasks_for(panel: Panel, row: int, settings: ForecastSettings) -> list[ProphetTask]:
    """The final fit and one fit per backtest origin for a regular SKU."""
    start = panel.first_index[row]
    end = len(panel.weeks)
    drivers = panel.drivers[row, start:end]
    usable = [i for i in range(len(DRIVERS)) if np.isfinite(drivers[:, i]).any()]
    names = [DRIVERS[i] for i in usable]
    raw = np.nan_to_num(drivers[:, usable], nan=0.0)
    units = panel.units[row, start:end]
    shift = panel.discount_log_ratio[row, start:end]
    weeks = panel.weeks[start:end]
    ratio_col = names.index("log_price_ratio") if "log_price_ratio" in names else None
    depth_col = names.index("discount_depth") if "discount_depth" in names else None
    order = settings.prophet.yearly_order if len(units) >= 104 else 4
    prophet_settings = ProphetSettings(**{**asdict(settings.prophet), "yearly_order": order})
    tasks = []
    for origin in (0, *settings.backtest_origins):
        train = len(units) - origin
        if origin and train < settings.min_model_weeks:
            continue
        horizon = settings.horizon if origin == 0 else min(max(settings.backtest_horizons), origin)
        base = np.zeros(len(names))
        if ratio_col is not None:
            depth = raw[:train, depth_col] if depth_col is not None else np.zeros(train)
            base[ratio_col] = _regular_price(
                raw[:train, ratio_col], depth, settings.regular_price_weeks
            )
        if origin == 0:
            future_weeks = weeks[-1] + np.arange(1, horizon + 1) * np.timedelta64(7, "D")
            future = np.tile(base, (horizon, 1))
        else:
            future_weeks = weeks[train : train + horizon]
            # Promotions are planned ahead, so the backtest knows them; the regular price is
            # taken as it stood at the origin, moved by each planned discount.
            future = raw[train : train + horizon].copy()
            if ratio_col is not None:
                future[:, ratio_col] = base[ratio_col] + shift[train : train + horizon]
        tasks.append(
            ProphetTask(
                row=row,
                origin=origin,
                weeks=weeks[:train],
                y=np.log1p(units[:train]),
                regressors=raw[:train],
                names=names,
                base=base,
                future_weeks=future_weeks,
                future_regressors=future,
                settings=prophet_settings,
                seed=settings.seed * 1_000_003 + row * 101 + origin,
            )
        )
    return tasks


def _run_prophet(tasks: list[ProphetTask], jobs: int, report: Progress) -> list[ProphetOutcome]:
    """Run Prophet fits ``jobs`` at a time. Each fit is its own Stan process, so threads only
    wait on processes (Prophet's Python code, which hangs in threads, is not used)."""
    outcomes: list[ProphetOutcome] = []
    with tempfile.TemporaryDirectory(prefix="sop-forecast-") as folder:
        workdirs = [Path(folder) / f"w{i}" for i in range(len(tasks))]

        def work(index: int) -> ProphetOutcome:
            workdirs[index].mkdir()
            return run_prophet_task(tasks[index], workdirs[index])

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for done, outcome in enumerate(pool.map(work, range(len(tasks))), start=1):
                outcomes.append(outcome)
                if done % 25 == 0 or done == len(tasks):
                    report(done / len(tasks), f"Prophet fits {done:,}/{len(tasks):,}")
    return outcomes


def _cleaned(units: np.ndarray, effect: np.ndarray | None) -> np.ndarray:
    """The history with the estimated promotion and price effects taken out."""
    if effect is None:
        return units
    return np.maximum(np.expm1(np.log1p(units) - effect), 0.0)


def _with_effect(forecast: Forecast, effect: np.ndarray | None) -> Forecast:
    if effect is None:
        return forecast
    return Forecast(*(np.expm1(np.log1p(a) + effect) for a in forecast.arrays())).clipped()


def _ensemble(a: Forecast, b: Forecast) -> Forecast:
    return Forecast(
        *(
            np.expm1((np.log1p(x) + np.log1p(y)) / 2)
            for x, y in zip(a.arrays(), b.arrays(), strict=True)
        )
    ).clipped()


def _family_share(
    panel: Panel, row: int, served: dict[int, SkuForecast], horizon: int
) -> tuple[Forecast, str, str]:
    """A new SKU's forecast: its family's forecast shape at the SKU's recent level."""
    _, units = panel.series(row)
    level = float(np.mean(units[-4:])) if len(units) else 0.0
    donors = [
        r
        for r, result in served.items()
        if panel.families[r] == panel.families[row] and result.series_type == "regular"
    ]
    if not donors or level <= 0:
        spread = float(np.std(units[-8:])) if len(units) > 1 else level * 0.3
        return (
            Forecast.flat(level, horizon, 1.28 * spread).clipped(),
            "recent_mean",
            ("new SKU without a family forecast to follow: recent average"),
        )
    family_forecast = np.sum([served[r].forecast.point for r in donors], axis=0)
    family_recent = np.sum([np.nan_to_num(panel.units[r, -4:]).sum() for r in donors]) / 4
    shape = family_forecast / max(family_recent, 1e-9)
    relative = [
        np.sum([getattr(served[r].forecast, name) for r in donors], axis=0)
        / np.maximum(family_forecast, 1e-9)
        for name in ("lower_95", "lower_80", "upper_80", "upper_95")
    ]
    point = level * shape
    # A new SKU is less certain than its family: widen the family's relative bands by half.
    bounds = [point * (1 + 1.5 * (r - 1)) for r in relative]
    reason = f"new SKU ({len(units)} weeks): {panel.families[row]} forecast at its recent level"
    return Forecast(point, *bounds).clipped(), "family_share", reason


def forecast_panel(
    panel: Panel,
    settings: ForecastSettings,
    *,
    jobs: int | None = None,
    reused: dict[int, SkuForecast] | None = None,
    progress: Progress | None = None,
) -> tuple[dict[int, SkuForecast], dict[str, float]]:
    """Forecast every SKU of ``panel``, except the rows in ``reused`` (unchanged since an
    earlier run, whose results are kept as they are).

    Returns the results by panel row and the wall time of each phase in seconds.
    """
    report = progress or (lambda fraction, message: None)
    jobs = jobs or os.cpu_count() or 1
    reused = dict(reused or {})
    rows = [row for row in range(len(panel.skus)) if row not in reused]
    horizon = settings.horizon
    kinds = {row: classify(panel.series(row)[1], settings) for row in rows}
    regular = [row for row in rows if kinds[row] == "regular"]
    timings: dict[str, float] = {}

    started = time.perf_counter()
    tasks = [task for row in regular for task in _tasks_for(panel, row, settings)]
    outcomes = _run_prophet(tasks, jobs, lambda f, m: report(0.05 + 0.65 * f, m))
    by_key = {(o.row, o.origin): o for o in outcomes}
    timings["prophet"] = time.perf_counter() - started

    # Challengers: Theta on the history with the estimated drivers taken out, at each origin.
    started = time.perf_counter()
    report(0.72, "Challenger models")
    theta: dict[tuple[int, int], Forecast | None] = {}
    for origin in (0, *settings.backtest_origins):
        keys = [(row, origin) for row in regular if (row, origin) in by_key]
        if not keys:
            continue
        series, ends = [], []
        for row, _ in keys:
            weeks, units = panel.series(row, len(panel.weeks) - origin)
            series.append(_cleaned(units, by_key[(row, origin)].history_effect))
            ends.append(weeks[-1])
        length = horizon if origin == 0 else min(max(settings.backtest_horizons), origin)
        for key, result in zip(
            keys, classical.theta_forecasts(series, ends, length, jobs), strict=True
        ):
            theta[key] = result
    timings["challengers"] = time.perf_counter() - started

    report(0.9, "Backtests and model choice")
    results: dict[int, SkuForecast] = {}
    for row in regular:
        results[row] = _choose(panel, row, settings, by_key, theta)
    for row in rows:
        if row in results:
            continue
        _, units = panel.series(row)
        kind = kinds[row]
        if kind == "zero":
            forecast, model, reason = Forecast.flat(0.0, horizon), "zero", "no sales at all"
        elif kind == "flat":
            forecast, model, reason = (
                Forecast.flat(float(units[-1]), horizon),
                "flat",
                "the same units every week",
            )
        elif kind == "intermittent":
            forecast = classical.croston_sba(units, horizon)
            model = "croston_sba"
            reason = f"intermittent: no sales in {np.mean(units == 0):.0%} of weeks"
        else:
            continue  # new SKUs follow their family, once the family is known
        results[row] = SkuForecast(str(panel.skus[row]), kind, model, reason, len(units), forecast)
    # New SKUs follow their family, so they come last (and are always recomputed: a change in
    # any family member changes them).
    report(0.95, "New items from their families")
    results.update(reused)
    for row in range(len(panel.skus)):
        if row in results and not (row in reused and results[row].series_type == "new"):
            continue
        _, units = panel.series(row)
        forecast, model, reason = _family_share(panel, row, results, horizon)
        results[row] = SkuForecast(str(panel.skus[row]), "new", model, reason, len(units), forecast)
    return results, timings


def _choose(
    panel: Panel,
    row: int,
    settings: ForecastSettings,
    by_key: dict[tuple[int, int], ProphetOutcome],
    theta: dict[tuple[int, int], Forecast | None],
) -> SkuForecast:
    """Backtest the candidates of a regular SKU and keep the best at the selection horizon."""
    _, units = panel.series(row)
    n = len(units)
    backtest: dict[tuple[str, int], BacktestSums] = {}
    for origin in settings.backtest_origins:
        outcome = by_key.get((row, origin))
        if outcome is None:
            continue
        train = n - origin
        history = units[:train]
        scale = classical.seasonal_naive_scale(history)
        actual_all = units[train : train + min(max(settings.backtest_horizons), origin)]
        candidates: dict[str, np.ndarray] = {}
        naive = classical.seasonal_naive(history, len(actual_all))
        candidates["seasonal_naive"] = naive
        prophet_fc = outcome.forecast
        theta_fc = theta.get((row, origin))
        if theta_fc is not None:
            theta_fc = _with_effect(theta_fc, outcome.future_effect)
        if prophet_fc is not None:
            candidates["prophet"] = prophet_fc.point
        if theta_fc is not None:
            candidates["theta"] = theta_fc.point
        if prophet_fc is not None and theta_fc is not None:
            candidates["ensemble"] = _ensemble(prophet_fc, theta_fc).point
        for h in settings.backtest_horizons:
            if h > len(actual_all):
                continue
            for model, values in candidates.items():
                backtest.setdefault((model, h), BacktestSums()).add(
                    actual_all[:h], values[:h], scale
                )

    final = by_key.get((row, 0))
    final_theta = theta.get((row, 0))
    options: dict[str, Forecast] = {}
    if final is not None and final.forecast is not None:
        options["prophet"] = final.forecast
    if final_theta is not None:
        options["theta"] = final_theta
    if "prophet" in options and "theta" in options:
        options["ensemble"] = _ensemble(options["prophet"], options["theta"])

    h = settings.selection_horizon
    scored = {m: backtest[(m, h)].wape for m in CANDIDATES if m in options and (m, h) in backtest}
    if scored:
        model = min(scored, key=lambda m: (scored[m], CANDIDATES.index(m)))
        reason = f"lowest {h}-week backtest WAPE: " + ", ".join(
            f"{m} {scored[m]:.1%}" for m in CANDIDATES if m in scored
        )
    elif "prophet" in options:
        model, reason = "prophet", "no backtest possible (short history): Prophet by default"
    elif options:
        model = next(iter(options))
        reason = f"Prophet failed ({final.error if final else 'no fit'}): {model} instead"
    else:
        model = "seasonal_naive"
        reason = f"Prophet failed ({final.error if final else 'no fit'}): seasonal naive instead"
    if model == "seasonal_naive":
        point = classical.seasonal_naive(units, settings.horizon)
        errors = np.log1p(units[52:]) - np.log1p(units[:-52]) if n > 60 else np.array([])
        forecast = classical.empirical_bounds(point, errors)
    else:
        forecast = options[model]
    for (name, horizon), sums in list(backtest.items()):
        if name == model:
            backtest[("selected", horizon)] = sums
    drivers = final.effects if final is not None else {}
    return SkuForecast(
        sku=str(panel.skus[row]),
        series_type="regular",
        model=model,
        reason=reason,
        history_weeks=n,
        forecast=forecast,
        drivers=drivers,
        driver_covariance=final.covariance if final is not None else 0.0,
        backtest=backtest,
    )
