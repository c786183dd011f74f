"""Forecast runs in DuckDB: stored, reused, partly refit, and the drivers against the truth."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from sop_core.data import db
from sop_core.forecast import prophet_model
from sop_core.forecast.runs import (
    backtest_report,
    driver_report,
    engine_identity,
    refresh_forecast,
)
from tests.helpers import run_cli


def query(path: Path, sql: str, parameters=None) -> pd.DataFrame:
    with db.connect(path) as con:
        return con.execute(sql, parameters or []).df()


def test_a_run_stores_rows_models_drivers_backtests_and_shares(forecast_db: Path):
    run = query(forecast_db, "SELECT * FROM forecast_runs").iloc[-1]
    run_id = int(run["run_id"])
    assert run["skus"] == 40 and run["horizon"] == 26
    rows = query(forecast_db, "SELECT * FROM forecast_rows WHERE run_id = ?", [run_id])
    assert len(rows) == 40 * 26
    assert (rows["forecast"] >= 0).all()
    assert (rows["lower_95"] <= rows["lower_80"]).all() and (
        rows["upper_80"] <= rows["upper_95"]
    ).all()
    assert rows["week"].min() == pd.Timestamp("2026-11-23")
    models = query(forecast_db, "SELECT * FROM forecast_models WHERE run_id = ?", [run_id])
    assert set(models["series_type"]) == {"regular", "new", "intermittent"}
    assert {"family_share", "croston_sba"} <= set(models["model"])
    assert models["reason"].str.len().min() > 10
    shares = query(
        forecast_db,
        "SELECT sku, sum(share) AS total FROM forecast_channel_shares "
        "WHERE run_id = ? GROUP BY sku",
        [run_id],
    )
    assert np.allclose(shares["total"], 1.0)


def test_family_and_channel_totals_add_up_from_the_skus(forecast_db: Path):
    totals = query(
        forecast_db,
        """
        WITH latest AS (SELECT max(run_id) AS run_id FROM forecast_runs)
        SELECT
            (SELECT sum(forecast) FROM forecast_rows, latest
             WHERE forecast_rows.run_id = latest.run_id) AS skus,
            (SELECT sum(total) FROM (SELECT p.family, sum(r.forecast) AS total
                FROM forecast_rows r JOIN products p USING (sku), latest
                WHERE r.run_id = latest.run_id GROUP BY p.family)) AS families,
            (SELECT sum(r.forecast * c.share) FROM forecast_rows r
                JOIN forecast_channel_shares c USING (run_id, sku), latest
                WHERE r.run_id = latest.run_id) AS channels
    """,
    ).iloc[0]
    assert totals["families"] == pytest.approx(totals["skus"])
    assert totals["channels"] == pytest.approx(totals["skus"])


def test_the_selected_model_beats_seasonal_naive(forecast_db: Path):
    with db.connect(forecast_db) as con:
        report = backtest_report(con, 1, 13)
    overall = report["overall"]
    candidates = ("prophet", "theta", "ets", "seasonal_naive_adjusted", "gbm", "median")
    assert {"seasonal_naive", "selected", *candidates} <= set(overall)
    assert overall["selected"]["wape"] <= 0.8 * overall["seasonal_naive"]["wape"]
    # The selection is scored on the backtest it was chosen on (flattered, and said so):
    # it must at least be as good there as every candidate alone.
    assert overall["selected"]["wape"] <= min(overall[m]["wape"] for m in candidates)
    assert all(entry["served_by"] for entry in report["per_sku"])


def test_drivers_recover_the_sample_truth(forecast_db: Path):
    with db.connect(forecast_db) as con:
        drivers = pd.DataFrame(driver_report(con, 1))
        truth = con.execute("SELECT * FROM sample_truth").df()
    merged = drivers.merge(truth, on="sku", suffixes=("", "_true"))
    error = (merged["price_elasticity"] - merged["price_elasticity_true"]).abs()
    assert error.median() <= 0.3
    inside = (merged["price_elasticity_lower"] <= merged["price_elasticity_true"]) & (
        merged["price_elasticity_true"] <= merged["price_elasticity_upper"]
    )
    assert inside.mean() >= 0.7, "95% intervals that rarely hold the truth are not honest"
    promoted = merged[merged["promoted_weeks"] > 0]
    same_sign = np.sign(promoted["promo_uplift_per_10pct_discount"]) == np.sign(
        promoted["promo_uplift_per_10pct_discount_true"]
    )
    assert same_sign.mean() >= 0.9
    never = merged[merged["promoted_weeks"] == 0]
    assert (never["promo_uplift_source"] == "family").all()
    # Feature and display run in part of the stores (shares 0.5 to 1, weighted by channel)
    # while list prices step up every year: their intervals still hold the truth.
    for driver in ("feature_uplift", "display_uplift"):
        inside = (merged[f"{driver}_lower"] <= merged[f"{driver}_true"]) & (
            merged[f"{driver}_true"] <= merged[f"{driver}_upper"]
        )
        assert inside.mean() >= 0.7, driver
        assert (merged[f"{driver}_lower"] < merged[f"{driver}_upper"]).all(), driver
        assert (never[f"{driver}_source"] == "family").all(), driver


def test_unchanged_data_reuses_the_run_and_a_change_refits_only_that_sku(
    forecast_db: Path, tmp_path: Path
):
    path = tmp_path / "copy.duckdb"
    shutil.copy(forecast_db, path)
    started = time.perf_counter()
    again = refresh_forecast(path)
    assert again.reused and again.run_id == 1
    assert time.perf_counter() - started < 5
    assert len(query(path, "SELECT * FROM forecast_runs")) == 1

    with db.transaction(path) as con:
        con.execute(
            "UPDATE sales_history SET units = units * 1.5 "
            "WHERE sku = 'SKN-0004' AND week > DATE '2026-09-01'"
        )
    changed = refresh_forecast(path, jobs=1)
    assert not changed.reused and changed.run_id == 2
    refit = query(path, "SELECT sku, series_type FROM forecast_models WHERE run_id = 2 AND refit")
    # New items are always recomputed from their (changed) family; of the fitted SKUs only
    # the changed one was refit.
    assert set(refit.loc[refit["series_type"] != "new", "sku"]) == {"SKN-0004"}
    before = query(
        path, "SELECT sku, sum(forecast) AS f FROM forecast_rows WHERE run_id = 1 GROUP BY sku"
    ).set_index("sku")["f"]
    after = query(
        path, "SELECT sku, sum(forecast) AS f FROM forecast_rows WHERE run_id = 2 GROUP BY sku"
    ).set_index("sku")["f"]
    assert after["SKN-0004"] > before["SKN-0004"] * 1.1
    assert after["HAI-0001"] == pytest.approx(before["HAI-0001"])
    assert len(query(path, "SELECT * FROM forecast_runs")) == 2  # past runs are kept


def test_another_prophet_release_refits_instead_of_reusing(
    forecast_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "copy.duckdb"
    shutil.copy(forecast_db, path)
    identity = prophet_model.identity()
    assert {"prophet", "stan_program", "model"} <= set(identity)
    assert f"prophet={identity['prophet']}" in engine_identity()
    # The same data under another Prophet release (or another Stan program): nothing reused.
    monkeypatch.setattr(prophet_model, "identity", lambda: {**identity, "prophet": "9.9.9"})
    summary = refresh_forecast(path, jobs=1)
    assert not summary.reused and summary.run_id == 2
    assert summary.skus_refit == summary.skus == 40


def test_a_failed_stan_check_is_listed_with_what_served_instead(
    sample_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    broken = tmp_path / "prophet_model.bin"
    broken.write_text("#!/bin/sh\necho 'Stan exploded' >&2\nexit 70\n")
    broken.chmod(0o755)
    monkeypatch.setattr(prophet_model, "STAN_PROGRAM", broken)
    summary = refresh_forecast(sample_db, jobs=1)  # in this process: the broken program runs
    regular = query(
        sample_db, "SELECT count(*) AS n FROM forecast_models WHERE series_type = 'regular'"
    )["n"][0]
    assert len(summary.fallbacks) == -(-regular // 25)  # one SKU in 25 is checked with Stan
    for item in summary.fallbacks:
        assert (
            item["failed"] == "prophet (Stan)" and item["error"] == "prophet (Stan): Stan exploded"
        )
        assert item["served"] in ("combination", "prophet", "theta", "ets", "gbm", "median")
    result = run_cli("forecast", "--db", str(sample_db), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["fallbacks"] == summary.fallbacks
    text = run_cli("forecast", "--db", str(sample_db)).stdout
    assert f"Fallbacks: {len(summary.fallbacks)} SKU(s)" in text and "Stan exploded" in text


def test_minimal_history_works_and_drivers_are_unknown(tmp_path: Path):
    path = tmp_path / "own.duckdb"
    db.ensure_schema(path)
    rng = np.random.default_rng(5)
    weeks = pd.date_range("2024-01-01", periods=120, freq="7D")
    rows = pd.DataFrame(
        [
            {
                "week": w,
                "sku": sku,
                "channel": "all",
                "units": float(rng.poisson(base * (1 + 0.3 * np.sin(i / 8)))),
            }
            for sku, base in (("A1", 200), ("B2", 80), ("C3", 40))
            for i, w in enumerate(weeks)
        ]
    )
    with db.transaction(path) as con:
        con.register("rows", rows)
        con.execute(
            "INSERT INTO sales_history (week, sku, channel, units) "
            "SELECT week, sku, channel, units FROM rows"
        )
    summary = refresh_forecast(path, jobs=1)
    assert summary.skus == 3
    with db.connect(path) as con:
        drivers = driver_report(con, summary.run_id)
        rows_out = con.execute("SELECT count(*) FROM forecast_rows").fetchone()[0]
    assert rows_out == 3 * 26
    for entry in drivers:
        assert entry["price_elasticity"] is None
        assert entry["promo_uplift_per_10pct_discount"] is None
        assert entry["price_elasticity_source"] == "unknown"


def test_an_empty_history_gives_a_clear_message(tmp_path: Path):
    path = tmp_path / "empty.duckdb"
    db.ensure_schema(path)
    result = run_cli("forecast", "--db", str(path), "--quiet")
    assert result.returncode != 0 and "no sales history" in result.stderr.lower()
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_cli_forecast_backtest_and_drivers(forecast_db: Path, tmp_path: Path):
    path = tmp_path / "cli.duckdb"
    shutil.copy(forecast_db, path)
    out = tmp_path / "forecast.csv"
    result = run_cli("forecast", "--db", str(path), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "reused" in result.stdout
    frame = pd.read_csv(out)
    assert list(frame.columns) == [
        "sku",
        "week",
        "forecast",
        "lower_80",
        "upper_80",
        "lower_95",
        "upper_95",
        "model",
    ]
    assert len(frame) == 40 * 26

    backtest = run_cli("backtest", "--db", str(path), "--json", "--quiet")
    assert backtest.returncode == 0, backtest.stderr
    payload = json.loads(backtest.stdout)
    assert {"seasonal_naive", "selected"} <= set(payload["overall"])
    assert set(payload["overall"]["selected"]) >= {"wape", "bias", "mase"}
    assert isinstance(payload["per_sku"], list) and payload["per_sku"][0]["sku"]

    drivers = run_cli("drivers", "--db", str(path), "--json", "--quiet")
    assert drivers.returncode == 0, drivers.stderr
    entries = json.loads(drivers.stdout)
    assert len(entries) == 40
    assert {
        "sku",
        "price_elasticity",
        "price_elasticity_lower",
        "price_elasticity_upper",
        "promo_uplift_per_10pct_discount",
    } <= set(entries[0])

    wrong = run_cli("backtest", "--db", str(path), "--horizon", "7", "--quiet")
    assert wrong.returncode != 0 and "stored horizons: 13, 26" in wrong.stderr


@pytest.mark.slow
def test_a_forecast_waits_for_another_writer(forecast_db: Path, tmp_path: Path):
    from tests.helpers import hold_lock, run_cli_waiting

    path = tmp_path / "busy.duckdb"
    shutil.copy(forecast_db, path)
    holder = hold_lock(path, None)
    result = run_cli_waiting(holder, "forecast", "--db", str(path), "--quiet")
    holder.wait(timeout=60)
    assert result.returncode == 0, result.stderr
    assert "waiting" in result.stderr
    duckdb.connect(str(path)).close()


def test_a_changed_family_is_not_served_from_the_old_run(forecast_db: Path, tmp_path: Path):
    path = tmp_path / "moved.duckdb"
    shutil.copy(forecast_db, path)
    with db.transaction(path) as con:
        con.execute("UPDATE products SET family = 'skincare' WHERE sku = 'FRA-0003'")
    summary = refresh_forecast(path, jobs=1)
    assert not summary.reused
    refit = query(
        path,
        "SELECT sku FROM forecast_models WHERE run_id = ? AND refit AND series_type <> 'new'",
        [summary.run_id],
    )["sku"]
    assert set(refit) == {"FRA-0003"}


def test_skus_without_prices_get_no_invented_elasticity(tmp_path: Path):
    path = tmp_path / "partial.duckdb"
    db.ensure_schema(path)
    rng = np.random.default_rng(9)
    weeks = pd.date_range("2024-01-01", periods=120, freq="7D")
    rows = []
    for sku, priced in (("A", True), ("B", False), ("C", False)):
        for i, week in enumerate(weeks):
            price = 10 * (1 + 0.05 * np.sin(i / 5))
            rows.append(
                {
                    "week": week,
                    "sku": sku,
                    "channel": "all",
                    "units": float(rng.poisson(100 * price**-1.5 * 30)),
                    "net_price": price if priced else None,
                    "list_price": 10.0 if priced else None,
                }
            )
    frame = pd.DataFrame(rows)
    with db.transaction(path) as con:
        con.register("rows", frame)
        con.execute(
            "INSERT INTO sales_history (week, sku, channel, units, net_price, "
            "list_price) SELECT week, sku, channel, units, net_price, list_price "
            "FROM rows"
        )
    summary = refresh_forecast(path, jobs=1)
    with db.connect(path) as con:
        report = {r["sku"]: r for r in driver_report(con, summary.run_id)}
    assert report["A"]["price_elasticity"] is not None
    assert report["B"]["price_elasticity"] is None and report["C"]["price_elasticity"] is None
    assert report["B"]["price_elasticity_source"] == "unknown"
