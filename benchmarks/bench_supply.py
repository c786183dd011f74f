"""Supply benchmarks: the constrained production plan against a naive chase plan, and the
utilisation the Supply page computes, against the pandas way of computing it, in one run.

Plan: the sample company with 200 SKUs on 6 lines, horizon 26. Ours: ``solve_plan`` (a linear
program solved by HiGHS). Peer: ``chase_plan`` (make each week's demand up to the hours plus
overtime). Both on the same volume targets, with the same cost accounting.

Utilisation: 1,000 SKUs x 52 weeks. Ours: ``apply_scenario`` + ``load_view`` + ``exceptions``
(arrays, grouped sums, the overload probability). Peer: the same load with pandas (merge the
forecast rows with products and lines, group by line and week, merge the calendar).

Run: ``python benchmarks/bench_supply.py [--json]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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
from sop_core.data.stores import production
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.engine import ForecastSettings
from sop_core.forecast.runs import refresh_forecast
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.model import Scenario
from sop_core.supply import capacity
from sop_core.supply.planning import chase_plan, load_supply, solve_plan

AS_OF = dt.date(2026, 11, 25)


def median_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def bench_plan(folder: Path) -> dict:
    path = folder / "plan.duckdb"
    build_sample_database(path, SampleConfig(skus=200, lines=6, seed=1, as_of=AS_OF))
    run = refresh_forecast(path, jobs=os.cpu_count())
    with db.connect(path) as con:
        base = load_plan_base(con, run.run_id)
        supply = load_supply(con, base)
    result = apply_scenario(base, Scenario("baseline"))
    plans = {}
    seconds = []
    for _ in range(3):
        plans["ours"] = solve_plan(result, supply)
        seconds.append(plans["ours"].seconds)
    plans["peer"] = chase_plan(result, supply)
    available = result.available
    ours, peer = plans["ours"].summary(available), plans["peer"].summary(available)
    return {
        "skus": len(base.skus),
        "weeks": result.revised.shape[1],
        "lines": len(base.lines),
        "routes": len(supply.routes),
        "ours_solve_seconds_median": round(statistics.median(seconds), 3),
        "ours_total_cost": ours["total_cost"],
        "peer_total_cost": peer["total_cost"],
        "ours_unmet_units": ours["unmet_units"],
        "peer_unmet_units": peer["unmet_units"],
        "ours_overtime_hours": ours["overtime_hours"],
        "peer_overtime_hours": peer["overtime_hours"],
        "ours_costs": ours["costs"],
        "peer_costs": peer["costs"],
    }


def bench_utilisation(folder: Path) -> dict:
    path = folder / "load.duckdb"
    build_sample_database(path, SampleConfig(skus=1000, seed=1, as_of=AS_OF))
    run = refresh_forecast(path, ForecastSettings(horizon=52), jobs=os.cpu_count())
    with db.connect(path) as con:
        base = load_plan_base(con, run.run_id)
        rows = con.execute(
            "SELECT sku, week, forecast FROM forecast_rows WHERE run_id = ?", [run.run_id]
        ).df()
        products = con.execute(
            "SELECT p.sku, p.default_line AS line, p.units_per_hour, l.oee FROM products p "
            "JOIN production_lines l ON l.line = p.default_line"
        ).df()
        hours = production.available_hours(con, base.weeks[0].astype(dt.date), len(base.weeks))
    scenario = Scenario("baseline")

    def ours() -> None:
        view = capacity.load_view(apply_scenario(base, scenario))
        capacity.exceptions(view)

    def peer() -> None:
        frame = rows.merge(products, on="sku")
        frame["hours"] = frame["forecast"] / frame["units_per_hour"] / frame["oee"]
        load = frame.groupby(["line", "week"], as_index=False)["hours"].sum()
        merged = load.merge(hours, on=["line", "week"], how="right").fillna({"hours": 0.0})
        merged["utilisation"] = merged["hours"] / merged["available_hours"]

    ours_ms, peer_ms = median_ms(ours, 30), median_ms(peer, 30)
    return {
        "skus": len(base.skus),
        "weeks": len(base.weeks),
        "lines": len(base.lines),
        "ours_ms": round(ours_ms, 2),
        "peer_pandas_ms": round(peer_ms, 2),
        "peer_over_ours": round(peer_ms / ours_ms, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="sop-bench-supply-"))
    try:
        results = {"plan": bench_plan(folder), "utilisation": bench_utilisation(folder)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    plan = results["plan"]
    print(
        f"Plan, {plan['skus']} SKUs x {plan['weeks']} weeks x {plan['lines']} lines "
        f"({plan['routes']} routes): solved in {plan['ours_solve_seconds_median']} s"
    )
    print(
        f"  total cost: ours {plan['ours_total_cost']:,.0f}, chase {plan['peer_total_cost']:,.0f}"
    )
    print(
        f"  unmet units: ours {plan['ours_unmet_units']:,.0f}, chase "
        f"{plan['peer_unmet_units']:,.0f}; overtime hours: ours "
        f"{plan['ours_overtime_hours']:,.0f}, chase {plan['peer_overtime_hours']:,.0f}"
    )
    load = results["utilisation"]
    print(
        f"Utilisation, {load['skus']} SKUs x {load['weeks']} weeks: ours {load['ours_ms']} ms, "
        f"pandas {load['peer_pandas_ms']} ms (pandas / ours {load['peer_over_ours']})"
    )


if __name__ == "__main__":
    main()
