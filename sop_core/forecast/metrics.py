"""The one definition of MASE, shared by the backtest of a forecast run and accuracy by lag.

MASE (Hyndman & Koehler 2006, in its seasonal form) is the mean absolute error of a forecast
divided by the in-sample mean absolute error of the seasonal naive forecast (the same week 52
weeks earlier) on the history up to and including the forecast origin:

    scale = mean |y_t - y_{t-52}| over the history's weeks t that have a week t - 52
    MASE  = mean over forecast weeks of |F - A| / scale

Below 1, the forecast missed by less than the seasonal naive forecast typically did over the
history the forecaster had. The scale is undefined (NaN) when the history has no pair of weeks
52 apart (52 weeks or fewer of history) or when every such pair is equal (a zero scale): those
weeks are left out of MASE, never scaled by something else, so that every MASE shown is on the
same scale. Weeks before a series starts are NaN and make no pair; a week without sales inside
its life is 0.

The backtest scales each SKU by its own history; accuracy by lag scales a scope (the company,
a family, ...) by its summed history. WAPE and bias are ratios of sums and need no scale.
"""

from __future__ import annotations

import numpy as np

SEASON = 52


def seasonal_naive_scales(series: np.ndarray, season: int = SEASON) -> np.ndarray:
    """The MASE scale at every week: what it would be with the history ending that week.

    Parameters
    ----------
    series
        Weekly values along the last axis (one series, or one row per series); NaN before a
        series starts.
    season
        The seasonal naive's lag in weeks.

    Returns
    -------
    ndarray
        The shape of ``series``: at week ``t``, the mean of ``|y_s - y_{s-season}|`` over the
        weeks ``s <= t`` where both values are known; NaN where there is no such pair or the
        mean is 0.
    """
    values = np.asarray(series, dtype=float)
    scales = np.full(values.shape, np.nan)
    if values.shape[-1] <= season:
        return scales
    gaps = np.abs(values[..., season:] - values[..., :-season])
    known = ~np.isnan(gaps)
    # Running sums: column j covers the pairs (s, s - season) for s <= j + season.
    total = np.cumsum(np.where(known, gaps, 0.0), axis=-1)
    count = np.cumsum(known, axis=-1)
    mean = np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)
    scales[..., season:] = np.where(mean > 0, mean, np.nan)
    return scales


def seasonal_naive_scale(history: np.ndarray, season: int = SEASON) -> float:
    """The MASE scale of one weekly history at its last week (see ``seasonal_naive_scales``):
    the in-sample MAE of the seasonal naive forecast, NaN when undefined."""
    history = np.asarray(history, dtype=float)
    if len(history) == 0:
        return float("nan")
    return float(seasonal_naive_scales(history, season)[-1])


def scaled_errors(
    forecast: np.ndarray, actual: np.ndarray, scale: np.ndarray | float
) -> np.ndarray:
    """``|forecast - actual| / scale`` per week: the terms MASE averages. NaN where the scale is
    NaN (those weeks are left out of MASE)."""
    error = np.asarray(forecast, dtype=float) - np.asarray(actual, dtype=float)
    return np.abs(error) / np.asarray(scale, dtype=float)
