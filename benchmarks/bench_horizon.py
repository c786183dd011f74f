"""Horizon benchmark (issue 21): a 78-week production plan, weekly for 13 weeks then per fiscal
month, against the same plan solved week by week; and one lever move over 1,000 SKUs x 78 weeks
against re-predicting with fitted Prophet models, in one run.

Plan: the sample company (40 SKUs, 6 lines, as of 25 Nov 2026) with a 78-week forecast. Ours:
``solve_plan`` with the time fences (13 weekly periods, fiscal months beyond). Peer: the same
linear program with every week its own period (``detail=None``), on the same targets, with the
same cost accounting; both solved by HiGHS.

Levers: the sample's forecast arrays widened to 1,000 SKUs (each SKU repeated under new names,
the lines' hours scaled alike), so the size is the issue's without a 1,000-SKU forecast. Ours:
``apply_scenario`` + ``kpis`` for the scenario's levers plus the one being moved (as
``bench_levers``). Peer: per SKU, a Prophet model fitted with the promotion regressors asked to
``predict`` the 78 weeks again (timed on ``--peer-skus`` SKUs, scaled to 1,000: it is linear in
SKUs).

Run: ``python benchmarks/bench_horizon.py [--json] [--skus 1000] [--peer-skus 10]``.
"""

from __future__ import annotations

import argparse
import dataclasses
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

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_levers import peer  # the same Prophet peer, over 78 weeks
from benchmarks.bench_supply import median_ms
from sop_core.data import db
from sop_core.data.sample import SampleConfig, build_sample_database
from sop_core.demand.plan_base import PlanBase, load_plan_base
from sop_core.forecast.engine import ForecastSettings
from sop_core.forecast.runs import refresh_forecast
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.model import Lever, Scenario
from sop_core.supply.planning import load_supply, solve_plan

AS_OF = dt.date(2026, 11, 25)
WEEKS = 78
# Fields over lines or weeks (not SKUs): kept as they are when the SKUs are widened.
NOT_PER_SKU = {"channels", "weeks", "lines", "line_names", "available_hours"}


def bench_plan(path: Path, run_id: int, repeats: int) -> dict:
    with db.connect(path) as con:
        base = load_plan_base(con, run_id)
        supply = load_supply(con, base)
    result = apply_scenario(base, Scenario("baseline"))
    ours = solve_plan(result, supply, weeks=WEEKS)
    peer = solve_plan(result, supply, weeks=WEEKS, detail=None)
    ours_ms = median_ms(lambda: solve_plan(result, supply, weeks=WEEKS), repeats)
    peer_ms = median_ms(lambda: solve_plan(result, supply, weeks=WEEKS, detail=None), repeats)
    return {
        "skus": len(base.skus),
        "lines": len(base.lines),
        "weeks": WEEKS,
        "periods": len(ours.periods),
        "ours_ms": round(ours_ms, 1),
        "peer_ms": round(peer_ms, 1),
        "peer_over_ours": round(peer_ms / ours_ms, 1),
        "ours_cost": round(ours.total_cost, 0),
        "peer_cost": round(peer.total_cost, 0),
        "cost_gap": round(ours.total_cost / peer.total_cost - 1, 5),
        "ours_unmet": round(float(ours.unmet.sum()), 1),
        "peer_unmet": round(float(peer.unmet.sum()), 1),
    }


def widened(base: PlanBase, skus: int) -> PlanBase:
    """``base`` with its SKUs repeated (under new names) up to ``skus`` and its lines' hours
    scaled alike: a plan of that size with the sample's shapes."""
    n = len(base.skus)
    take = np.arange(skus) % n
    changes = {}
    for item in dataclasses.fields(base):
        value = getattr(base, item.name)
        if item.name in NOT_PER_SKU:
            continue
        if isinstance(value, np.ndarray) and value.ndim and value.shape[0] == n:
            changes[item.name] = value[take]
        elif isinstance(value, dict):
            changes[item.name] = {key: array[take] for key, array in value.items()}
    changes["skus"] = np.array(
        [f"{sku}-{i // n}" for i, sku in enumerate(base.skus[take])], dtype=object
    )
    changes["available_hours"] = base.available_hours * (skus / n)
    return dataclasses.replace(base, **changes)


def bench_levers(path: Path, run_id: int, skus: int, repeats: int) -> dict:
    with db.connect(path) as con:
        base = widened(load_plan_base(con, run_id), skus)
    week = lambda index: base.weeks[index].astype(dt.date)  # noqa: E731
    kept = [
        Lever("price", "all", None, week(20), None, change=0.03),
        Lever("campaign", "family", "skincare", week(4), week(8), change=0.1),
        Lever("promotion", "family", "haircare", week(40), week(42), discount=0.2),
    ]
    times = []
    for step in range(repeats):
        moved = Lever(
            "promotion",
            "family",
            "fragrance",
            week(60),
            week(62),
            discount=0.05 * (step % 10),
            feature=0.5,
        )
        started = time.perf_counter()
        result = apply_scenario(base, Scenario("bench", [*kept, moved]))
        result.kpis()
        times.append(time.perf_counter() - started)
    return {
        "skus": len(base.skus),
        "weeks": len(base.weeks),
        "ours_ms": round(statistics.median(times) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skus", type=int, default=1000)
    parser.add_argument("--peer-skus", type=int, default=10)
    args = parser.parse_args()
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)
    folder = Path(tempfile.mkdtemp(prefix="sop-bench-horizon-"))
    try:
        path = folder / "sop.duckdb"
        build_sample_database(path, SampleConfig(seed=1, as_of=AS_OF))
        run = refresh_forecast(path, ForecastSettings(horizon=WEEKS), jobs=os.cpu_count())
        plan = bench_plan(path, run.run_id, repeats=7)
        levers = bench_levers(path, run.run_id, args.skus, repeats=60)
        per_sku_ms = peer(path, args.peer_skus, WEEKS)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    levers["peer_ms"] = round(per_sku_ms * levers["skus"], 1)
    levers["peer_ms_per_sku"] = round(per_sku_ms, 2)
    levers["peer_timed_skus"] = args.peer_skus
    levers["peer_over_ours"] = round(levers["peer_ms"] / levers["ours_ms"], 0)
    result = {"plan": plan, "levers": levers}
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"78-week plan, {plan['skus']} SKUs x {plan['lines']} lines: weekly then monthly "
        f"({plan['periods']} periods) {plan['ours_ms']} ms (median); all weekly (the peer) "
        f"{plan['peer_ms']} ms; peer / ours {plan['peer_over_ours']}x; cost "
        f"{plan['cost_gap']:+.3%} against the all-weekly plan, unmet {plan['ours_unmet']:,.0f} "
        f"vs {plan['peer_unmet']:,.0f} units"
    )
    print(
        f"One lever move, {levers['skus']} SKUs x {levers['weeks']} weeks: ours "
        f"{levers['ours_ms']} ms (median); peer re-predicting with fitted Prophet models "
        f"{levers['peer_ms']:,.0f} ms ({levers['peer_ms_per_sku']} ms per SKU, timed on "
        f"{levers['peer_timed_skus']} SKUs); peer / ours {levers['peer_over_ours']:,.0f}x"
    )


if __name__ == "__main__":
    main()
