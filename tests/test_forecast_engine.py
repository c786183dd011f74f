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


def test_a_regular_sku_is_backtested_and_the_best_or_a_combination_serves_it(panel, tmp_path):
    row = list(panel.skus).index("SKN-0003")
    result = engine.forecast_regular(engine.sku_input(panel, row), SETTINGS, tmp_path)
    candidates = ("prophet", "theta", "ets", "seasonal_naive_adjusted", "median")
    assert set(candidates) <= set(result.candidates)
    wape = {m: result.backtest[(m, 13)].wape for m in candidates}
    best = min(wape, key=wape.get)
    if result.model == "combination":
        # Weighted by the backtest: the better candidate weighs more; the best is in.
        assert best in result.components and sum(result.components.values()) == pytest.approx(1)
        weights = sorted(result.components.items(), key=lambda item: wape[item[0]])
        assert [w for _, w in weights] == sorted((w for _, w in weights), reverse=True)
        assert "within noise" in result.reason
    else:
        assert result.model == best and "backtest WAPE" in result.reason
        assert result.backtest[("selected", 13)].wape == wape[best]
    assert result.backtest[("seasonal_naive", 13)].origins >= 2
    assert result.backtest[("selected", 13)].origins == 3
    forecast = result.forecast
    assert len(forecast.point) == 26 and (forecast.point >= 0).all()
    assert (forecast.lower_95 <= forecast.lower_80).all()
    assert (forecast.lower_80 <= forecast.point).all()
    assert (forecast.point <= forecast.upper_80).all()
    assert (forecast.upper_80 <= forecast.upper_95).all()
    assert {"log_price_ratio", "discount_depth"} <= set(result.drivers)


def test_candidates_within_noise_are_combined_and_a_clear_winner_serves_alone():
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 5, 39)
    errors = {
        "prophet": np.abs(noise),
        "theta": np.abs(noise + rng.normal(0, 3, 39)),  # as good, give or take noise
        "ets": np.abs(noise) + 20,  # clearly worse
    }
    best, tied = engine._tied_with_best(errors, actual_sum=39 * 100.0)
    assert best in ("prophet", "theta") and set(tied) == {"prophet", "theta"}
    errors["theta"] = np.abs(noise) + 4  # worse every single week: not noise
    assert engine._tied_with_best(errors, actual_sum=39 * 100.0) == ("prophet", ["prophet"])


def test_a_stan_failure_falls_back_to_the_same_objective_and_is_recorded(
    panel, tmp_path, monkeypatch
):
    broken = tmp_path / "prophet_model.bin"
    broken.write_text("#!/bin/sh\necho 'Stan exploded' >&2\nexit 70\n")
    broken.chmod(0o755)
    monkeypatch.setattr(prophet_model, "STAN_PROGRAM", broken)
    row = list(panel.skus).index("HAI-0002")
    inp = engine.sku_input(panel, row)
    inp.stan_check = True  # one of the SKUs a run also fits with Prophet's Stan program
    result = engine.forecast_regular(inp, SETTINGS, tmp_path)
    assert result.failures == {"prophet (Stan)": "Stan exploded"}
    assert result.reason.startswith("prophet (Stan) failed (Stan exploded)")
    assert "prophet" in result.candidates  # the numpy solver of the same objective
    assert (result.forecast.point > 0).all()


def test_a_prophet_failure_leaves_the_others_to_serve(panel, tmp_path):
    row = list(panel.skus).index("HAI-0002")
    inp = engine.sku_input(panel, row)
    inp.units = inp.units.copy()
    inp.units[-3] = np.nan  # a hole no solver can fit through
    inp.global_points = {0: np.full(26, 50.0)}
    inp.stan_check = True
    result = engine.forecast_regular(inp, SETTINGS, tmp_path)
    assert set(result.failures) == {"prophet (Stan)", "prophet"}
    assert result.failures["prophet"] == "the forecast is not finite"
    assert result.model == "gbm" and result.reason.endswith("the global model")
    assert np.allclose(result.forecast.point, 50.0)


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
    # The family's shape, averaged with the global model once a new SKU has 26 weeks.
    assert set(by_type.loc[by_type["series_type"] == "new", "model"]) <= {
        "family_share",
        "combination",
    }
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
