"""Methods per kind of series, fallbacks, and the backtest, on small real series."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from sop_core.forecast import classical, engine, metrics, prophet_model
from sop_core.forecast.engine import ForecastSettings, classify
from sop_core.forecast.panel import load_panel, panel_from_frame

SETTINGS = ForecastSettings()


@pytest.fixture(scope="module")
def panel(sample_db_master: Path):
    con = duckdb.connect(str(sample_db_master))
    try:
        return load_panel(con)
    finally:
        con.close()


@pytest.mark.parametrize(
    ("units", "kind"),
    [
        (np.zeros(80), "zero"),
        (np.full(80, 12.0), "flat"),
        (np.tile([0, 0, 3, 0, 5], 20).astype(float), "intermittent"),
        (np.linspace(50, 90, 30), "new"),
        (100 + 10 * np.sin(np.arange(120)), "regular"),
    ],
)
def test_each_kind_of_series_is_recognised(units, kind):
    assert classify(units, SETTINGS) == kind


def test_croston_rate_matches_the_average_demand():
    rng = np.random.default_rng(1)
    history = np.where(rng.random(150) < 0.25, rng.integers(2, 9, 150), 0).astype(float)
    forecast = classical.croston_sba(history, 26)
    assert forecast.point[0] == pytest.approx(history[-52:].mean(), rel=0.35)
    assert (forecast.lower_95 <= forecast.point).all() and (
        forecast.point <= forecast.upper_95
    ).all()


def test_panel_weights_promotions_by_channel_share():
    rows = pd.DataFrame(
        {
            "week": pd.to_datetime(["2026-01-05"] * 2 + ["2026-01-12"] * 2),
            "sku": "A",
            "channel": ["big", "small"] * 2,
            "units": [90.0, 10.0, 90.0, 10.0],
            "discount_depth": [0.0, 0.0, 0.0, 0.5],
        }
    )
    panel = panel_from_frame(rows, pd.DataFrame(index=pd.Index([], name="sku")))
    # A 50% discount in the channel selling 10% of the units counts as 5%.
    assert panel.drivers[0, 1, 0] == pytest.approx(0.05)
    assert panel.has_promotions and not panel.has_prices
    assert np.isnan(panel.drivers[0, :, 3]).all()  # no prices: the price driver is unknown


def test_a_regular_sku_is_backtested_and_the_best_model_serves_it(panel, tmp_path):
    row = list(panel.skus).index("SKN-0003")
    result = engine.forecast_regular(engine.sku_input(panel, row), SETTINGS, tmp_path)
    assert result.model in ("prophet", "theta", "ensemble")
    for horizon in (13, 26):
        assert result.backtest[("selected", horizon)].wape == min(
            result.backtest[(m, horizon)].wape for m in ("prophet", "theta", "ensemble")
        )
        assert result.backtest[("seasonal_naive", horizon)].origins >= 2
    assert result.backtest[("selected", 13)].origins == 3
    assert "backtest WAPE" in result.reason
    forecast = result.forecast
    assert len(forecast.point) == 26 and (forecast.point >= 0).all()
    assert (forecast.lower_95 <= forecast.lower_80).all()
    assert (forecast.lower_80 <= forecast.point).all()
    assert (forecast.point <= forecast.upper_80).all()
    assert (forecast.upper_80 <= forecast.upper_95).all()
    assert {"log_price_ratio", "discount_depth"} <= set(result.drivers)


def test_a_prophet_failure_falls_back_and_says_so(panel, tmp_path, monkeypatch):
    monkeypatch.setattr(prophet_model, "STAN_PROGRAM", tmp_path / "missing.bin")
    row = list(panel.skus).index("HAI-0002")
    result = engine.forecast_regular(engine.sku_input(panel, row), SETTINGS, tmp_path)
    assert result.model == "theta"
    assert result.reason.startswith("Prophet failed")
    assert (result.forecast.point > 0).all()


def test_every_kind_gets_a_method_and_a_flag(panel):
    results, _ = engine.forecast_panel(
        panel,
        SETTINGS,
        jobs=1,
        reused={
            row: engine.SkuForecast(
                sku, "regular", "prophet", "stub for speed", 160, classical.Forecast.flat(100.0, 26)
            )
            for row, sku in enumerate(panel.skus)
            if classify(panel.series(row)[1], SETTINGS) == "regular"
        },
    )
    by_type = pd.DataFrame(
        [(r.series_type, r.model) for r in results.values()], columns=["series_type", "model"]
    )
    assert set(by_type.loc[by_type["series_type"] == "new", "model"]) == {"family_share"}
    assert set(by_type.loc[by_type["series_type"] == "intermittent", "model"]) == {"croston_sba"}
    assert len(results) == len(panel.skus)


def test_flat_bounds_widen_from_80_to_95_percent():
    forecast = classical.Forecast.flat(100.0, 4, spread=10.0)
    assert forecast.lower_95[0] < forecast.lower_80[0] < 100 < forecast.upper_80[0]
    assert forecast.upper_80[0] < forecast.upper_95[0]
    assert forecast.upper_80[0] == pytest.approx(112.8)


def test_mase_counts_only_weeks_with_a_scale():
    sums = engine.BacktestSums()
    sums.add(np.array([10.0, 10.0]), np.array([12.0, 8.0]), float("nan"))
    sums.add(np.array([10.0, 10.0]), np.array([11.0, 9.0]), 2.0)
    assert sums.weeks == 4 and sums.scaled_weeks == 2
    assert sums.scaled_abs_error_sum / sums.scaled_weeks == pytest.approx(0.5)


def test_a_one_season_history_gives_no_mase_rather_than_a_lag_1_scale():
    # 52 weeks of training: no week has last year's same week, so the backtest has no scale
    # (it used to fall back to the lag-1 naive's error, a different scale).
    scale = metrics.seasonal_naive_scale(np.arange(1.0, 53.0))
    sums = engine.BacktestSums()
    sums.add(np.array([60.0, 60.0]), np.array([50.0, 70.0]), scale)
    assert sums.weeks == 2 and sums.scaled_weeks == 0 and sums.abs_error_sum == 20
