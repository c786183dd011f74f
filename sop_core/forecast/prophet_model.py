"""Prophet's weekly demand model, fitted by Prophet's own compiled Stan program.

``prophet.Prophet`` spends most of a fit in pandas bookkeeping and in cmdstanpy's file
handling; the optimisation itself takes a few milliseconds. Here the same model is set up with
numpy and handed straight to the Stan executable that ships inside the ``prophet`` wheel:

- the same features: yearly Fourier terms (days since the epoch, period 365.25), holiday
  indicators, standardised extra regressors, a piecewise-linear trend with changepoints spread
  over the first 80% of the history;
- the same priors and MAP objective (Prophet's ``prophet.stan``: ``k, m ~ N(0, 5)``,
  ``delta ~ Laplace(0, tau)``, ``beta ~ N(0, prior_scale)``, ``sigma_obs ~ N(0, 0.5)``);
- the same forecast and the same uncertainty simulation (future changepoints drawn at Prophet's
  rate with Laplace magnitudes, plus observation noise).

A test checks that the forecasts agree with ``prophet.Prophet`` on the same series. The model is
fitted to ``log1p(units)`` with everything additive, so regressor coefficients are log-uplifts:
the coefficient of ``log(net price / list price)`` is the price elasticity. Starting the optimiser
from a penalised least-squares solution (an IRLS approximation of the same objective) makes it
converge in a few iterations.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sop_core.data.calendar import retail_holidays


def _stan_program() -> Path:
    # Locate the executable without importing prophet (whose import pulls in cmdstanpy).
    spec = importlib.util.find_spec("prophet")
    folders = list(spec.submodule_search_locations or []) if spec else []
    return Path(folders[0]) / "stan_model" / "prophet_model.bin" if folders else Path("missing")


STAN_PROGRAM = _stan_program()
YEAR_DAYS = 365.25
# Holiday windows in weeks relative to the week that contains the holiday: shoppers buy
# gifts in the weeks before Christmas, Valentine's Day and Mother's Day.
HOLIDAY_WINDOWS: dict[str, tuple[int, int]] = {
    "Black Friday": (0, 0),
    "Christmas": (-2, 0),
    "Valentine's Day": (-1, 0),
    "Mother's Day": (-1, 0),
}


STAN_TIMEOUT = 60  # seconds; a fit takes milliseconds


class StanFitError(RuntimeError):
    """The Stan optimiser failed for a series."""


@dataclass(frozen=True)
class ProphetSettings:
    """Prophet's knobs for weekly demand (Prophet's defaults where not stated)."""

    yearly_order: int = 8
    n_changepoints: int = 25
    changepoint_range: float = 0.8
    changepoint_prior_scale: float = 0.05
    seasonality_prior_scale: float = 10.0
    holidays_prior_scale: float = 10.0
    regressor_prior_scale: float = 10.0
    uncertainty_samples: int = 300


@dataclass
class ProphetFit:
    """A fitted series: enough to forecast any future weeks and to report driver effects."""

    start_day: float  # first history week, days since the epoch
    t_scale_days: float
    y_scale: float
    changepoints_t: np.ndarray
    k: float
    m: float
    delta: np.ndarray
    sigma_obs: float
    beta: np.ndarray
    yearly_order: int
    holiday_columns: list[tuple[str, int]]
    regressor_names: list[str]
    regressor_mean: np.ndarray
    regressor_std: np.ndarray
    # Laplace approximation of the coefficients' covariance (scaled beta space).
    beta_covariance: np.ndarray = field(repr=False)

    def regressor_effects(self) -> dict[str, tuple[float, float]]:
        """Per kept regressor: (coefficient, standard error) on ``log1p(units)`` per unit of
        the raw regressor."""
        first = 2 * self.yearly_order + len(self.holiday_columns)
        effects = {}
        for i, name in enumerate(self.regressor_names):
            scale = self.y_scale / self.regressor_std[i]
            variance = self.beta_covariance[first + i, first + i]
            effects[name] = (
                float(self.beta[first + i] * scale),
                float(np.sqrt(max(variance, 0.0)) * scale),
            )
        return effects

    def regressor_covariance(self, a: str, b: str) -> float:
        """Covariance of two regressors' raw coefficients."""
        first = 2 * self.yearly_order + len(self.holiday_columns)
        i, j = self.regressor_names.index(a), self.regressor_names.index(b)
        scale = self.y_scale**2 / (self.regressor_std[i] * self.regressor_std[j])
        return float(self.beta_covariance[first + i, first + j] * scale)


def days_since_epoch(weeks: np.ndarray) -> np.ndarray:
    """Week keys (datetime64) as float days since 1970-01-01, as Prophet counts them."""
    return weeks.astype("datetime64[D]").astype(np.int64).astype(float)


def fourier_features(days: np.ndarray, order: int) -> np.ndarray:
    """Prophet's yearly Fourier terms: columns sin(1), cos(1), sin(2), cos(2), ..."""
    angle = 2 * np.pi * days[:, None] * np.arange(1, order + 1)[None, :] / YEAR_DAYS
    features = np.empty((len(days), 2 * order))
    features[:, 0::2] = np.sin(angle)
    features[:, 1::2] = np.cos(angle)
    return features


def holiday_features(days: np.ndarray) -> tuple[np.ndarray, list[tuple[str, int]]]:
    """One indicator column per (holiday, week offset) that falls on a week in ``days``."""
    if len(days) == 0:
        return np.zeros((0, 0)), []
    if len(days) > 1 and np.all(np.diff(days) == 7):
        block, names = _holiday_block(int(days[0]), len(days))
        return block.copy(), names
    return _holiday_columns(days)


@functools.lru_cache(maxsize=64)
def _holiday_block(first_day: int, count: int) -> tuple[np.ndarray, list[tuple[str, int]]]:
    # Every SKU on the same week grid shares these columns: compute them once.
    return _holiday_columns(first_day + 7.0 * np.arange(count))


def _holiday_columns(days: np.ndarray) -> tuple[np.ndarray, list[tuple[str, int]]]:
    first = np.datetime64(int(days.min()), "D").astype(object).year
    last = np.datetime64(int(days.max()), "D").astype(object).year
    columns: dict[tuple[str, int], np.ndarray] = {}
    for holiday in retail_holidays(range(first - 1, last + 2)):
        low, high = HOLIDAY_WINDOWS[holiday.name]
        day = (np.datetime64(holiday.date, "D") - np.datetime64(0, "D")).astype(int)
        for offset in range(low, high + 1):
            # The grid's week that contains the day (whatever weekday the grid's keys are):
            # a holiday never falls between two weekly keys and gets lost.
            shifted = int(day) + 7 * offset
            row = int(np.searchsorted(days, shifted, side="right")) - 1
            if row < 0 or shifted >= days[row] + 7:
                row = None
            key = (holiday.name, offset)
            if key not in columns:
                columns[key] = np.zeros(len(days))
            if row is not None:
                columns[key][row] = 1.0
    names = sorted(columns)
    return np.column_stack([columns[n] for n in names]), names


def _changepoints(t: np.ndarray, settings: ProphetSettings) -> np.ndarray:
    hist_size = int(np.floor(len(t) * settings.changepoint_range))
    n = min(settings.n_changepoints, hist_size - 1)
    if n <= 0:
        return np.array([0.0])  # Prophet's dummy changepoint
    indexes = np.linspace(0, hist_size - 1, n + 1).round().astype(int)
    return np.sort(t[indexes][1:])


def _trend_columns(t: np.ndarray, changepoints_t: np.ndarray) -> np.ndarray:
    """Columns of the linear trend in (k, m, delta...): t, 1, max(t - s_j, 0)."""
    return np.column_stack(
        [t, np.ones(len(t)), np.maximum(t[:, None] - changepoints_t[None, :], 0.0)]
    )


def _penalised_fit(
    design: np.ndarray,
    y: np.ndarray,
    prior_precision: np.ndarray,
    laplace_columns: slice,
    tau: float,
    iterations: int,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Prophet's MAP objective solved by iteratively reweighted least squares.

    The Gaussian priors are ridge penalties; the Laplace prior on the changepoints is replaced,
    at each iteration, by the quadratic that touches it at the current solution; sigma is
    re-estimated from the residuals. Returns the coefficients, sigma and the final penalty
    (also the curvature used for the Laplace approximation of the covariance).
    """
    gram, moment = design.T @ design, design.T @ y
    penalty = prior_precision.copy()
    penalty[laplace_columns] = 1.0 / tau**2
    sigma2 = max(float(np.var(y)), 1e-6)
    theta = np.zeros(design.shape[1])
    for _ in range(iterations):
        previous = theta
        theta = np.linalg.solve(gram / sigma2 + np.diag(penalty), moment / sigma2)
        residual = y - design @ theta
        sigma2 = max(float(residual @ residual) / len(y), 1e-8)
        penalty[laplace_columns] = 1.0 / (tau * np.maximum(np.abs(theta[laplace_columns]), 1e-6))
        if np.max(np.abs(theta - previous)) < 1e-6:
            break
    return theta, float(np.sqrt(sigma2)), penalty


def _json(values: dict) -> str:
    # repr() of lists of finite floats is valid JSON and several times faster than json.dumps.
    parts = []
    for key, value in values.items():
        # Seven decimals is far below the noise of scaled data and halves the encoding time.
        text = repr(value.round(7).tolist()) if isinstance(value, np.ndarray) else json.dumps(value)
        parts.append(f'"{key}":{text}')
    return "{" + ",".join(parts) + "}"


def _run_stan(data: dict, init: dict, workdir: Path) -> dict[str, np.ndarray]:
    data_file, init_file, out_file = (
        workdir / "data.json",
        workdir / "init.json",
        workdir / "out.csv",
    )
    data_file.write_text(_json(data))
    init_file.write_text(_json(init))
    result = None
    for algorithm in ("lbfgs", "newton"):
        try:
            result = subprocess.run(
                [
                    str(STAN_PROGRAM),
                    "optimize",
                    f"algorithm={algorithm}",
                    "iter=10000",
                    "data",
                    f"file={data_file}",
                    f"init={init_file}",
                    "output",
                    f"file={out_file}",
                    "refresh=0",
                ],
                capture_output=True,
                text=True,
                timeout=STAN_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise StanFitError(f"Stan took more than {STAN_TIMEOUT} s") from None
        if result.returncode == 0 and out_file.exists():
            break
    else:
        detail = result.stderr.strip().splitlines() if result is not None else []
        raise StanFitError(detail[-1] if detail else f"Stan exited with {result.returncode}")
    try:
        lines = [line for line in out_file.read_text().splitlines() if line and line[0] != "#"]
        names = lines[0].split(",")
        values = np.array(lines[1].split(","), dtype=float)
    except (IndexError, ValueError, OSError) as error:
        raise StanFitError(f"unreadable Stan output ({error})") from None
    finally:
        out_file.unlink(missing_ok=True)
    params: dict[str, list[float]] = {}
    for name, value in zip(names, values, strict=True):
        params.setdefault(name.split(".")[0], []).append(value)
    return {name: np.array(v) for name, v in params.items()}


def fit(
    weeks: np.ndarray,
    y: np.ndarray,
    regressors: np.ndarray,
    regressor_names: Sequence[str],
    settings: ProphetSettings = ProphetSettings(),
    workdir: Path | None = None,
    solver: str = "stan",
) -> ProphetFit:
    """Fit Prophet's model to one weekly series.

    Parameters
    ----------
    weeks
        Week keys (``datetime64``), increasing, one per observation.
    y
        The series (here ``log1p(units)``).
    regressors
        ``(len(y), R)`` extra regressors; a column without variation is dropped (its effect
        cannot be told from the data).
    regressor_names
        Names of the regressor columns.
    solver
        ``"stan"``: Prophet's Stan optimiser, started from the least-squares solution.
        ``"numpy"``: the same objective solved by reweighted least squares only (used for
        backtest refits, where it matches Stan's optimum to well under 1% of the forecast).
    """
    days = days_since_epoch(weeks)
    start, t_scale = days[0], max(days[-1] - days[0], 1.0)
    t = (days - start) / t_scale
    y_scale = float(np.abs(y).max()) or 1.0
    y_scaled = y / y_scale
    changepoints_t = _changepoints(t, settings)

    seasonal = fourier_features(days, settings.yearly_order)
    holidays, holiday_columns = holiday_features(days)
    keep_holidays = holidays.any(axis=0) if holidays.size else np.zeros(0, dtype=bool)
    holidays = holidays[:, keep_holidays]
    holiday_columns = [c for c, k in zip(holiday_columns, keep_holidays, strict=True) if k]

    kept, means, stds, columns = [], [], [], []
    for i, name in enumerate(regressor_names):
        column = regressors[:, i]
        std = float(np.std(column, ddof=1)) if len(column) > 1 else 0.0
        if not np.isfinite(std) or std < 1e-9:
            continue
        binary = bool(np.all((column == 0.0) | (column == 1.0)))
        mean, scale = (0.0, 1.0) if binary else (float(column.mean()), std)
        kept.append(name)
        means.append(mean)
        stds.append(scale)
        columns.append((column - mean) / scale)
    features = np.column_stack([seasonal, holidays, *columns])
    sigmas = np.concatenate(
        [
            np.full(seasonal.shape[1], settings.seasonality_prior_scale),
            np.full(holidays.shape[1], settings.holidays_prior_scale),
            np.full(len(kept), settings.regressor_prior_scale),
        ]
    )

    design = np.column_stack([_trend_columns(t, changepoints_t), features])
    n_cp = len(changepoints_t)
    cp = slice(2, 2 + n_cp)
    precision = np.concatenate([[1 / 25, 1 / 25], np.zeros(n_cp), 1 / sigmas**2])
    theta, sigma, penalty = _penalised_fit(
        design,
        y_scaled,
        precision,
        cp,
        settings.changepoint_prior_scale,
        iterations=30 if solver == "numpy" else 8,
    )
    if solver == "stan":
        data = {
            "T": len(y),
            "K": features.shape[1],
            "S": n_cp,
            "t": t,
            "cap": np.zeros(len(y)),
            "y": y_scaled,
            "t_change": changepoints_t,
            "X": features,
            "sigmas": sigmas,
            "tau": settings.changepoint_prior_scale,
            "trend_indicator": 0,
            "s_a": np.ones(features.shape[1]),
            "s_m": np.zeros(features.shape[1]),
        }
        init = {
            "k": float(theta[0]),
            "m": float(theta[1]),
            "delta": theta[cp],
            "sigma_obs": max(sigma, 1e-3),
            "beta": theta[2 + n_cp :],
        }
        if workdir is None:
            with tempfile.TemporaryDirectory(prefix="sop-stan-") as folder:
                params = _run_stan(data, init, Path(folder))
        else:
            params = _run_stan(data, init, workdir)
        k, m = float(params["k"][0]), float(params["m"][0])
        delta, beta, sigma = params["delta"], params["beta"], float(params["sigma_obs"][0])
        penalty[cp] = 1.0 / (settings.changepoint_prior_scale * np.maximum(np.abs(delta), 1e-6))
    else:
        k, m, delta, beta = float(theta[0]), float(theta[1]), theta[cp], theta[2 + n_cp :]

    # Laplace approximation of the coefficients' covariance: the curvature of the objective at
    # the optimum (the L1 prior on changepoints replaced by its touching quadratic).
    hessian = design.T @ design / sigma**2 + np.diag(penalty)
    covariance = np.linalg.inv(hessian)[2 + n_cp :, 2 + n_cp :]
    return ProphetFit(
        start_day=start,
        t_scale_days=t_scale,
        y_scale=y_scale,
        changepoints_t=changepoints_t,
        k=k,
        m=m,
        delta=delta,
        sigma_obs=sigma,
        beta=beta,
        yearly_order=settings.yearly_order,
        holiday_columns=holiday_columns,
        regressor_names=kept,
        regressor_mean=np.array(means),
        regressor_std=np.array(stds),
        beta_covariance=covariance,
    )


def _features_for(
    fit_: ProphetFit, days: np.ndarray, regressors: dict[str, np.ndarray]
) -> np.ndarray:
    seasonal = fourier_features(days, fit_.yearly_order)
    all_holidays, names = holiday_features(days)
    by_name = dict(zip(names, all_holidays.T, strict=True)) if names else {}
    holidays = [by_name.get(c, np.zeros(len(days))) for c in fit_.holiday_columns]
    extra = [
        (regressors[n] - fit_.regressor_mean[i]) / fit_.regressor_std[i]
        for i, n in enumerate(fit_.regressor_names)
    ]
    return np.column_stack([seasonal, *holidays, *extra])


def predict_log(
    fit_: ProphetFit,
    weeks: np.ndarray,
    regressors: dict[str, np.ndarray],
    samples: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Point forecast and simulated paths on the model's scale (``log1p(units)``).

    Returns ``(yhat, paths)`` with ``paths`` of shape ``(samples, len(weeks))``; the paths add
    Prophet's trend uncertainty (new changepoints in the future) and observation noise.
    """
    days = days_since_epoch(weeks)
    t = (days - fit_.start_day) / fit_.t_scale_days
    cp = fit_.changepoints_t
    active = (cp[None, :] <= t[:, None]) * fit_.delta[None, :]
    trend = (fit_.k + active.sum(axis=1)) * t + fit_.m + (active * -cp[None, :]).sum(axis=1)
    other = _features_for(fit_, days, regressors) @ fit_.beta
    yhat = (trend + other) * fit_.y_scale
    if samples <= 0:
        return yhat, np.empty((0, len(weeks)))

    # Future changepoints: Prophet's Poisson rate S per unit of t beyond the history (t = 1),
    # Laplace magnitudes with the fitted changepoints' mean absolute size.
    future_t = np.maximum(t, 1.0)
    step = np.diff(np.concatenate([[1.0], future_t]))
    rate = len(cp) * step
    happens = rng.random((samples, len(t))) < (1 - np.exp(-rate))[None, :]
    where = np.concatenate([[1.0], future_t])[:-1][None, :] + rng.random((samples, len(t))) * step
    scale = float(np.mean(np.abs(fit_.delta))) + 1e-8
    change = happens * rng.laplace(0.0, scale, (samples, len(t)))
    extra_trend = np.cumsum(change, axis=1) * future_t[None, :] - np.cumsum(change * where, axis=1)
    noise = rng.normal(0.0, fit_.sigma_obs, (samples, len(t)))
    paths = (trend[None, :] + extra_trend + other[None, :] + noise) * fit_.y_scale
    return yhat, paths
