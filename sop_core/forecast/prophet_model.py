"""Prophet's weekly demand model, fitted by Prophet's own compiled Stan program.

``prophet.Prophet`` spends most of a fit in pandas bookkeeping and in cmdstanpy's file
handling; the optimisation itself takes a few milliseconds. Here the same model is set up with
numpy and handed straight to the Stan executable that ships inside the ``prophet`` wheel:

- the same features: yearly Fourier terms (days since the epoch, period 365.25), holiday
  indicators, standardised extra regressors (binary ones as they are), a piecewise-linear trend
  with changepoints spread over the first 80% of the history;
- the same priors and MAP objective (Prophet's ``prophet.stan``: ``k, m ~ N(0, 5)``,
  ``delta ~ Laplace(0, tau)``, ``beta ~ N(0, prior_scale)``, ``sigma_obs ~ N(0, 0.5)``);
- the same forecast and the same uncertainty simulation (future changepoints drawn at Prophet's
  rate with Laplace magnitudes, plus observation noise).

The model is fitted to ``log1p(units)`` with everything additive, so regressor coefficients are
log-uplifts: the coefficient of ``log(net price / list price)`` is the price elasticity.

One objective. :func:`objective` is Stan's (``-lp__`` of prophet.stan's model block, no
Jacobian, constants dropped). The numpy solver minimises exactly that: reweighted least
squares to find which changepoints move, then the exact L1 optimum (feature-sign search)
alternated with sigma's exact minimiser (half-normal prior included). Every fit uses it
(``solver="numpy"``: 2-3 ms); ``solver="stan"`` then runs Stan's L-BFGS from that optimum,
which Stan cannot lower, and checks that the objective Stan reports there is ours. The
engine does that for one SKU in 25 of every run (``ForecastSettings.stan_check_every``): a
Stan run costs 7 ms more per SKU, mostly starting the process, for an answer the tests show
equal to 1e-15. Tests check on 20 sample SKUs that Stan
started where prophet.Prophet starts ends no lower, and that prophet.Prophet configured the
same way has our set-up (its objective on its own inputs is ours) and keeps our optimum.

The coupling. We send prophet.stan's data fields and read its parameters by name, so
requirements.txt pins ``prophet`` and ``cmdstanpy`` exactly (``PROPHET_CHECKED``). On import
this module reads the shipped ``prophet.stan`` (4 kB) and raises ``ProphetMismatchError`` (one
line: the release found, the fields added or missing, the release checked) if its data or
parameters block differs from ``STAN_DATA`` / ``STAN_PARAMETERS``; after each Stan run the
output's parameter names and objective value are checked the same way. :func:`identity`
(prophet release, hash of the Stan program, ``MODEL_VERSION``) goes into the run fingerprint,
so that a new prophet or a change of our set-up refits stored runs.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sop_core.data.calendar import retail_holidays
from sop_core.data.errors import ProphetMismatchError


def _stan_folder() -> Path:
    # Locate the Stan files without importing prophet (whose import pulls in cmdstanpy).
    spec = importlib.util.find_spec("prophet")
    folders = list(spec.submodule_search_locations or []) if spec else []
    return Path(folders[0]) / "stan_model" if folders else Path("missing")


STAN_PROGRAM = _stan_folder() / "prophet_model.bin"
STAN_SOURCE = _stan_folder() / "prophet.stan"  # the program's source, shipped beside it
# The prophet release this module was checked with; requirements.txt pins it (and cmdstanpy).
# Moving the pin: install the new release, run tests/test_forecast_prophet_model.py, update this.
PROPHET_CHECKED = "1.5.0"
# Our side of the coupling: change it when our set-up (features, scaling, changepoints, what
# is sent to Stan) or the objective changes, so that stored runs refit (see identity()).
# 1: the first set-up; 2: the numpy solver minimises Stan's exact objective.
MODEL_VERSION = 2
# What fit() sends to the Stan program (its data block) and reads back (its parameters). The
# import-time check compares both with the shipped prophet.stan.
STAN_DATA = (
    "T", "K", "t", "cap", "y", "S", "t_change", "X", "sigmas", "tau", "trend_indicator",
    "s_a", "s_m",
)  # fmt: skip
STAN_PARAMETERS = ("k", "m", "delta", "sigma_obs", "beta")
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
# prophet.stan's model block: k, m ~ normal(0, 5); sigma_obs ~ normal(0, 0.5), sigma_obs > 0.
TREND_PRIOR_SCALE = 5.0
SIGMA_PRIOR_SCALE = 0.5


def _prophet_version() -> str:
    try:
        return importlib.metadata.version("prophet")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _mismatch(what: str) -> ProphetMismatchError:
    return ProphetMismatchError(
        f"prophet {_prophet_version()} is installed, but {what}; the forecast was checked with "
        f"prophet {PROPHET_CHECKED}: install the versions in requirements.txt"
    )


def stan_block_names(source: str, block: str) -> list[str]:
    """The names declared in one block (``data``, ``parameters``) of a Stan program's text."""
    text = re.sub(r"/\*.*?\*/", " ", source, flags=re.DOTALL)
    text = re.sub(r"//[^\n]*", " ", text)
    match = re.search(rf"(?:^|}})\s*{block}\s*{{([^{{}}]*)}}", text)
    if match is None:
        return []
    statements = [statement.strip() for statement in match.group(1).split(";")]
    return [re.findall(r"\w+", statement)[-1] for statement in statements if statement]


def check_stan_program(source: str | Path | None = None) -> None:
    """Raise :class:`ProphetMismatchError` unless the Stan program declares exactly the data
    ``fit`` sends (``STAN_DATA``) and the parameters it reads (``STAN_PARAMETERS``).

    ``source`` is the program's text, or a path to it (default: the installed prophet.stan).
    Runs when this module is imported; reading the 4 kB source takes well under a millisecond.
    """
    if not isinstance(source, str):
        path = STAN_SOURCE if source is None else source
        try:
            source = path.read_text()
        except OSError:
            raise _mismatch(f"its Stan program's source {path} cannot be read") from None
    for block, ours in (("data", STAN_DATA), ("parameters", STAN_PARAMETERS)):
        theirs = stan_block_names(source, block)
        added = [name for name in theirs if name not in ours]
        missing = [name for name in ours if name not in theirs]
        if added or missing:
            raise _mismatch(
                f"the {block} block of its Stan program differs from what the forecast "
                f"{'sends' if block == 'data' else 'reads'} (added: {', '.join(added) or 'none'}; "
                f"missing: {', '.join(missing) or 'none'})"
            )


@functools.cache
def identity() -> dict[str, str]:
    """What a fit depends on besides the data: the prophet release, the Stan program (source
    and executable) and our set-up. A change of any of them should refit stored runs."""
    digest = hashlib.sha256()
    for path in (STAN_SOURCE, STAN_PROGRAM):
        digest.update(path.read_bytes())
    return {
        "prophet": _prophet_version(),
        "stan_program": digest.hexdigest()[:16],
        "model": str(MODEL_VERSION),
    }


check_stan_program()


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


def _sigma_at(rss: float, count: int) -> float:
    """The sigma_obs that minimises the objective for a given residual sum of squares.

    ``count * log(s) + rss / (2 s^2) + s^2 / (2 * 0.5^2)`` is least where
    ``s^4 / 0.25 + count * s^2 - rss = 0``: ``s^2 = (-count + sqrt(count^2 + 16 rss)) / 8``,
    written here without the cancellation of the two large terms.
    """
    root = np.sqrt(count * count + 4.0 * rss / SIGMA_PRIOR_SCALE**2)
    return float(np.sqrt(max(2.0 * rss / (count + root), 1e-16)))


def _objective(
    residual: np.ndarray,
    sigma: float,
    theta: np.ndarray,
    prior_precision: np.ndarray,
    laplace_columns: slice,
    tau: float,
) -> float:
    """Stan's objective (see :func:`objective`) from the residuals and the coefficients."""
    return float(
        len(residual) * np.log(sigma)
        + residual @ residual / (2 * sigma**2)
        + sigma**2 / (2 * SIGMA_PRIOR_SCALE**2)
        + 0.5 * theta @ (prior_precision * theta)
        + np.abs(theta[laplace_columns]).sum() / tau
    )


def _l1_quadratic(
    hessian: np.ndarray, moment: np.ndarray, theta: np.ndarray, laplace: np.ndarray, weight: float
) -> np.ndarray:
    """Minimise ``theta' H theta / 2 - b' theta + weight * sum(|theta[laplace]|)`` exactly.

    Feature-sign search (Lee, Battle, Raina & Ng, 2007): with the signs of the non-zero
    Laplace coefficients fixed the problem is a linear solve; a step that would flip a sign
    stops where the coefficient reaches zero (whichever point on the way is lowest), and a zero
    coefficient whose gradient exceeds the weight joins with the sign that lowers the
    objective. Warm-started from a nearby solution it ends in a few solves.
    """

    theta = theta.copy()
    # Gradients are differences of terms as large as the moments: test them (and the
    # objective's decrease) at that scale, not at machine zero, or rounding noise keeps the
    # search going.
    tolerance = 1e-9 * (weight + float(np.abs(moment).max()))
    for _ in range(4 * len(theta) + 10):
        gradient = hessian @ theta - moment
        zero = laplace & (theta == 0.0)
        signs = np.where(laplace, np.sign(theta), 0.0)
        violation = np.where(zero, np.abs(gradient) - weight, -np.inf)
        joining = int(np.argmax(violation))
        if violation[joining] > tolerance:
            signs[joining] = -np.sign(gradient[joining])
            zero[joining] = False
        elif np.all(np.abs(gradient[~zero] + weight * signs[~zero]) <= tolerance):
            break
        active = ~zero
        target = theta.copy()
        target[active] = np.linalg.solve(
            hessian[np.ix_(active, active)], moment[active] - weight * signs[active]
        )
        direction = target - theta
        # Along the step the objective is the fixed-sign quadratic until a Laplace coefficient
        # reaches zero; try each such point and the full step. Changes are computed as
        # differences: the objective itself is large and would swamp them.
        slope, curvature = float(gradient @ direction), float(direction @ hessian @ direction)
        crossing = np.flatnonzero(laplace & ~zero & (theta != 0) & (target * theta <= 0))
        stops = theta[crossing] / (theta[crossing] - target[crossing])
        # A step that zeroes a coefficient counts however small its gain (the active set
        # changes); a full step must gain more than rounding noise, or the search is done.
        noise = 1e-12 * (float(np.abs(moment) @ np.abs(theta)) + 1.0)
        best, best_change = None, 0.0
        for step, index in [*zip(stops.tolist(), crossing.tolist(), strict=True), (1.0, -1)]:
            candidate = theta + step * direction
            if index >= 0:
                candidate[index] = 0.0
            change = (
                step * slope
                + 0.5 * step**2 * curvature
                + weight * (np.abs(candidate[laplace]).sum() - np.abs(theta[laplace]).sum())
            )
            if change < best_change and (index >= 0 or change < -noise):
                best, best_change = candidate, change
        if best is None and violation[joining] > tolerance:
            # The joint step took the new coefficient the wrong way: move it alone instead
            # (the exact one-dimensional minimiser, soft thresholding), which always descends.
            best = theta.copy()
            best[joining] = (
                signs[joining] * (abs(gradient[joining]) - weight) / hessian[joining, joining]
            )
        if best is None:
            break
        theta = best
    return theta


def _penalised_fit(
    design: np.ndarray,
    y: np.ndarray,
    prior_precision: np.ndarray,
    laplace_columns: slice,
    tau: float,
    iterations: int = 25,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Minimise Stan's objective (:func:`objective`) in numpy.

    First a few rounds of iteratively reweighted least squares: the Gaussian priors are ridge
    penalties and the Laplace prior on the changepoints is replaced by the quadratic that
    touches it at the current solution (a majoriser, so each round lowers the objective);
    sigma takes its exact minimiser given the residuals (:func:`_sigma_at`, the half-normal
    prior included). That finds which changepoints move. Then the exact optimum: for fixed
    sigma the coefficients solve an L1-penalised quadratic (:func:`_l1_quadratic`, changepoints
    exactly zero where Stan's optimum has them near zero), alternated with sigma's update
    until sigma stops moving. Returns the coefficients, sigma and the IRLS penalty at the
    optimum (the curvature used for the Laplace approximation of the covariance).
    """
    gram, moment = design.T @ design, design.T @ y
    count = len(y)
    laplace = np.zeros(design.shape[1], dtype=bool)
    laplace[laplace_columns] = True
    penalty = prior_precision.copy()
    penalty[laplace] = 1.0 / tau**2
    sigma = max(float(np.std(y)), 1e-3)
    theta = np.zeros(design.shape[1])
    for _ in range(iterations):
        previous = theta
        theta = np.linalg.solve(gram / sigma**2 + np.diag(penalty), moment / sigma**2)
        residual = y - design @ theta
        sigma = _sigma_at(float(residual @ residual), count)
        penalty[laplace] = 1.0 / (tau * np.maximum(np.abs(theta[laplace]), 1e-8))
        if np.max(np.abs(theta - previous)) < 1e-5:
            break

    # Changepoints the reweighting has all but switched off start at zero.
    theta[laplace & (np.abs(theta) < 1e-6)] = 0.0
    for _ in range(100):
        theta = _l1_quadratic(
            gram / sigma**2 + np.diag(prior_precision), moment / sigma**2, theta, laplace, 1 / tau
        )
        residual = y - design @ theta
        previous, sigma = sigma, _sigma_at(float(residual @ residual), count)
        if abs(sigma - previous) <= 1e-10 * sigma:
            break
    penalty[laplace] = 1.0 / (tau * np.maximum(np.abs(theta[laplace]), 1e-6))
    return theta, sigma, penalty


def _json(values: dict) -> str:
    # repr() of lists of finite floats is valid JSON, round-trips exactly (Stan sees the data
    # numpy fits) and is several times faster than json.dumps.
    parts = []
    for key, value in values.items():
        text = repr(value.tolist()) if isinstance(value, np.ndarray) else json.dumps(value)
        parts.append(f'"{key}":{text}')
    return "{" + ",".join(parts) + "}"


# What L-BFGS says when it cannot lower the objective from where it stands: started at the
# numpy optimum, that is the expected outcome, and the output holds the point.
_NO_PROGRESS = "no more progress can be made"


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
        out_file.unlink(missing_ok=True)
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
                    "sig_figs=18",
                ],
                capture_output=True,
                text=True,
                timeout=STAN_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise StanFitError(f"Stan took more than {STAN_TIMEOUT} s") from None
        stopped = _NO_PROGRESS in result.stdout + result.stderr
        if (result.returncode == 0 or stopped) and out_file.exists():
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
    missing = [name for name in (*STAN_PARAMETERS, "lp__") if name not in params]
    if missing:
        raise _mismatch(f"its Stan program's output lacks {', '.join(missing)}")
    return {name: np.array(v) for name, v in params.items()}


def fit(
    weeks: np.ndarray,
    y: np.ndarray,
    regressors: np.ndarray,
    regressor_names: Sequence[str],
    settings: ProphetSettings = ProphetSettings(),
    workdir: Path | None = None,
    solver: str = "stan",
    stan_start: str = "optimum",
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
        ``"numpy"``: Stan's objective (:func:`objective`) minimised in numpy (exactly: its
        optimum is the one Stan finds, or lower). ``"stan"``: that, then Prophet's Stan
        optimiser (L-BFGS) from there; the objective Stan reports at its answer must equal
        ours, or :class:`ProphetMismatchError` is raised.
    stan_start
        Where Stan starts: ``"optimum"``, the numpy solution (Stan confirms it in one
        iteration); ``"prophet"``, where ``prophet.Prophet`` starts (a line through the first
        and last points, everything else zero), to see Stan find the optimum on its own.
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
    precision = np.concatenate([np.full(2, TREND_PRIOR_SCALE**-2.0), np.zeros(n_cp), sigmas**-2.0])
    theta, sigma, penalty = _penalised_fit(
        design,
        y_scaled,
        precision,
        cp,
        settings.changepoint_prior_scale,
    )
    if solver == "stan":
        values = {
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
        data = {name: values[name] for name in STAN_DATA}  # the fields the check compared
        if stan_start == "prophet":
            k0 = (y_scaled[-1] - y_scaled[0]) / (t[-1] - t[0]) if t[-1] > t[0] else 0.0
            start_theta = np.zeros(len(theta))
            start_theta[:2] = k0, y_scaled[0] - k0 * t[0]
            start_sigma = 1.0
        else:
            start_theta, start_sigma = theta, max(sigma, 1e-3)
        init = {
            "k": float(start_theta[0]),
            "m": float(start_theta[1]),
            "delta": start_theta[cp],
            "sigma_obs": start_sigma,
            "beta": start_theta[2 + n_cp :],
        }
        if workdir is None:
            with tempfile.TemporaryDirectory(prefix="sop-stan-") as folder:
                params = _run_stan(data, init, Path(folder))
        else:
            params = _run_stan(data, init, workdir)
        k, m = float(params["k"][0]), float(params["m"][0])
        delta, beta, sigma = params["delta"], params["beta"], float(params["sigma_obs"][0])
        # One objective: Stan's own value at its answer (lp__, constants dropped as in ours)
        # must be ours. A changed prior or likelihood in a new prophet shows here.
        stan_value = -float(params["lp__"][0])
        coefficients = np.concatenate([[k, m], delta, beta])
        our_value = _objective(
            y_scaled - design @ coefficients,
            sigma,
            coefficients,
            precision,
            cp,
            settings.changepoint_prior_scale,
        )
        if not abs(stan_value - our_value) <= 1e-7 * max(1.0, abs(stan_value)):
            raise _mismatch(
                f"its Stan program's objective is not the one the forecast solves "
                f"(Stan {stan_value:.9g}, ours {our_value:.9g} at Stan's optimum)"
            )
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


def _components(
    fit_: ProphetFit, weeks: np.ndarray, regressors: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scaled time, trend and the other terms (on the scaled series) for ``weeks``."""
    days = days_since_epoch(weeks)
    t = (days - fit_.start_day) / fit_.t_scale_days
    cp = fit_.changepoints_t
    active = (cp[None, :] <= t[:, None]) * fit_.delta[None, :]
    trend = (fit_.k + active.sum(axis=1)) * t + fit_.m + (active * -cp[None, :]).sum(axis=1)
    return t, trend, _features_for(fit_, days, regressors) @ fit_.beta


def objective(
    fit_: ProphetFit,
    weeks: np.ndarray,
    y: np.ndarray,
    regressors: dict[str, np.ndarray],
    settings: ProphetSettings = ProphetSettings(),
) -> float:
    """The negative log posterior of a fit on its history: what Stan's ``optimize`` minimises
    for prophet.stan (``-lp__``: no Jacobian, constants dropped), on the scaled series.

    ``T log(sigma) + RSS / (2 sigma^2) + sigma^2 / (2 * 0.5^2) + (k^2 + m^2) / (2 * 5^2)
    + sum(|delta|) / tau + sum(beta^2 / (2 * prior_scale^2))``. ``weeks``, ``y`` and
    ``regressors`` (by name, as for :func:`predict_log`) are the history the fit saw.
    """
    _, trend, other = _components(fit_, weeks, regressors)
    scales = np.concatenate(
        [
            np.full(2 * fit_.yearly_order, settings.seasonality_prior_scale),
            np.full(len(fit_.holiday_columns), settings.holidays_prior_scale),
            np.full(len(fit_.regressor_names), settings.regressor_prior_scale),
        ]
    )
    n_cp = len(fit_.changepoints_t)
    return _objective(
        np.asarray(y) / fit_.y_scale - trend - other,
        fit_.sigma_obs,
        np.concatenate([[fit_.k, fit_.m], fit_.delta, fit_.beta]),
        np.concatenate([np.full(2, TREND_PRIOR_SCALE**-2.0), np.zeros(n_cp), scales**-2.0]),
        slice(2, 2 + n_cp),
        settings.changepoint_prior_scale,
    )


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
    t, trend, other = _components(fit_, weeks, regressors)
    yhat = (trend + other) * fit_.y_scale
    if samples <= 0:
        return yhat, np.empty((0, len(weeks)))

    # Future changepoints: Prophet's Poisson rate S per unit of t beyond the history (t = 1),
    # Laplace magnitudes with the fitted changepoints' mean absolute size.
    future_t = np.maximum(t, 1.0)
    step = np.diff(np.concatenate([[1.0], future_t]))
    rate = len(fit_.changepoints_t) * step
    happens = rng.random((samples, len(t))) < (1 - np.exp(-rate))[None, :]
    where = np.concatenate([[1.0], future_t])[:-1][None, :] + rng.random((samples, len(t))) * step
    scale = float(np.mean(np.abs(fit_.delta))) + 1e-8
    change = happens * rng.laplace(0.0, scale, (samples, len(t)))
    extra_trend = np.cumsum(change, axis=1) * future_t[None, :] - np.cumsum(change * where, axis=1)
    noise = rng.normal(0.0, fit_.sigma_obs, (samples, len(t)))
    paths = (trend[None, :] + extra_trend + other[None, :] + noise) * fit_.y_scale
    return yhat, paths
