"""Recommended actions on the sample's story: ranked by their own cost (the peer: what an
analyst's rule of thumb gives, each action priced alone) against priced by the production plan
(the linear program solved with and without each action), in one run.

The database is the sample with its meeting in progress (``init`` builds it; ``--db`` reuses
one), the scenario its peak push ("<Black Friday|Christmas> push: <family> at 35% off").
Medians of ``--repeats`` calls in one process.

Run: ``python benchmarks/bench_actions.py [--db PATH] [--repeats 5] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sop_core.data import db
from sop_core.data.stores import forecast_runs
from sop_core.data.stores import scenarios as scenarios_store
from sop_core.demand.plan_base import load_plan_base
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.store import load_scenario
from sop_core.supply import actions
from sop_core.supply.planning import load_supply

AS_OF = "2026-11-25"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a sample with its meeting (default: build one)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-actions-"))
    try:
        path = args.db
        if path is None:
            path = folder / "sop.duckdb"
            command = [sys.executable, "-m", "sop_core", "init", "--quiet"]
            subprocess.run(
                [*command, "--db", str(path), "--as-of", AS_OF],
                cwd=ROOT,
                check=True,
            )
        with db.connect(path) as con:
            base = load_plan_base(con, forecast_runs.latest_run_id(con))
            supply = load_supply(con, base)
            name = next(n for n in scenarios_store.scenario_names(con) if " push: " in n)
            scenario = load_scenario(con, name).scenario
        result = apply_scenario(base, scenario)
        alone, priced = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            found = actions.recommend(scenario, result, supply, weeks=13)
            alone.append(time.perf_counter() - started)
            started = time.perf_counter()
            with_plan = actions.recommend(
                scenario, result, supply, weeks=13, plan_weeks=base.weeks.size
            )
            priced.append(time.perf_counter() - started)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    figures = {
        "scenario": name,
        "actions": len(found),
        "holdable": sum(a.holdable for a in with_plan),
        "peer_own_cost_s": round(statistics.median(alone), 4),
        "ours_priced_by_plan_s": round(statistics.median(priced), 4),
        "ratio": round(statistics.median(priced) / statistics.median(alone), 1),
        "ranked_first_differs": found[0].action != with_plan[0].action,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
