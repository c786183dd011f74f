"""MASE scales benchmark: accuracy's scales summed in DuckDB against pandas on the weekly rows.

Before: ``accuracy.history_frame`` (every weekly sales row, SKU x channel x week, into pandas;
9 million rows at 20,000 SKUs) and the scales of each scope grouped there. After:
``accuracy.history_scales`` (every scope's scales at the scored origins, summed in DuckDB by
``sales.seasonal_naive_scales``; pandas only sees per-scope and per-SKU scale rows) and the
same scopes looked up. Each form runs in its own process (``--form``), so its peak memory is
its own; they take turns, ``--rounds`` times each. Both forms' numbers are checked equal
(tolerance 1e-9) once, on the scopes timed.

The origins are the database's past forecast origins (``lag_frame``); a database without
past forecasts gets ``--origins`` origins four weeks apart, ending four weeks before its last
week. The database is opened as it is (copy it first: the benchmark only reads, but a cached
file should not be opened by anything that could write).

Run: ``python benchmarks/bench_scales.py --db PATH [--origins 8] [--rounds 2] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
import pandas as pd

# The scopes timed, each scaled per scope and per SKU within it: the whole company and the
# first family, channel and SKU of the history.
SCOPES = ("total", "family", "channel", "sku")


def origins_of(con, count: int) -> np.ndarray:
    from sop_core.data.stores import sales
    from sop_core.demand import accuracy

    frame = accuracy.lag_frame(con)
    if not frame.empty:
        return pd.to_datetime(pd.Index(frame["origin"].unique())).to_numpy()
    last = pd.Timestamp(sales.last_history_week(con))
    return pd.date_range(end=last - pd.Timedelta(weeks=4), periods=count, freq="4W-MON").to_numpy()


def run_form(path: str, form: str, count: int) -> dict:
    """One form, timed in this process: load, then every scope's scales."""
    from sop_core.data import db
    from sop_core.demand import accuracy

    with db.connect(path) as con:
        origins = origins_of(con, count)
        started = time.perf_counter()
        if form == "pandas":
            history = accuracy.history_frame(con)
        else:
            history = accuracy.history_scales(con, origins)
        load = time.perf_counter() - started
    # The first family, channel and SKU the history has (not timed).
    values = {
        level: min(accuracy.scope_values(history, level)) for level in ("family", "channel", "sku")
    }
    started = time.perf_counter()
    results = {}
    for level in SCOPES:
        value = values.get(level)
        for keys in ([], ["sku"]):
            scales = accuracy._scope_scales(history, level, value, origins, keys)
            scales = scales[scales["scale"].notna()].sort_values([*keys, "origin"])
            results[f"{level}:{'sku' if keys else 'scope'}"] = scales["scale"].tolist()
    scopes = time.perf_counter() - started
    return {
        "form": form,
        "origins": len(origins),
        "load_s": round(load, 2),
        "scopes_s": round(scopes, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "scales": results,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the DuckDB file (a copy)")
    parser.add_argument("--origins", type=int, default=8, help="origins without past forecasts")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--form", choices=("pandas", "duckdb"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.form:
        print(json.dumps(run_form(args.db, args.form, args.origins)))
        return 0
    runs = []
    for round_ in range(args.rounds):
        forms = ("pandas", "duckdb") if round_ % 2 == 0 else ("duckdb", "pandas")
        for form in forms:
            command = [sys.executable, __file__, "--db", args.db, "--form", form]
            command += ["--origins", str(args.origins)]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            runs.append(json.loads(out))
    first = {run["form"]: run["scales"] for run in runs}
    for name, old in first["pandas"].items():
        new = first["duckdb"][name]
        assert len(old) == len(new) and np.allclose(old, new, rtol=1e-9, atol=1e-9), name
    summary = [{k: v for k, v in run.items() if k != "scales"} for run in runs]
    if args.json:
        print(json.dumps({"db": args.db, "runs": summary}))
    else:
        for run in summary:
            print(
                f"{run['form']:>7}: load {run['load_s']:6.2f} s, 8 scopes' scales "
                f"{run['scopes_s']:5.2f} s, peak RSS {run['peak_rss_mb']:,} MB "
                f"({run['origins']} origins)"
            )
        print("same scales from both forms (tolerance 1e-9)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
