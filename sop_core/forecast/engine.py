"""The forecast refresh: every SKU's statistical forecast, its driver effects and a backtest,
in one run.

For each SKU the history decides the method:

- ``regular`` (a year or more of steady sales): the candidates are Prophet with promotion and
  price drivers; statsforecast's Theta and AutoETS (simple exponential smoothing) on the log
  history with Prophet's estimated promotion, price, seasonality and holiday effects taken out
  and put back for the forecast weeks; the same week a year earlier with the promotion and price
  effects taken out and put back (``seasonal_naive_adjusted``); a global LightGBM model trained
  across all SKUs on lags, calendar, holidays, prices and promotions (``gbm``,
  ``global_model``); and the ``median`` of them. A rolling-origin backtest (origins 13, 26 and
  39 weeks before the end; 13- and 26-week horizons) compares them on the 13 weeks the meeting
  decides: the best serves the SKU, or, when other candidates are within noise of it, the
  backtest-weighted mean of those (``combination``): a coin toss between equals is no choice.
  Without a backtest (under 65 weeks), the global model serves: a single short series' trend is
  the least safe thing to extrapolate. Classic seasonal naive is reported beside them as the
  benchmark.
- ``new`` (under a year): ``family_share``, the family's forecast shape at the SKU's recent
  level (``recent_mean`` when the family has nothing to lend), averaged with the global
  model's forecast once the SKU has 26 weeks (``combination``).
- ``intermittent`` (many weeks without sales): ``croston_sba``.
- ``zero`` and ``flat`` series: their obvious forecast.
- a candidate that fails is left out and recorded (``SkuForecast.failures``): the run's
  summary lists each fallback, its error and what served instead.

The forecast knows the promotions already in the calendar (the ``promotions`` table) and
holds prices at the SKU's recent regular level; anything else (a new promotion, a price
change) is a scenario lever on top of it. Regular SKUs are forecast in ``jobs`` worker
processes; every Prophet fit solves Stan's objective exactly in numpy, and one SKU in 25 is
also fitted by Prophet's own Stan program, which must agree (``prophet_model``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from sop_core.data.workers import run_parts
from sop_core.forecast import classical, metrics, prophet_model
from sop_core.forecast.classical import QUANTILES, Forecast
from sop_core.forecast.panel import DRIVERS, Panel, regular_price
from sop_core.forecast.prophet_model import ProphetSettings

Progress = Callable[[float, str], None]

SERIES_TYPES = ("regular", "new", "intermittent", "zero", "flat")
# Per-SKU candidates, in the order that breaks ties; ``median`` is the median of the others.
BASE_CANDIDATES = ("prophet", "theta", "ets", "seasonal_naive_adjusted", "gbm")
CANDIDATES = (*BASE_CANDIDATES, "median")
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
    # One regular SKU in this many (and at least one per run) is also fitted by Prophet's Stan
    # program, which must agree with our solver's optimum (``prophet_model.fit``).
    stan_check_every: int = 25
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
    # Candidates that failed at the final fit, with their error (the fallbacks of a run).
    failures: dict[str, str] = field(default_factory=dict)
    # The combination's candidates and weights, when a combination serves.
    components: dict[str, float] = field(default_factory=dict)
    # Every candidate's point forecast (for evaluation; not stored).
    candidates: dict[str, np.ndarray] = field(default_factory=dict)


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
    # The global model's point forecasts by origin (weeks before the end; 0: the final one).
    global_points: dict[int, np.ndarray] | None = None
    # Fit the final Prophet model with Prophet's own Stan program too, as a check that our
    # solver reaches its optimum (``ForecastSettings.stan_check_every``).
    stan_check: bool = False


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
    model: prophet_model.ProphetFit


def _prophet_at(
    inp: SkuInput,
    origin: int,
    horizon: int,
    settings: ForecastSettings,
    workdir: Path,
    solver: str | None = None,
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
        solver=solver or "numpy",
    )
    samples = prophet_settings.uncertainty_samples if origin == 0 else 0
    rng = np.random.default_rng(settings.seed * 1_000_003 + inp.row * 101 + origin)
    columns = {name: future[:, i] for i, name in enumerate(names)}
    yhat, paths = prophet_model.predict_log(fit, future_weeks, columns, samples, rng)
    # The model is on log1p(units): the expected value adds half the noise variance.
    point = np.expm1(yhat + 0.5 * (fit.sigma_obs * fit.y_scale) ** 2)
    if not np.isfinite(point).all():
        raise ValueError("the forecast is not finite")
    if samples:
        forecast = Forecast(point, *np.expm1(np.quantile(paths, QUANTILES, axis=0))).clipped()
    else:
        forecast = Forecast(point, point, point, point, point).clipped()
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
        model=fit,
    )


def _theta(adjusted: np.ndarray, horizon: int, intervals: bool) -> np.ndarray | None:
    """statsforecast's Theta on a log-scale series with its seasonality, holidays and drivers
    taken out (so without its own seasonal decomposition). Returns ``(5, horizon)`` rows on
    that scale like ``_ets``, or None when the fit fails."""
    from statsforecast.models import Theta

    return _statsforecast(Theta(season_length=1), adjusted, horizon, intervals)


def _statsforecast(model, adjusted: np.ndarray, horizon: int, intervals: bool) -> np.ndarray | None:
    """Forecast ``adjusted`` with a statsforecast model: ``(5, horizon)`` rows point, lo-95,
    lo-80, hi-80, hi-95 (all the point without ``intervals``), or None when it fails."""
    if len(adjusted) < 8 or not np.isfinite(adjusted).all():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = model.forecast(
                y=adjusted.astype(float), h=horizon, level=[80, 95] if intervals else None
            )
        except (ValueError, FloatingPointError, np.linalg.LinAlgError, ZeroDivisionError):
            return None
    mean = np.asarray(out["mean"], dtype=float)
    if not intervals:
        return np.vstack([mean] * 5)
    return np.vstack([mean, out["lo-95"], out["lo-80"], out["hi-80"], out["hi-95"]])


def _ets(adjusted: np.ndarray, horizon: int, intervals: bool) -> np.ndarray | None:
    """statsforecast's AutoETS with additive errors and no trend or seasonality of its own
    (simple exponential smoothing: the adaptive level) on a log-scale series with its
    seasonality, holidays and drivers taken out; like ``_theta``. Letting AutoETS choose a
    trend as well cost twice the time and forecast worse in the backtest (issue 18's notes)."""
    from statsforecast.models import AutoETS

    return _statsforecast(AutoETS(model="ANN"), adjusted, horizon, intervals)


def _seasonal_log(fit: prophet_model.ProphetFit, weeks: np.ndarray) -> np.ndarray:
    """The yearly seasonality and holiday effects of a Prophet fit on ``weeks``, on the model's
    scale (``log1p(units)``): what ETS and Theta leave to Prophet."""
    days = prophet_model.days_since_epoch(weeks)
    order = fit.yearly_order
    yearly = prophet_model.fourier_features(days, order) @ fit.beta[: 2 * order]
    return yearly * fit.y_scale + _holiday_log(fit, weeks)


def _holiday_log(fit: prophet_model.ProphetFit, weeks: np.ndarray) -> np.ndarray:
    """The holiday effects of a Prophet fit on ``weeks`` (``log1p(units)`` scale): a holiday
    that moves to another week from one year to the next moves with them."""
    effect = np.zeros(len(weeks))
    if fit.holiday_columns:
        holidays, names = prophet_model.holiday_features(prophet_model.days_since_epoch(weeks))
        column = dict(zip(names, holidays.T, strict=True)) if names else {}
        first = 2 * fit.yearly_order
        for i, name in enumerate(fit.holiday_columns):
            if name in column:
                effect = effect + column[name] * fit.beta[first + i]
    return effect * fit.y_scale


@dataclass
class _Candidates:
    """Every candidate's forecast of one SKU from one origin (point only in the backtest)."""

    forecasts: dict[str, Forecast]
    fit: _Fit | None
    failures: dict[str, str]


def _candidates_at(
    inp: SkuInput, origin: int, horizon: int, settings: ForecastSettings, workdir: Path
) -> _Candidates:
    """Forecast ``horizon`` weeks from ``origin`` weeks before the end with every candidate.

    Prophet with drivers comes first: Theta, ETS and the adjusted seasonal naive forecast
    the history with its estimated promotion and price effects taken out, and put the known
    drivers of the forecast weeks back. The global model's forecast is made beforehand for
    all SKUs at once (``SkuInput.global_points``).
    """
    train = len(inp.units) - origin
    history = inp.units[:train]
    final = origin == 0
    forecasts: dict[str, Forecast] = {}
    failures: dict[str, str] = {}
    fit = None
    for solver in ("stan", "numpy") if final and inp.stan_check else ("numpy",):
        try:
            fit = _prophet_at(inp, origin, horizon, settings, workdir, solver)
            break
        except (prophet_model.StanFitError, np.linalg.LinAlgError, ValueError, OSError) as error:
            # Stan failing: the numpy solver minimises the same objective (a fallback, and
            # recorded as one).
            label = "prophet (Stan)" if solver == "stan" else "prophet"
            failures[label] = str(error)[:160] or type(error).__name__
    if fit is not None:
        forecasts["prophet"] = fit.forecast
        weeks = inp.weeks[:train]
        future_weeks = weeks[-1] + np.arange(1, horizon + 1) * np.timedelta64(7, "D")
        seasonal = _seasonal_log(fit.model, weeks)
        future_seasonal = _seasonal_log(fit.model, future_weeks)
        clean_log = np.log1p(history) - fit.history_effect
        put_back = future_seasonal + fit.future_effect
        theta = _theta(clean_log - seasonal, horizon, intervals=final)
        if theta is None:
            failures["theta"] = "Theta could not fit the series"
        else:
            forecasts["theta"] = Forecast(*np.expm1(theta + put_back)).clipped()
        ets = _ets(clean_log - seasonal, horizon, intervals=final)
        if ets is None:
            failures["ets"] = "ETS could not fit the series"
        else:
            forecasts["ets"] = Forecast(*np.expm1(ets + put_back)).clipped()
        if train >= metrics.SEASON:
            # Last year's same week without its holidays, promotions and price moves; this
            # year's put back (Black Friday and Easter-like holidays move between weeks).
            holidays = _holiday_log(fit.model, weeks)
            last_year = classical.seasonal_naive(clean_log - holidays, horizon)
            point = np.expm1(last_year + _holiday_log(fit.model, future_weeks) + fit.future_effect)
            forecasts["seasonal_naive_adjusted"] = (
                classical.empirical_bounds(point, clean_log[52:] - clean_log[:-52])
                if final
                else Forecast(*(point,) * 5)
            ).clipped()
    gbm = (inp.global_points or {}).get(origin)
    if gbm is not None and len(gbm) >= horizon and np.isfinite(gbm[:horizon]).all():
        point = np.maximum(gbm[:horizon], 0.0)
        forecasts["gbm"] = _bands_like(point, forecasts.get("prophet"), history, final)
    base = [forecasts[m] for m in BASE_CANDIDATES if m in forecasts]
    if len(base) >= 3:
        forecasts["median"] = Forecast(
            *(
                np.median(np.vstack(arrays), axis=0)
                for arrays in zip(*(f.arrays() for f in base), strict=True)
            )
        ).clipped()
    return _Candidates(forecasts, fit, failures)


def _bands_like(
    point: np.ndarray, reference: Forecast | None, history: np.ndarray, final: bool
) -> Forecast:
    """Bounds for a point forecast that has none of its own (the global model): Prophet's
    bands around it on the log scale, or the history's year-on-year log changes."""
    if not final:
        return Forecast(*(point,) * 5)
    if reference is not None:
        shift = [np.log1p(b) - np.log1p(reference.point) for b in reference.arrays()[1:]]
        return Forecast(point, *(np.expm1(np.log1p(point) + s) for s in shift)).clipped()
    logs = np.log1p(history)
    return classical.empirical_bounds(point, logs[52:] - logs[:-52])


NOISE_STANDARD_ERRORS = 2.0
"""How far (in standard errors of the difference) a candidate's backtest WAPE may trail the
best's and still count as its equal: the usual two, a difference the backtest cannot tell
from luck."""


def _tied_with_best(errors: dict[str, np.ndarray], actual_sum: float) -> tuple[str, list[str]]:
    """The candidate with the lowest backtest WAPE and those within noise of it.

    ``errors`` holds each candidate's absolute errors over the same backtest weeks. A
    candidate is within noise when its WAPE exceeds the best's by no more than
    ``NOISE_STANDARD_ERRORS`` standard errors of the difference (the spread of the week-by-week
    differences of absolute error, times the square root of the weeks, over the units sold).
    """
    order = {m: i for i, m in enumerate(CANDIDATES)}
    wape = {m: float(e.sum()) / actual_sum for m, e in errors.items()}
    best = min(wape, key=lambda m: (wape[m], order[m]))
    tied = [best]
    for model, values in errors.items():
        if model == best or len(values) < 2:
            continue
        difference = values - errors[best]
        noise = float(np.std(difference, ddof=1)) * np.sqrt(len(values)) / actual_sum
        if wape[model] - wape[best] <= NOISE_STANDARD_ERRORS * noise:
            tied.append(model)
    return best, sorted(tied, key=lambda m: (wape[m], order[m]))


def _combine(forecasts: list[Forecast], weights: np.ndarray) -> Forecast:
    """The weighted mean of forecasts, point and bounds alike."""
    weights = weights / weights.sum()
    return Forecast(
        *(
            np.tensordot(weights, np.vstack(arrays), axes=1)
            for arrays in zip(*(f.arrays() for f in forecasts), strict=True)
        )
    ).clipped()


def forecast_regular(inp: SkuInput, settings: ForecastSettings, workdir: Path) -> SkuForecast:
    """Every candidate for one SKU: backtest them at rolling origins and serve the best, or the
    backtest-weighted mean of those within noise of the best.

    Never raises for a series: a candidate that fails is left out and recorded in
    ``failures`` (Prophet's failure leaves Theta, ETS and the adjusted seasonal naive out
    too, as they lean on its driver estimates); the served model says what served instead.
    """
    n = len(inp.units)
    longest = max(settings.backtest_horizons)
    h = settings.selection_horizon
    # Per origin: the weeks' actual units, every model's forecast of them, the MASE scale.
    tried: list[tuple[np.ndarray, dict[str, np.ndarray], float]] = []
    for origin in settings.backtest_origins:
        train = n - origin
        if train < settings.min_model_weeks:
            continue
        length = min(longest, origin)
        history, actual = inp.units[:train], inp.units[train : train + length]
        candidates = _candidates_at(inp, origin, length, settings, workdir).forecasts
        values = {m: f.point for m, f in candidates.items()}
        values["seasonal_naive"] = classical.seasonal_naive(history, length)
        tried.append((actual, values, metrics.seasonal_naive_scale(history)))

    final = _candidates_at(inp, 0, settings.horizon, settings, workdir)
    options = final.forecasts
    # Selection on the origins that cover the selection horizon, among the candidates that
    # forecast at every one of them and have a forecast now.
    chosen = [(a[:h], v) for a, v, _ in tried if len(a) >= h]
    actual_sum = float(sum(a.sum() for a, _ in chosen))
    compared = {
        m: np.concatenate([np.abs(v[m][:h] - a) for a, v in chosen])
        for m in CANDIDATES
        if m in options and chosen and all(m in v for _, v in chosen)
    }
    weights: dict[str, float] = {}
    if compared and actual_sum > 0:
        best, tied = _tied_with_best(compared, actual_sum)
        wape = {m: float(e.sum()) / actual_sum for m, e in compared.items()}
        scores = ", ".join(f"{m} {wape[m]:.1%}" for m in sorted(wape, key=wape.get))
        if len(tied) >= 2:
            model = "combination"
            weights = {m: 1.0 / max(wape[m], 1e-6) for m in tied}
            total = sum(weights.values())
            weights = {m: w / total for m, w in weights.items()}
            forecast = _combine([options[m] for m in tied], np.array(list(weights.values())))
            reason = (
                f"{len(tied)} candidates within noise of each other in the {h}-week backtest, "
                f"weighted by it ({', '.join(tied)}); all: {scores}"
            )
        else:
            model, forecast = best, options[best]
            reason = f"lowest {h}-week backtest WAPE: {scores}"
    elif "gbm" in options:
        model, forecast = "gbm", options["gbm"]
        reason = "too little history for a backtest: the global model"
    elif "median" in options:
        model, forecast = "median", options["median"]
        reason = "too little history for a backtest: the median of the candidates"
    elif "prophet" in options:
        model, forecast = "prophet", options["prophet"]
        reason = "too little history for a backtest: Prophet by default"
    elif options:
        model = next(m for m in CANDIDATES if m in options)
        forecast, reason = options[model], f"Prophet could not fit: {model} instead"
    else:
        model = "seasonal_naive"
        point = classical.seasonal_naive(inp.units, settings.horizon)
        logs = np.log1p(inp.units)
        forecast = classical.empirical_bounds(point, logs[52:] - logs[:-52] if n > 60 else logs[:0])
        reason = "no candidate could fit: seasonal naive instead"
    if final.failures:
        reason = "; ".join(f"{m} failed ({e})" for m, e in final.failures.items()) + "; " + reason

    # The backtest of every model, and of the selection: the served candidate's, or the
    # combination's with the weights chosen on that same backtest (slightly flattered).
    backtest: dict[tuple[str, int], BacktestSums] = {}
    for actual, values, scale in tried:
        if weights and all(m in values for m in weights):
            values = {**values, "selected": sum(w * values[m] for m, w in weights.items())}
        elif model in values:
            values = {**values, "selected": values[model]}
        for horizon in settings.backtest_horizons:
            if horizon <= len(actual):
                for name, points in values.items():
                    backtest.setdefault((name, horizon), BacktestSums()).add(
                        actual[:horizon], points[:horizon], scale
                    )
    fit = final.fit
    return SkuForecast(
        sku=inp.sku,
        series_type="regular",
        model=model,
        reason=reason,
        history_weeks=n,
        forecast=forecast,
        drivers=fit.effects if fit else {},
        driver_covariance=fit.covariance if fit else 0.0,
        backtest=backtest,
        failures=final.failures,
        components=weights,
        candidates={m: f.point for m, f in options.items()},
    )


def _worker(batch: list[SkuInput], settings: ForecastSettings) -> list[SkuForecast]:
    with tempfile.TemporaryDirectory(prefix="sop-forecast-") as folder:
        return [forecast_regular(inp, settings, Path(folder)) for inp in batch]


class LocalEngine:
    """Today's engine: batches of SKUs in ``jobs`` fresh worker processes of this machine (in
    this process for small runs)."""

    name = "local"

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    @property
    def workers(self) -> int:
        return self.jobs

    def batch_size(self, count: int) -> int:
        """About four batches per worker, at most 25 SKUs each (a late batch is short)."""
        return max(1, min(25, count // (4 * self.jobs) or 1))

    def run(
        self,
        batches: list[list[SkuInput]],
        settings: ForecastSettings,
        finished: Callable[[list[SkuForecast]], None],
        notice: Callable[[str], None],
    ) -> None:
        """Fit every batch, telling ``finished`` each batch's results as it completes.

        Workers are started fresh ("spawn"): forking a process that runs other threads (the
        dashboard's) is not safe. Prophet's Stan program runs as a child process of each
        worker.
        """
        if self.jobs <= 1 or sum(len(batch) for batch in batches) < 16:
            for batch in batches:
                finished(_worker(batch, settings))
            return
        # A worker that dies (out of memory, killed): the rest finish in this process.
        run_parts(
            _worker,
            batches,
            (settings,),
            self.jobs,
            lambda _, results: finished(results),
            lambda: notice("A worker stopped; finishing in one process"),
        )


class Engine(Protocol):
    """Where the regular SKUs' fits run: ``LocalEngine`` (this machine's processes) or
    ``cluster.DaskEngine`` (a Dask cluster). Both run ``_worker`` on the same batches."""

    name: str

    @property
    def workers(self) -> int: ...

    def batch_size(self, count: int) -> int: ...

    def run(
        self,
        batches: list[list[SkuInput]],
        settings: ForecastSettings,
        finished: Callable[[list[SkuForecast]], None],
        notice: Callable[[str], None],
    ) -> None: ...


def progress_message(done: int, total: int, seconds: float) -> str:
    """``Fitted 1,200 of 10,000 SKUs, about 3 min 10 s left`` (the time left from the pace so
    far; none before the first batch is back)."""
    message = f"Fitted {done:,} of {total:,} SKUs"
    if 0 < done < total and seconds > 0:
        left = round(seconds * (total - done) / done)
        minutes, rest = divmod(left, 60)
        message += f", about {minutes} min {rest} s left" if minutes else f", about {rest} s left"
    return message


def _run_regular(
    inputs: list[SkuInput],
    settings: ForecastSettings,
    jobs: int,
    report: Progress,
    engine: Engine | None = None,
) -> list[SkuForecast]:
    """Forecast regular SKUs in batches on ``engine`` (default: ``jobs`` local processes).

    A batch may come back twice (a Dask worker lost after finishing it, its batch rerun):
    each SKU is kept once, and a SKU that never came back is an error, never a gap.
    """
    if not inputs:
        return []
    engine = engine or LocalEngine(jobs)
    for index, inp in enumerate(inputs):
        inp.stan_check = index % settings.stan_check_every == 0
    batch_size = engine.batch_size(len(inputs))
    batches = [inputs[i : i + batch_size] for i in range(0, len(inputs), batch_size)]
    results: dict[str, SkuForecast] = {}
    started = time.perf_counter()

    def finished(batch: list[SkuForecast]) -> None:
        for result in batch:
            results.setdefault(result.sku, result)
        seconds = time.perf_counter() - started
        report(len(results) / len(inputs), progress_message(len(results), len(inputs), seconds))

    engine.run(batches, settings, finished, lambda m: report(len(results) / len(inputs), m))
    missing = [inp.sku for inp in inputs if inp.sku not in results]
    if missing:
        raise RuntimeError(f"{len(missing)} SKU(s) came back without a forecast: {missing[:5]}")
    return [results[inp.sku] for inp in inputs]


_BOUNDS = ("lower_95", "lower_80", "upper_80", "upper_95")


@dataclass
class FamilyShape:
    """A family's forecast for its new SKUs to follow: its regular SKUs' summed forecast per
    unit of their summed last four weeks (``shape``), and each band as a share of the summed
    point (``relative``, in ``_BOUNDS`` order)."""

    shape: np.ndarray
    relative: list[np.ndarray]


def family_shapes(
    panel: Panel, served: dict[int, SkuForecast], families: set[str]
) -> dict[str, FamilyShape]:
    """The ``FamilyShape`` of each of ``families`` that has a regular SKU in ``served``, worked
    out once per family (each new SKU of a family follows the same one): one pass over the
    SKUs, then each family's sums."""
    donors: dict[str, list[int]] = {}
    for r, result in served.items():
        if result.series_type == "regular" and panel.families[r] in families:
            donors.setdefault(panel.families[r], []).append(r)
    shapes = {}
    for family, rows in donors.items():
        family_forecast = np.sum([served[r].forecast.point for r in rows], axis=0)
        family_recent = np.sum([np.nan_to_num(panel.units[r, -4:]).sum() for r in rows]) / 4
        shapes[family] = FamilyShape(
            family_forecast / max(family_recent, 1e-9),
            [
                np.sum([getattr(served[r].forecast, name) for r in rows], axis=0)
                / np.maximum(family_forecast, 1e-9)
                for name in _BOUNDS
            ],
        )
    return shapes


def _family_share(
    panel: Panel, row: int, shapes: dict[str, FamilyShape], horizon: int
) -> tuple[Forecast, str, str]:
    """A new SKU's forecast: its family's forecast shape at the SKU's recent level."""
    _, units = panel.series(row)
    level = float(np.mean(units[-4:])) if len(units) else 0.0
    family = shapes.get(panel.families[row])
    if family is None or level <= 0:
        spread = float(np.std(units[-8:])) if len(units) > 1 else level * 0.3
        return (
            Forecast.flat(level, horizon, spread).clipped(),
            "recent_mean",
            ("new SKU without a family forecast to follow: recent average"),
        )
    point = level * family.shape
    # A new SKU is less certain than its family: widen the family's relative bands by half.
    bounds = [point * (1 + 1.5 * (r - 1)) for r in family.relative]
    reason = f"new SKU ({len(units)} weeks): {panel.families[row]} forecast at its recent level"
    return Forecast(point, *bounds).clipped(), "family_share", reason


def _global_points(
    panel: Panel, rows: list[int], settings: ForecastSettings, jobs: int
) -> tuple[dict[int, dict[int, np.ndarray]], str]:
    """The global model's forecasts of ``rows`` at the final origin and every backtest origin
    (``{row: {origin: points}}``), and the error when it could not fit (else "": the SKUs
    then go without it)."""
    if not rows:
        return {}, ""
    from sop_core.forecast import global_model

    horizon = max(settings.horizon, *settings.backtest_horizons)
    try:
        points = global_model.global_forecasts(
            panel,
            rows,
            [0, *settings.backtest_origins],
            horizon,
            seed=settings.seed,
            threads=jobs,
        )
    except (ValueError, np.linalg.LinAlgError) as error:
        return {}, str(error)[:160] or type(error).__name__
    return points, ""


def forecast_panel(
    panel: Panel,
    settings: ForecastSettings,
    *,
    jobs: int | None = None,
    reused: dict[int, SkuForecast] | None = None,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> tuple[dict[int, SkuForecast], dict[str, float]]:
    """Forecast every SKU of ``panel``, except the rows in ``reused`` (unchanged since an
    earlier run, whose results are kept as they are). ``engine`` runs the regular SKUs' fits
    (default: ``jobs`` processes of this machine; ``cluster.DaskEngine``: a Dask cluster).

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
    report(0.02, "The global model, across all SKUs")
    points, global_failure = _global_points(
        panel, [row for row in rows if kinds[row] in ("regular", "new")], settings, jobs
    )
    for inp in inputs:
        inp.global_points = points.get(inp.row)
    timings = {"global": time.perf_counter() - started}
    fitted = _run_regular(inputs, settings, jobs, lambda f, m: report(0.1 + 0.8 * f, m), engine)
    if global_failure:
        for result in fitted:
            result.failures.setdefault("gbm", global_failure)
    results = {
        inp.row: result
        for inp, result in zip(
            sorted(inputs, key=lambda i: i.sku), sorted(fitted, key=lambda r: r.sku), strict=True
        )
    }
    timings["models"] = time.perf_counter() - started

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
    new_rows = [row for row in range(len(panel.skus)) if row not in results]
    shapes = family_shapes(panel, results, {panel.families[row] for row in new_rows})
    for row in new_rows:
        _, units = panel.series(row)
        forecast, model, reason = _family_share(panel, row, shapes, horizon)
        gbm = points.get(row, {}).get(0)
        if gbm is not None and len(gbm) >= horizon:
            # The global model knows launches like this one: half its forecast, half the
            # family's shape (better than either alone on the short-history sample).
            point = np.maximum(gbm[:horizon], 0.0)
            forecast = _combine(
                [forecast, _bands_like(point, forecast, units, True)], np.array([0.5, 0.5])
            )
            model = "combination"
            reason += "; half the global model's forecast"
        results[row] = SkuForecast(str(panel.skus[row]), "new", model, reason, len(units), forecast)
    return results, timings
