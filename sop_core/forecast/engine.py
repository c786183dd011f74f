"""The forecast refresh: every SKU's statistical forecast, its driver effects and a backtest,
in one run.

For each SKU the history decides the method:

- ``regular`` (a year or more of steady sales): Prophet with promotion and price drivers, and
  two challengers (statsforecast's Theta on the history with the estimated promotion and price
  effects taken out, and their ``ensemble``). A rolling-origin backtest (origins 13, 26 and
  39 weeks before the end; 13- and 26-week horizons) picks the one that serves the SKU;
  classic seasonal naive is reported beside them as the benchmark.
- ``new`` (under a year): ``family_share``, the family's forecast shape at the SKU's recent
  level (``recent_mean`` when the family has nothing to lend).
- ``intermittent`` (many weeks without sales): ``croston_sba``.
- ``zero`` and ``flat`` series: their obvious forecast.
- a Prophet failure falls back to Theta (or seasonal naive), and says so.

The forecast knows the promotions already in the calendar (the ``promotions`` table) and
holds prices at the SKU's recent regular level; anything else (a new promotion, a price
change) is a scenario lever on top of it. Regular SKUs are forecast in ``jobs`` worker
processes; the final Prophet fit of each runs Prophet's Stan optimiser, the backtest refits
solve the same objective in numpy.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from sop_core.forecast import classical, metrics, prophet_model
from sop_core.forecast.classical import QUANTILES, Forecast
from sop_core.forecast.panel import DRIVERS, Panel, regular_price
from sop_core.forecast.prophet_model import ProphetSettings

Progress = Callable[[float, str], None]

SERIES_TYPES = ("regular", "new", "intermittent", "zero", "flat")
CANDIDATES = ("prophet", "theta", "ensemble")
PROMOTION_DRIVERS = ("discount_depth", "feature", "display", "post_promotion")


@dataclass(frozen=True)
class ForecastSettings:
    """What a forecast run does; part of its fingerprint."""

    horizon: int = 26
    backtest_origins: tuple[int, ...] = (13, 26, 39)
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
    scaled_weeks: int = 0  # weeks of origins with a seasonal-naive scale (for MASE)

    def add(self, actual: np.ndarray, forecast: np.ndarray, scale: float) -> None:
        """Add one origin's weeks; ``scale`` is ``metrics.seasonal_naive_scale`` of the history
        up to the origin (NaN: the weeks count in WAPE and bias, not in MASE)."""
        error = forecast - actual
        self.origins += 1
        self.weeks += len(actual)
        self.actual_sum += float(actual.sum())
        self.abs_error_sum += float(np.abs(error).sum())
        self.error_sum += float(error.sum())
        if np.isfinite(scale):
            self.scaled_abs_error_sum += float(metrics.scaled_errors(forecast, actual, scale).sum())
            self.scaled_weeks += len(actual)

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
class SkuInput:
    """What the forecast of one regular SKU needs, small enough to send to a worker."""

    row: int
    sku: str
    weeks: np.ndarray
    units: np.ndarray
    drivers: np.ndarray  # (weeks, len(names)), zeros where no value
    names: list[str]
    discount_shift: np.ndarray  # log(1 - depth), channel-weighted
    # Promotions known for the weeks after the history (horizon, len(names)) and the log price
    # shift of their discounts (horizon,); None when nothing is known.
    planned: np.ndarray | None = None
    planned_shift: np.ndarray | None = None


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


def sku_input(panel: Panel, row: int) -> SkuInput:
    start = panel.first_index[row]
    drivers = panel.drivers[row, start:]
    usable = [i for i in range(len(DRIVERS)) if np.isfinite(drivers[:, i]).any()]
    return SkuInput(
        row=row,
        sku=str(panel.skus[row]),
        weeks=panel.weeks[start:],
        units=panel.units[row, start:],
        drivers=np.nan_to_num(drivers[:, usable], nan=0.0),
        names=[DRIVERS[i] for i in usable],
        discount_shift=panel.discount_log_ratio[row, start:],
        planned=None if panel.planned is None else panel.planned[row][:, usable],
        planned_shift=(
            None
            if panel.planned_discount_log_ratio is None
            else panel.planned_discount_log_ratio[row]
        ),
    )


@dataclass
class _Fit:
    """One Prophet fit at one origin: its forecast and the driver effects it implies."""

    forecast: Forecast
    effects: dict[str, tuple[float, float]]
    covariance: float
    history_effect: np.ndarray
    future_effect: np.ndarray


def _prophet_at(
    inp: SkuInput, origin: int, horizon: int, settings: ForecastSettings, workdir: Path
) -> _Fit:
    """Fit Prophet on the history up to ``origin`` weeks before the end and forecast.

    The final fit (origin 0) uses Prophet's Stan optimiser and simulates the intervals; a
    backtest refit solves the same objective in numpy and needs only the point forecast.
    """
    train = len(inp.units) - origin
    names = inp.names
    raw = inp.drivers
    base = np.zeros(len(names))
    if "log_price_ratio" in names:
        ratio_col = names.index("log_price_ratio")
        depth = (
            raw[:train, names.index("discount_depth")]
            if "discount_depth" in names
            else np.zeros(train)
        )
        base[ratio_col] = regular_price(raw[:train, ratio_col], depth, settings.regular_price_weeks)
    if origin == 0:
        future_weeks = inp.weeks[-1] + np.arange(1, horizon + 1) * np.timedelta64(7, "D")
        future = np.tile(base, (horizon, 1))
        if inp.planned is not None:
            # The promotions already in the calendar, at the regular price moved by each
            # planned discount (as the backtest does with the promotions that happened).
            known = min(horizon, len(inp.planned))
            for i, name in enumerate(names):
                if name == "log_price_ratio":
                    future[:known, i] = base[i] + inp.planned_shift[:known]
                else:
                    future[:known, i] = inp.planned[:known, i]
    else:
        future_weeks = inp.weeks[train : train + horizon]
        # Promotions are planned ahead, so the backtest knows them; the regular price is
        # taken as it stood at the origin, moved by each planned discount.
        future = raw[train : train + horizon].copy()
        if "log_price_ratio" in names:
            future[:, names.index("log_price_ratio")] = (
                base[names.index("log_price_ratio")] + inp.discount_shift[train : train + horizon]
            )
    order = settings.prophet.yearly_order if train >= 104 else 4
    prophet_settings = ProphetSettings(**{**asdict(settings.prophet), "yearly_order": order})
    fit = prophet_model.fit(
        inp.weeks[:train],
        np.log1p(inp.units[:train]),
        raw[:train],
        names,
        prophet_settings,
        workdir=workdir,
        solver="stan" if origin == 0 else "numpy",
    )
    samples = prophet_settings.uncertainty_samples if origin == 0 else 0
    rng = np.random.default_rng(settings.seed * 1_000_003 + inp.row * 101 + origin)
    columns = {name: future[:, i] for i, name in enumerate(names)}
    yhat, paths = prophet_model.predict_log(fit, future_weeks, columns, samples, rng)
    # The model is on log1p(units): the expected value adds half the noise variance.
    point = np.expm1(yhat + 0.5 * (fit.sigma_obs * fit.y_scale) ** 2)
    if samples:
        forecast = Forecast(point, *np.expm1(np.quantile(paths, QUANTILES, axis=0))).clipped()
    else:
        forecast = Forecast(point, point, point, point, point).clipped()
    if not np.isfinite(forecast.point).all():
        raise ValueError("the forecast is not finite")
    effects = fit.regressor_effects()
    coefficients = np.array([effects.get(n, (0.0, 0.0))[0] for n in names])
    covariance = 0.0
    if {"discount_depth", "log_price_ratio"} <= set(effects):
        covariance = fit.regressor_covariance("discount_depth", "log_price_ratio")
    return _Fit(
        forecast,
        effects,
        covariance,
        history_effect=(raw[:train] - base) @ coefficients,
        future_effect=(future - base) @ coefficients,
    )


def _theta(history: np.ndarray, horizon: int, intervals: bool) -> Forecast | None:
    """statsforecast's Theta (52-week seasonality with two years or more)."""
    from statsforecast.models import Theta

    if len(history) < 8:
        return None
    season = 52 if len(history) >= 104 else 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = Theta(season_length=season).forecast(
                y=history.astype(float), h=horizon, level=[80, 95] if intervals else None
            )
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            return None
    if intervals:
        return Forecast(
            out["mean"], out["lo-95"], out["lo-80"], out["hi-80"], out["hi-95"]
        ).clipped()
    return Forecast(*(out["mean"],) * 5).clipped()


def forecast_regular(inp: SkuInput, settings: ForecastSettings, workdir: Path) -> SkuForecast:
    """Prophet, Theta and their ensemble for one SKU: backtest them, keep the best.

    Never raises: a Prophet failure falls back to Theta (or seasonal naive) and says so.
    """
    n = len(inp.units)
    longest = max(settings.backtest_horizons)
    backtest: dict[tuple[str, int], BacktestSums] = {}
    for origin in settings.backtest_origins:
        train = n - origin
        if train < settings.min_model_weeks:
            continue
        length = min(longest, origin)
        history, actual = inp.units[:train], inp.units[train : train + length]
        candidates = {"seasonal_naive": classical.seasonal_naive(history, length)}
        try:
            fit = _prophet_at(inp, origin, length, settings, workdir)
        except (prophet_model.StanFitError, np.linalg.LinAlgError, ValueError, OSError):
            fit = None
        if fit is not None:
            candidates["prophet"] = fit.forecast.point
            theta = _theta(_cleaned(history, fit.history_effect), length, intervals=False)
            if theta is not None:
                theta = _with_effect(theta, fit.future_effect)
                candidates["theta"] = theta.point
                candidates["ensemble"] = _ensemble(fit.forecast, theta).point
        scale = metrics.seasonal_naive_scale(history)
        for h in settings.backtest_horizons:
            if h <= length:
                for model, values in candidates.items():
                    backtest.setdefault((model, h), BacktestSums()).add(
                        actual[:h], values[:h], scale
                    )

    options: dict[str, Forecast] = {}
    error = None
    try:
        final = _prophet_at(inp, 0, settings.horizon, settings, workdir)
        options["prophet"] = final.forecast
        history = _cleaned(inp.units, final.history_effect)
    except (prophet_model.StanFitError, np.linalg.LinAlgError, ValueError, OSError) as failure:
        final, history, error = None, inp.units, str(failure)[:160]
    theta = _theta(history, settings.horizon, intervals=True)
    if theta is not None:
        options["theta"] = _with_effect(theta, final.future_effect if final else None)
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
        model, reason = "prophet", "too little history for a backtest: Prophet by default"
    elif options:
        model, reason = next(iter(options)), f"Prophet failed ({error}): Theta instead"
    else:
        model, reason = "seasonal_naive", f"Prophet failed ({error}): seasonal naive instead"
    if error is not None and not reason.startswith("Prophet failed"):
        reason = f"Prophet failed ({error}); {reason}"
    if model == "seasonal_naive":
        point = classical.seasonal_naive(inp.units, settings.horizon)
        errors = (np.log1p(inp.units[52:]) - np.log1p(inp.units[:-52])) if n > 60 else np.array([])
        forecast = classical.empirical_bounds(point, errors)
    else:
        forecast = options[model]
    for (name, horizon), sums in list(backtest.items()):
        if name == model:
            backtest[("selected", horizon)] = sums
    return SkuForecast(
        sku=inp.sku,
        series_type="regular",
        model=model,
        reason=reason,
        history_weeks=n,
        forecast=forecast,
        drivers=final.effects if final else {},
        driver_covariance=final.covariance if final else 0.0,
        backtest=backtest,
    )


def _worker(batch: list[SkuInput], settings: ForecastSettings) -> list[SkuForecast]:
    with tempfile.TemporaryDirectory(prefix="sop-forecast-") as folder:
        return [forecast_regular(inp, settings, Path(folder)) for inp in batch]


PARENT_CHECK_SECONDS = 0.5
"""How often a worker checks that the process that started it is still alive."""


def _start_worker(parent: int) -> None:
    """Pool initializer: one BLAS thread, and an exit when the parent process is gone."""
    _one_blas_thread()
    _exit_with_parent(parent)


def _exit_with_parent(parent: int) -> None:
    """Exit this worker as soon as ``parent`` (the process that started the pool) is gone.

    A worker waits on its task queue forever, and a parent killed with SIGKILL (or an app
    stopped mid-refresh) never tells it to stop: without this it stays, re-parented to init,
    with its memory and the resource tracker it keeps alive. A daemon thread polls the parent
    id (it changes when the parent dies) rather than ``PR_SET_PDEATHSIG``, which fires when
    the *thread* that started the worker ends, as a dashboard session's thread does.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _one_blas_thread() -> None:
    """One BLAS thread in this worker for its whole life.

    The matrices are small, and several threads per worker on top of several workers only
    fight over the cores. threadpoolctl limits only the libraries already loaded, so scipy's
    own OpenBLAS (numpy's is in since the worker imported this module) is loaded first. Set
    here rather than through environment variables in the parent, whose other threads (the
    dashboard's) would see them change while the pool starts.
    """
    import scipy.linalg  # noqa: F401

    threadpool_limits(1)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop the pool now: queued batches cancelled, running workers terminated.

    ``shutdown`` alone waits for the batches already running (minutes for a large run), so
    a stopped command or app would leave its workers fitting on.
    """
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(timeout=5)
        if worker.is_alive():
            worker.kill()


def _run_regular(
    inputs: list[SkuInput], settings: ForecastSettings, jobs: int, report: Progress
) -> list[SkuForecast]:
    """Forecast regular SKUs in ``jobs`` worker processes (in this process for small runs).

    Workers are started fresh ("spawn"): forking a process that runs other threads (the
    dashboard's) is not safe. Prophet's Stan program runs as a child process of each worker.
    """
    if not inputs:
        return []
    batch_size = max(1, min(25, len(inputs) // (4 * jobs) or 1))
    batches = [inputs[i : i + batch_size] for i in range(0, len(inputs), batch_size)]
    results: list[SkuForecast] = []
    if jobs <= 1 or len(inputs) < 16:
        for batch in batches:
            results.extend(_worker(batch, settings))
            report(len(results) / len(inputs), f"Fitted {len(results):,} of {len(inputs):,} SKUs")
        return results
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )
    try:
        futures = [pool.submit(_worker, batch, settings) for batch in batches]
        for future in as_completed(futures):
            results.extend(future.result())
            report(len(results) / len(inputs), f"Fitted {len(results):,} of {len(inputs):,} SKUs")
        pool.shutdown()
    except BrokenProcessPool:
        _stop_pool(pool)
        # A worker died (out of memory, killed): finish in this process rather than fail.
        done = {r.sku for r in results}
        remaining = [inp for inp in inputs if inp.sku not in done]
        report(len(results) / len(inputs), "A worker stopped; finishing in one process")
        results.extend(_worker(remaining, settings))
    except BaseException:
        # Stopped (SIGTERM, Ctrl+C, an error in a batch): no worker outlives the run.
        _stop_pool(pool)
        raise
    return results


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
            Forecast.flat(level, horizon, spread).clipped(),
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
    cores = os.cpu_count() or 1
    jobs = min(max(1, jobs or cores), 4 * cores)
    reused = dict(reused or {})
    rows = [row for row in range(len(panel.skus)) if row not in reused]
    horizon = settings.horizon
    kinds = {row: classify(panel.series(row)[1], settings) for row in rows}

    started = time.perf_counter()
    inputs = [sku_input(panel, row) for row in rows if kinds[row] == "regular"]
    fitted = _run_regular(inputs, settings, jobs, lambda f, m: report(0.05 + 0.85 * f, m))
    results = {
        inp.row: result
        for inp, result in zip(
            sorted(inputs, key=lambda i: i.sku), sorted(fitted, key=lambda r: r.sku), strict=True
        )
    }
    timings = {"models": time.perf_counter() - started}

    for row in rows:
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
            continue
        results[row] = SkuForecast(str(panel.skus[row]), kind, model, reason, len(units), forecast)

    # New SKUs follow their family, so they come last, and are always recomputed (a change in
    # any family member changes them).
    report(0.95, "New items from their families")
    results.update({row: r for row, r in reused.items() if r.series_type != "new"})
    for row in range(len(panel.skus)):
        if row in results:
            continue
        _, units = panel.series(row)
        forecast, model, reason = _family_share(panel, row, results, horizon)
        results[row] = SkuForecast(str(panel.skus[row]), "new", model, reason, len(units), forecast)
    return results, timings
