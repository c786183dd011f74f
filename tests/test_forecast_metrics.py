"""MASE's one definition: the in-sample MAE of the 52-week seasonal naive as the scale."""

from __future__ import annotations

import numpy as np
import pytest

from sop_core.forecast import metrics


def test_scale_is_the_in_sample_error_of_last_years_same_week():
    # Two years: 10 a week, then 13 a week; every week is 3 off the same week a year earlier
    # (the lag-1 naive's in-sample error would be 3 / 103).
    history = np.array([10.0] * 52 + [13.0] * 52)
    assert metrics.seasonal_naive_scale(history) == pytest.approx(3.0)
    history[-1] = 17.0
    assert metrics.seasonal_naive_scale(history) == pytest.approx((51 * 3 + 7) / 52)


def test_no_scale_without_a_full_season_or_when_last_year_repeats_exactly():
    assert np.isnan(metrics.seasonal_naive_scale(np.arange(52.0)))
    assert metrics.seasonal_naive_scale(np.arange(53.0)) == pytest.approx(52.0)
    assert np.isnan(metrics.seasonal_naive_scale(np.tile(np.arange(52.0), 2)))
    assert np.isnan(metrics.seasonal_naive_scale(np.array([])))


def test_running_scales_end_at_each_week_and_skip_weeks_before_the_start():
    series = np.array([[np.nan] * 10 + [4.0] * 50 + [6.0] * 50, [1.0] * 52 + [3.0] * 58])
    scales = metrics.seasonal_naive_scales(series)
    assert scales.shape == series.shape
    assert np.isnan(scales[0, :62]).all()  # the first pair is week 62 against week 10
    for t in (62, 80, 109):
        assert scales[0, t] == pytest.approx(metrics.seasonal_naive_scale(series[0, 10 : t + 1]))
        assert scales[1, t] == pytest.approx(metrics.seasonal_naive_scale(series[1, : t + 1]))


def test_scaled_errors_leave_out_weeks_without_a_scale():
    errors = metrics.scaled_errors(np.array([12.0, 8.0]), np.array([10.0, 10.0]), 4.0)
    assert errors.tolist() == [0.5, 0.5]
    assert np.isnan(metrics.scaled_errors(np.array([12.0]), np.array([10.0]), np.nan)).all()
