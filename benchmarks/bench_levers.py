"""Lever benchmark: one lever move over 1,000 SKUs x 52 weeks, ours against re-predicting
with fitted Prophet models (what other price-slider apps do), in one run.

Ours: ``apply_scenario`` on the arrays of a forecast run (no refit, no database): the
scenario's existing levers plus the lever being moved. Peer: for each SKU, a Prophet model
fitted with the promotion and price regressors, asked to ``predict`` the 52 weeks again with
the moved lever's regressor values (default settings, so 1,000 uncertainty samples). The peer
is timed on ``--peer-skus`` SKUs and scaled to all of them (it is linear in SKUs).

Beside it, what the Promotions page adds to each move for the promotion KPIs: the moved
lever's (``promotion_kpis``) and the table of the scenario's promotions
(``promotion_kpis_table``), ``promotion_kpis_ms``.

Run: ``python benchmarks/bench_levers.py [--json] [--skus 1000] [--peer-skus 40]``; ``--json``
prints ``{"skus": .., "weeks": .., "ours_ms": .., "peer_ms": ..}`` (plus details).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sop_core.data import db
from sop_core.data.sample import SampleConfig, build_sample_database
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.engine import ForecastSettings
from sop_core.forecast.runs import refresh_forecast
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.model import Lever, Scenario
from sop_core.scenario.promotion_kpis import promotion_kpis, promotion_kpis_table

AS_OF = dt.date(2026, 11, 25)
WEEKS = 52


def levers(base, step: int) -> list[Lever]:
    """The scenario a lever move is timed on: a price change and a campaign that stay, and a
    promotion whose depth moves with ``step`` (the lever being dragged)."""
    first = base.weeks[4].astype(dt.date)
    return [
        Lever("price", "all", None, base.weeks[20].astype(dt.date), None, change=0.03),
        Lever("campaign", "family", "skincare", first, base.weeks[8].astype(dt.date), change=0.1),
        Lever(
            "promotion",
            "family",
            "fragrance",
            first,
            base.weeks[6].astype(dt.date),
            discount=0.05 * (step % 10),
            feature=0.5,
        ),
    ]


def ours(path: Path, run_id: int, repeats: int) -> tuple[float, float, int]:
    with db.connect(path) as con:
        base = load_plan_base(con, run_id)
    times, kpi_times = [], []
    for step in range(repeats):
        started = time.perf_counter()
        scenario = levers(base, step)
        moved = scenario[-1]
        result = apply_scenario(base, Scenario("bench", scenario))
        result.kpis()
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
        promotion_kpis(result, moved)
        promotion_kpis_table(result, [moved])
        kpi_times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, statistics.median(kpi_times) * 1000, len(base.skus)


def peer(path: Path, skus: int, weeks: int = WEEKS) -> float:
    """Median milliseconds to re-predict ``weeks`` weeks of one SKU with its fitted Prophet
    model (``bench_horizon.py`` asks for 78)."""
    from prophet import Prophet

    with db.connect(path) as con:
        frame = con.execute(
            "SELECT sku, week AS ds, sum(units) AS y, avg(discount_depth) AS discount, "
            "avg(feature) AS feature FROM sales_history GROUP BY ALL ORDER BY 1, 2"
        ).df()
    timings = []
    for count, (_, rows) in enumerate(frame.groupby("sku")):
        if count >= skus:
            break
        if rows["discount"].std() == 0 or len(rows) < 60:
            continue
        model = Prophet()
        model.add_regressor("discount")
        model.add_regressor("feature")
        model.fit(rows[["ds", "y", "discount", "feature"]])
        future = model.make_future_dataframe(periods=weeks, freq="7D", include_history=False)
        future["discount"] = 0.2
        future["feature"] = 0.5
        started = time.perf_counter()
        model.predict(future)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skus", type=int, default=1000)
    parser.add_argument("--peer-skus", type=int, default=40)
    args = parser.parse_args()
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)
    folder = Path(tempfile.mkdtemp(prefix="sop-bench-levers-"))
    try:
        path = folder / "sop.duckdb"
        build_sample_database(path, SampleConfig(skus=args.skus, seed=1, as_of=AS_OF))
        run = refresh_forecast(path, ForecastSettings(horizon=WEEKS), jobs=os.cpu_count())
        ours_ms, kpis_ms, skus = ours(path, run.run_id, repeats=60)
        per_sku_ms = peer(path, args.peer_skus)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result = {
        "skus": skus,
        "weeks": WEEKS,
        "ours_ms": round(ours_ms, 2),
        "promotion_kpis_ms": round(kpis_ms, 2),
        "peer_ms": round(per_sku_ms * skus, 1),
        "peer_ms_per_sku": round(per_sku_ms, 2),
        "peer_timed_skus": args.peer_skus,
        "peer_over_ours": round(per_sku_ms * skus / ours_ms, 0),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"One lever move, {skus} SKUs x {WEEKS} weeks: ours {result['ours_ms']} ms (median; "
        f"the promotion KPIs {result['promotion_kpis_ms']} ms more); "
        f"peer re-predicting with fitted Prophet models {result['peer_ms']:,.0f} ms "
        f"({result['peer_ms_per_sku']} ms per SKU, timed on {args.peer_skus} SKUs); "
        f"peer / ours {result['peer_over_ours']:,.0f}x"
    )


if __name__ == "__main__":
    main()
