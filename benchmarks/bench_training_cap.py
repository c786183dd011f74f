"""What training the global model on a sample of the SKUs costs in accuracy (issue 23).

Past ``global_model.TRAIN_SERIES`` SKUs the global model learns from that many of them, evenly
spaced through families and sizes, and forecasts them all. This runs the model on one sample
company (``bench_scale``'s, 130 weeks, cached) with the cap at each of ``--caps`` (the first
is normally the company's size: trained on everything, the peer) and reports each one's
13-week backtest WAPE over every SKU at origins 13, 26 and 39, and its time.

Run: ``python benchmarks/bench_training_cap.py [--skus 3000] [--caps 3000,1000,300] [--json]``.
Figures in docs/BENCHMARKS.md ("The forecast client at scale").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from bench_scale import sample

from sop_core.data import db
from sop_core.forecast import global_model
from sop_core.forecast.panel import load_panel

ORIGINS = (13, 26, 39)
WEEKS_SCORED = 13


def wape_at(panel, cap: int) -> dict:
    """The global model's backtest WAPE with the training cap at ``cap``."""
    global_model.TRAIN_SERIES = cap
    started = time.perf_counter()
    points = global_model.global_forecasts(
        panel, range(len(panel.skus)), ORIGINS, WEEKS_SCORED, seed=7, threads=2
    )
    seconds = time.perf_counter() - started
    weeks = panel.units.shape[1]
    error = actual = 0.0
    for row, by_origin in points.items():
        for origin, values in by_origin.items():
            sold = np.nan_to_num(panel.units[row, weeks - origin : weeks - origin + WEEKS_SCORED])
            error += np.abs(values[:WEEKS_SCORED] - sold).sum()
            actual += sold.sum()
    return {"cap": cap, "wape": error / actual, "skus": len(points), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=3000)
    parser.add_argument("--caps", default="3000,1000,300")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "sop-bench-scale"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with db.connect(sample(args.skus, args.cache)) as con:
        panel = load_panel(con, None, 26)
    results = [wape_at(panel, int(cap)) for cap in args.caps.split(",")]
    if args.json:
        print(json.dumps({"skus": args.skus, "load": os.getloadavg()[0], "results": results}))
        return
    for r in results:
        print(
            f"trained on {min(r['cap'], args.skus):,} of {args.skus:,} SKUs: 13-week backtest "
            f"WAPE {r['wape']:.2%} on {r['skus']:,} SKUs, {r['seconds']:.1f} s"
        )


if __name__ == "__main__":
    main()
