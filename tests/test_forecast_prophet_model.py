"""Prophet's model fitted through its Stan program agrees with prophet.Prophet itself."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from sop_core.data.calendar import retail_holidays
from sop_core.forecast import prophet_model
from sop_core.forecast.panel import DRIVERS, load_panel


@pytest.fixture(scope="module")
def panel(sample_db_master: Path):
    con = duckdb.connect(str(sample_db_master))
    try:
        return load_panel(con)
    finally:
        con.close()


def _series(panel, sku: str):
    row = list(panel.skus).index(sku)
    start = panel.first_index[row]
    return (
        panel.weeks[start:],
        np.log1p(panel.units[row, start:]),
        np.nan_to_num(panel.drivers[row, start:]),
    )


def test_forecast_matches_prophet_itself(panel):
    from prophet import Prophet
    from prophet.utilities import regressor_coefficients

    logging.getLogger("cmdstanpy").disabled = True
    weeks, y, drivers = _series(panel, "SKN-0003")
    holidays = pd.DataFrame(
        [
            {
                "holiday": h.name,
                "ds": pd.Timestamp(h.week),
                "lower_window": 7 * prophet_model.HOLIDAY_WINDOWS[h.name][0],
                "upper_window": 7 * prophet_model.HOLIDAY_WINDOWS[h.name][1],
            }
            for h in retail_holidays(range(2022, 2028))
        ]
    )
    frame = pd.DataFrame({"ds": pd.to_datetime(weeks), "y": y})
    for i, name in enumerate(DRIVERS):
        frame[name] = drivers[:, i]
    model = Prophet(
        weekly_seasonality=False,
        daily_seasonality=False,
        yearly_seasonality=8,
        holidays=holidays,
        uncertainty_samples=0,
    )
    for name in DRIVERS:
        model.add_regressor(name)
    model.fit(frame)
    future = model.make_future_dataframe(periods=26, freq="7D", include_history=False)
    for name in DRIVERS:
        future[name] = 0.0
    theirs = model.predict(future)["yhat"].to_numpy()

    fit = prophet_model.fit(weeks, y, drivers, list(DRIVERS))
    ours, _ = prophet_model.predict_log(
        fit,
        future["ds"].to_numpy().astype("datetime64[D]"),
        {n: np.zeros(26) for n in DRIVERS},
        0,
        np.random.default_rng(0),
    )
    assert np.max(np.abs(np.expm1(ours) / np.expm1(theirs) - 1)) < 0.02
    coefficients = regressor_coefficients(model).set_index("regressor")["coef"]
    effects = fit.regressor_effects()
    for name in ("feature", "display", "log_price_ratio"):
        assert effects[name][0] == pytest.approx(coefficients[name], abs=0.05)


def test_numpy_solver_matches_stan(panel):
    weeks, y, drivers = _series(panel, "HAI-0001")
    future_weeks = weeks[-1] + np.arange(1, 27) * np.timedelta64(7, "D")
    zeros = {n: np.zeros(26) for n in DRIVERS}
    forecasts = []
    for solver in ("stan", "numpy"):
        fit = prophet_model.fit(weeks, y, drivers, list(DRIVERS), solver=solver)
        forecasts.append(
            prophet_model.predict_log(fit, future_weeks, zeros, 0, np.random.default_rng(0))[0]
        )
    assert np.max(np.abs(np.expm1(forecasts[0]) / np.expm1(forecasts[1]) - 1)) < 0.01


def test_a_known_effect_is_recovered_with_an_honest_interval():
    rng = np.random.default_rng(3)
    weeks = np.datetime64("2023-01-02") + np.arange(156) * np.timedelta64(7, "D")
    season = 0.2 * np.sin(2 * np.pi * np.arange(156) / 52.18)
    price = rng.normal(0, 0.05, 156)
    y = 5 + season - 1.8 * price + rng.normal(0, 0.05, 156)
    fit = prophet_model.fit(weeks, y, price[:, None], ["log_price_ratio"])
    estimate, error = fit.regressor_effects()["log_price_ratio"]
    assert abs(estimate + 1.8) < 3 * error
    assert 0.02 < error < 0.3


def test_a_regressor_without_variation_is_dropped_not_invented():
    weeks = np.datetime64("2023-01-02") + np.arange(120) * np.timedelta64(7, "D")
    y = 3 + 0.1 * np.sin(np.arange(120) / 8)
    fit = prophet_model.fit(weeks, y, np.zeros((120, 1)), ["discount_depth"])
    assert fit.regressor_effects() == {}


def test_holidays_sit_on_the_week_that_contains_them():
    weeks = np.datetime64("2025-11-03") + np.arange(10) * np.timedelta64(7, "D")
    block, names = prophet_model.holiday_features(prophet_model.days_since_epoch(weeks))
    black_friday = block[:, names.index(("Black Friday", 0))]
    # Black Friday 2025 is Friday 28 November: the week of Monday 24 November.
    assert weeks[black_friday == 1][0] == np.datetime64("2025-11-24")
    christmas_run_up = block[:, names.index(("Christmas", -1))]
    assert weeks[christmas_run_up == 1][0] == np.datetime64("2025-12-15")


def test_a_broken_stan_program_raises_a_fit_error(monkeypatch, panel, tmp_path):
    broken = tmp_path / "prophet_model.bin"
    broken.write_text("#!/bin/sh\necho 'boom' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setattr(prophet_model, "STAN_PROGRAM", broken)
    weeks, y, drivers = _series(panel, "HAI-0001")
    with pytest.raises(prophet_model.StanFitError, match="boom"):
        prophet_model.fit(weeks, y, drivers, list(DRIVERS))


def test_holidays_are_found_on_a_grid_keyed_by_sunday():
    sundays = np.datetime64("2025-11-02") + np.arange(10) * np.timedelta64(7, "D")
    block, names = prophet_model.holiday_features(prophet_model.days_since_epoch(sundays))
    black_friday = block[:, names.index(("Black Friday", 0))]
    # Black Friday 2025 (Friday 28 November) falls in the week keyed Sunday 23 November.
    assert sundays[black_friday == 1].tolist() == [np.datetime64("2025-11-23")]
