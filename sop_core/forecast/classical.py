"""Challengers and methods for odd series: seasonal naive, statsforecast's Theta, a
Croston-type method for intermittent demand, and family share for new launches.

Each returns weekly forecasts with 80% and 95% bounds as a ``Forecast``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from sop_core.forecast.metrics import SEASON

QUANTILES = (0.025, 0.10, 0.90, 0.975)


@dataclass
class Forecast:
    """Weekly forecast of one SKU: the point and the 95%/80% bounds, all in units."""

    point: np.ndarray
    lower_95: np.ndarray
    lower_80: np.ndarray
    upper_80: np.ndarray
    upper_95: np.ndarray

    @classmethod
    def flat(cls, value: float, horizon: int, spread: float = 0.0) -> Forecast:
        """A constant forecast; ``spread`` is the standard deviation of a week (the 80% band
        is +-1.28 of it, the 95% band +-1.96)."""
        point = np.full(horizon, max(value, 0.0))
        return cls(
            point,
            np.maximum(point - 1.96 * spread, 0.0),
            np.maximum(point - 1.28 * spread, 0.0),
            point + 1.28 * spread,
            point + 1.96 * spread,
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.point, self.lower_95, self.lower_80, self.upper_80, self.upper_95)

    def clipped(self) -> Forecast:
        """No negative values, and bounds that enclose the point."""
        point = np.maximum(np.nan_to_num(self.point), 0.0)
        lower_95 = np.minimum(np.maximum(np.nan_to_num(self.lower_95), 0.0), point)
        lower_80 = np.clip(np.nan_to_num(self.lower_80), lower_95, point)
        upper_80 = np.maximum(np.nan_to_num(self.upper_80), point)
        upper_95 = np.maximum(np.nan_to_num(self.upper_95), upper_80)
        return Forecast(point, lower_95, lower_80, upper_80, upper_95)


def seasonal_naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """The value of the same week a year earlier (or the last value with less than a year)."""
    if len(history) >= SEASON:
        last_year = history[-SEASON:]
        return np.resize(last_year, horizon) if horizon > SEASON else last_year[:horizon].copy()
    return np.full(horizon, history[-1] if len(history) else 0.0)


def croston_sba(history: np.ndarray, horizon: int, alpha: float = 0.1) -> Forecast:
    """Syntetos-Boylan approximation of Croston's method for intermittent demand.

    Smooths the non-zero demand sizes and the intervals between them; the weekly rate is
    ``(1 - alpha / 2) * size / interval``. Bounds are the empirical quantiles of the last year's
    weekly demand (they are not centred on the rate, because single weeks are lumpy).
    """
    nonzero = np.flatnonzero(history > 0)
    if len(nonzero) == 0:
        return Forecast.flat(0.0, horizon)
    size, interval = float(history[nonzero[0]]), float(nonzero[0] + 1)
    for previous, current in itertools.pairwise(nonzero):
        size += alpha * (history[current] - size)
        interval += alpha * ((current - previous) - interval)
    rate = (1 - alpha / 2) * size / max(interval, 1.0)
    recent = history[-SEASON:]
    q = np.quantile(recent, QUANTILES)
    point = np.full(horizon, rate)
    return Forecast(point, *(np.full(horizon, v) for v in q)).clipped()


def empirical_bounds(point: np.ndarray, log_errors: np.ndarray) -> Forecast:
    """Bounds from the quantiles of past log-scale errors, applied around ``point``."""
    if len(log_errors) < 8:
        log_errors = np.array([-0.3, 0.3])
    q = np.quantile(log_errors, QUANTILES)
    base = np.log1p(np.maximum(point, 0.0))
    bounds = [np.expm1(base + v) for v in q]
    return Forecast(point, *bounds).clipped()
