"""Demand review benchmark: what a scope switch costs on the server, ours against the usual
Streamlit-demo way, in one run; plus the override spread-down on a large grid.

Ours: the page's cached ``DemandCube`` (arrays per run, built once) summed for the new scope,
the 13-week table and the Plotly figure. Peer: what Streamlit demo dashboards do on every
filter change: SQL against DuckDB for the scope's history and forecast (with channel shares),
pandas to line them up, and a ``plotly.express`` figure.

The browser-side figure (click to redrawn chart) is measured by
``tests/test_browser.py::test_demand_review_scope_switch_and_an_override``.

Run: ``python benchmarks/bench_demand.py [--json] [--skus 40] [--repeats 15]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
import plotly.express as px

from sop_core import charts
from sop_core.data import db
from sop_core.data.sample import SampleConfig, build_sample_database
from sop_core.demand.consensus import (
    Labels,
    Override,
    apply_override,
)
from sop_core.demand.cube import load_demand_cube, next_weeks
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.runs import latest_run, refresh_forecast

AS_OF = dt.date(2026, 11, 25)
PEER_SQL = """
WITH scope AS (
    SELECT sku FROM products
    WHERE ($level = 'total') OR ($level = 'family' AND family = $target)
       OR ($level = 'brand' AND brand = $target) OR ($level = 'sku' AND sku = $target)
       OR $level = 'channel'
),
history AS (
    SELECT week, sum(units) AS actual FROM sales_history
    WHERE sku IN (SELECT sku FROM scope) AND ($level <> 'channel' OR channel = $target)
      AND week > (SELECT max(week) FROM sales_history) - 7 * 52
    GROUP BY week
),
forecast AS (
    SELECT r.week, sum(r.forecast * s.share) AS statistical,
           sum(r.lower_80 * s.share) AS lower_80, sum(r.upper_80 * s.share) AS upper_80
    FROM forecast_rows r JOIN forecast_channel_shares s USING (run_id, sku)
    WHERE r.run_id = $run AND r.sku IN (SELECT sku FROM scope)
      AND ($level <> 'channel' OR s.channel = $target)
    GROUP BY r.week
)
SELECT coalesce(h.week, f.week) AS week, h.actual, f.statistical, f.lower_80, f.upper_80
FROM history h FULL JOIN forecast f USING (week) ORDER BY week
"""


def scopes(base) -> list[tuple[str, str | None]]:
    return [
        ("total", None),
        ("family", sorted(set(base.families))[0]),
        ("brand", sorted(set(base.brands))[-1]),
        ("channel", base.channels[0]),
        ("sku", base.skus[3]),
    ]


def ours(cube, repeats: int) -> list[float]:
    times = []
    for step in range(repeats):
        level, target = scopes(cube.base)[step % 5]
        started = time.perf_counter()
        series = cube.series(level, target, "units")
        next_weeks(series)
        charts.demand_chart(series, f"{level} {target}", approved_name=cube.approved_name)
        times.append(time.perf_counter() - started)
    return times


def peer(path: Path, run_id: int, base, repeats: int) -> list[float]:
    times = []
    for step in range(repeats):
        level, target = scopes(base)[step % 5]
        started = time.perf_counter()
        with db.connect(path) as con:
            frame = con.execute(
                PEER_SQL, {"level": level, "target": target or "", "run": run_id}
            ).df()
        frame = frame.set_index("week").sort_index().reset_index()
        px.line(frame, x="week", y=["actual", "statistical", "lower_80", "upper_80"])
        times.append(time.perf_counter() - started)
    return times


def spread_down(skus: int, repeats: int) -> dict:
    """Apply a family override on SKUs x 3 channels x 52 weeks; check the total is exact."""
    rng = np.random.default_rng(1)
    families = np.array([f"family {i % 8}" for i in range(skus)], dtype=object)
    grid = Labels(
        np.array([f"S{i:05d}" for i in range(skus)], dtype=object),
        families,
        families,
        np.array(["a", "b", "c"], dtype=object),
        np.arange(52) * np.timedelta64(7, "D") + np.datetime64("2027-01-04"),
    )
    statistical = rng.gamma(2.0, 50.0, (skus, 3, 52))
    change = Override(
        "family", "family 3", dt.date(2027, 1, 4), dt.date(2027, 12, 27), "units", 1234.5, "b"
    )
    times, result = [], statistical
    for _ in range(repeats):
        started = time.perf_counter()
        result, _ = apply_override(statistical, statistical, grid, change)
        times.append(time.perf_counter() - started)
    rows = families == "family 3"
    moved = (result[rows] - statistical[rows]).sum(axis=(0, 1))
    return {
        "skus": skus,
        "median_ms": round(statistics.median(times) * 1000, 2),
        "max_abs_error_units": float(np.abs(moved - 1234.5).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skus", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_demand_"))
    try:
        path = folder / "sop.duckdb"
        build_sample_database(path, SampleConfig(skus=args.skus, weeks=160, seed=7, as_of=AS_OF))
        refresh_forecast(path, jobs=2)
        started = time.perf_counter()
        with db.connect(path) as con:
            run_id = latest_run(con)
            base = load_plan_base(con, run_id)
            cube = load_demand_cube(con, base)
        build = time.perf_counter() - started
        # Interleave so both see the same machine load.
        ours_times, peer_times = [], []
        for _ in range(3):
            ours_times += ours(cube, args.repeats // 3 or 1)
            peer_times += peer(path, run_id, base, args.repeats // 3 or 1)
        result = {
            "skus": args.skus,
            "cube_build_ms": round(build * 1000, 1),
            "ours_scope_switch_ms": round(statistics.median(ours_times) * 1000, 2),
            "peer_scope_switch_ms": round(statistics.median(peer_times) * 1000, 2),
        }
        result["peer_over_ours"] = round(
            result["peer_scope_switch_ms"] / result["ours_scope_switch_ms"], 1
        )
        result["spread_down"] = spread_down(1000, 15)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
