"""Forecast benchmarks: a full refresh against a plain loop of Prophet fits, a re-run on
unchanged data, backtest accuracy against seasonal naive and Theta, and the drivers against
the sample's truth.

Peer: what other Streamlit forecast apps do, one default-settings ``prophet.Prophet`` per SKU
(fit on the weekly totals, ``predict`` 26 weeks ahead with the default 1,000 uncertainty
samples), in a plain loop. Ours: ``refresh_forecast`` (the ``forecast`` command), which also
fits the challengers and backtests every model at three origins.

Run: ``python benchmarks/bench_forecast.py [--json] [--quick]``. ``--quick`` uses 200 SKUs only
and times the peer on 60 of them (scaled up, and labelled so).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sop_core.data import db
from sop_core.data.sample import SampleConfig, build_sample_database
from sop_core.forecast.classical import seasonal_naive
from sop_core.forecast.runs import backtest_report, driver_report, refresh_forecast

AS_OF = dt.date(2026, 11, 25)
HORIZON = 26


def weekly_totals(path: Path) -> dict[str, pd.DataFrame]:
    with db.connect(path) as con:
        frame = con.execute(
            "SELECT sku, week AS ds, sum(units) AS y FROM sales_history GROUP BY ALL ORDER BY 1, 2"
        ).df()
    return {sku: rows[["ds", "y"]].reset_index(drop=True) for sku, rows in frame.groupby("sku")}


def peer_fit_predict(history: pd.DataFrame, horizon: int = HORIZON) -> np.ndarray:
    from prophet import Prophet

    model = Prophet()
    model.fit(history)
    future = model.make_future_dataframe(periods=horizon, freq="7D", include_history=False)
    return model.predict(future)["yhat"].to_numpy()


def time_peer(series: dict[str, pd.DataFrame], limit: int | None) -> dict[str, float]:
    chosen = list(series.items())[:limit] if limit else list(series.items())
    started = time.perf_counter()
    for _, history in chosen:
        if len(history) >= 2:
            peer_fit_predict(history)
    seconds = time.perf_counter() - started
    return {
        "timed_skus": len(chosen),
        "seconds": seconds,
        "seconds_all_skus": seconds * len(series) / len(chosen),
    }


def peer_backtest(series: dict[str, pd.DataFrame], skus: list[str], horizon: int = 13) -> float:
    """13-week WAPE of the plain Prophet loop at the same origins as ours (13, 26, 39)."""
    errors = actuals = 0.0
    for sku in skus:
        y = series[sku]
        for origin in (13, 26, 39):
            train, actual = y.iloc[:-origin], y["y"].to_numpy()[-origin:][:horizon]
            forecast = np.maximum(peer_fit_predict(train, horizon), 0)
            errors += float(np.abs(forecast - actual).sum())
            actuals += float(actual.sum())
    return errors / actuals


def bench(skus: int, quick: bool, folder: Path) -> dict:
    master = folder / f"sample-{skus}.duckdb"
    build_sample_database(master, SampleConfig(skus=skus, weeks=156, seed=1, as_of=AS_OF))
    path = folder / f"run-{skus}.duckdb"
    shutil.copy(master, path)
    started = time.perf_counter()
    first = refresh_forecast(path, jobs=os.cpu_count())
    full = time.perf_counter() - started
    reruns = []
    for _ in range(3):
        started = time.perf_counter()
        again = refresh_forecast(path)
        reruns.append(time.perf_counter() - started)
        assert again.reused
    series = weekly_totals(path)
    peer = time_peer(series, 60 if quick else None)
    result = {
        "skus": skus,
        "weeks": 156,
        "ours_full_refresh_seconds": round(full, 2),
        "ours_rerun_unchanged_median_seconds": round(float(np.median(reruns)), 3),
        "peer_seconds": round(peer["seconds_all_skus"], 2),
        "peer_timed_skus": peer["timed_skus"],
        "peer_over_ours": round(peer["seconds_all_skus"] / full, 2),
        "models": first.models,
    }
    with db.connect(path) as con:
        for horizon in (13, 26):
            overall = backtest_report(con, first.run_id, horizon)["overall"]
            result[f"wape_{horizon}"] = {m: v["wape"] for m, v in overall.items()}
            result[f"mase_{horizon}"] = {m: v["mase"] for m, v in overall.items()}
        drivers = pd.DataFrame(driver_report(con, first.run_id))
        truth = con.execute("SELECT * FROM sample_truth").df()
    merged = drivers.merge(truth, on="sku", suffixes=("", "_true"))
    error = (merged["price_elasticity"] - merged["price_elasticity_true"]).abs()
    promoted = merged[merged["promoted_weeks"] > 0]
    result["elasticity_median_abs_error"] = round(float(error.median()), 3)
    result["elasticity_interval_coverage"] = round(
        float(
            (
                (merged["price_elasticity_lower"] <= merged["price_elasticity_true"])
                & (merged["price_elasticity_true"] <= merged["price_elasticity_upper"])
            ).mean()
        ),
        3,
    )
    result["promo_uplift_right_sign"] = round(
        float(
            (
                np.sign(promoted["promo_uplift_per_10pct_discount"])
                == np.sign(promoted["promo_uplift_per_10pct_discount_true"])
            ).mean()
        ),
        3,
    )
    if skus <= 200:
        with db.connect(path) as con:
            regular = [
                r[0]
                for r in con.execute(
                    "SELECT sku FROM forecast_models WHERE run_id = ? AND series_type = 'regular'",
                    [first.run_id],
                ).fetchall()
            ]
        sample = regular[:40] if quick else regular
        result["peer_plain_prophet_wape_13"] = round(peer_backtest(series, sample), 4)
        result["peer_backtest_skus"] = len(sample)
        naive = naive_check(series, sample)
        result["seasonal_naive_wape_13_same_skus"] = round(naive, 4)
    return result


def naive_check(series: dict[str, pd.DataFrame], skus: list[str]) -> float:
    errors = actuals = 0.0
    for sku in skus:
        y = series[sku]["y"].to_numpy()
        for origin in (13, 26, 39):
            actual = y[-origin:][:13]
            errors += float(np.abs(seasonal_naive(y[:-origin], 13) - actual).sum())
            actuals += float(actual.sum())
    return errors / actuals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="200 SKUs, peer timed on 60")
    args = parser.parse_args()
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)
    folder = Path(tempfile.mkdtemp(prefix="sop-bench-forecast-"))
    try:
        results = [bench(n, args.quick, folder) for n in ((200,) if args.quick else (200, 1000))]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps({"machine": {"cores": os.cpu_count()}, "results": results}, indent=2))
        return
    print("Full refresh, horizon 26 (seconds)")
    print(f"{'SKUs':>6} {'ours':>8} {'rerun':>7} {'peer loop':>10} {'peer/ours':>10}")
    for r in results:
        peer = f"{r['peer_seconds']:.1f}" + ("*" if r["peer_timed_skus"] < r["skus"] else "")
        print(
            f"{r['skus']:>6} {r['ours_full_refresh_seconds']:>8.1f} "
            f"{r['ours_rerun_unchanged_median_seconds']:>7.2f} {peer:>10} "
            f"{r['peer_over_ours']:>10.2f}"
        )
    print("(* peer timed on a subset and scaled up)")
    for r in results:
        print(
            f"\n{r['skus']} SKUs: 13-week backtest WAPE "
            + ", ".join(
                f"{m} {v:.1%}" for m, v in sorted(r["wape_13"].items(), key=lambda kv: kv[1])
            )
        )
        print(
            "  26-week WAPE "
            + ", ".join(
                f"{m} {v:.1%}" for m, v in sorted(r["wape_26"].items(), key=lambda kv: kv[1])
            )
        )
        print(
            f"  price elasticity median abs error {r['elasticity_median_abs_error']}, "
            f"95% interval coverage {r['elasticity_interval_coverage']:.0%}; promotion "
            f"uplift right sign {r['promo_uplift_right_sign']:.0%}"
        )
        if "peer_plain_prophet_wape_13" in r:
            print(
                f"  plain Prophet loop, same origins, {r['peer_backtest_skus']} regular SKUs: "
                f"13-week WAPE {r['peer_plain_prophet_wape_13']:.1%} (seasonal naive on the "
                f"same SKUs {r['seasonal_naive_wape_13_same_skus']:.1%})"
            )


if __name__ == "__main__":
    main()
