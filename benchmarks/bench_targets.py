"""Targets benchmark (issue 9): a promotion plan file in, revised targets out, for 1,000 SKUs x
26 weeks from a stored forecast, ours against a pandas script, in one run; and the holdout
proof's figures on the default sample.

Speed. Data: the sample company with 1,000 SKUs (seed 1), its planned promotions taken out of
the calendar (the plan file brings the promotions, as in the holdout), and a stored 26-week
forecast (``refresh_forecast``, default settings). The plan file is last year's promotions in
the same weeks: ``holdout_plan`` over the history's weeks 52 to 27 before its end, moved 52
weeks on, so it covers the forecast's 26 weeks (about 13% of the SKU-weeks). Ours: ``python -m
sop_core targets --db DB --plan PLAN --out X.csv`` as a subprocess, start-up included; also
``--scenario`` after ``import-plan``. Peer: the "pandas merge-and-apply script" a team would
write (``PEER_SCRIPT``: read the forecast rows and the driver effects with duckdb into pandas,
merge the plan on SKU and week, the multiplicative lift per row with ``DataFrame.apply``, write
a CSV), also a subprocess with start-up included. Ours does more: the post-promotion dip and
the cannibalisation within families (the peer does neither); the script checks the two agree
where those do not apply.

Holdout: ``plan_holdout`` on the default sample (40 SKUs, 160 weeks, seed 7), cannibalisation
0 and 0.3 (the planner's default).

The 1,000-SKU database and the default sample are built once into ``--workdir`` (default: a
temporary folder, removed afterwards) and reused by later runs with the same folder.

Run: ``python benchmarks/bench_targets.py [--json] [--workdir DIR] [--repeats 7]``; ``--json``
prints ``{"skus": .., "weeks": .., "ours_s": .., "peer_s": .., ...}`` plus the holdout
figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import statistics
import subprocess
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
from sop_core.forecast.engine import ForecastSettings
from sop_core.forecast.runs import refresh_forecast
from sop_core.scenario.holdout import plan_holdout
from sop_core.scenario.plan_files import holdout_plan, read_plan

AS_OF = dt.date(2026, 11, 25)
WEEKS = 26
SCENARIO = "bench plan"
HOLDOUT_SAMPLE = SampleConfig(skus=40, weeks=160, seed=7, as_of=AS_OF)  # tests/conftest.py

PEER_SCRIPT = '''\
"""Revised targets the pandas way: merge the plan onto the forecast, lift each row."""

import sys

import duckdb
import numpy as np
import pandas as pd

db_path, plan_path, out_path = sys.argv[1:4]
con = duckdb.connect(db_path, read_only=True)
run_id = con.execute(
    "SELECT run_id FROM forecast_runs ORDER BY history_end DESC, run_id DESC LIMIT 1"
).fetchone()[0]
forecast = con.execute(
    "SELECT sku, week, forecast AS baseline, lower_80, upper_80 FROM forecast_rows "
    "WHERE run_id = ? ORDER BY sku, week",
    [run_id],
).df()
effects = (
    con.execute(
        "SELECT sku, driver, estimate FROM driver_effects WHERE run_id = ?", [run_id]
    )
    .df()
    .pivot(index="sku", columns="driver", values="estimate")
    .add_suffix("_effect")
    .reset_index()
)
con.close()
# As the app does: the discount's own effect is set so that a 10% discount gives the
# promo_10pct the forecast reports (the stored promo_depth is shrunk separately).
effects["price_elasticity_effect"] = effects["price_elasticity_effect"].fillna(0.0)
effects["promo_depth_effect"] = np.where(
    effects["promo_10pct_effect"].notna(),
    (effects["promo_10pct_effect"] - effects["price_elasticity_effect"] * np.log(0.9)) / 0.1,
    effects["promo_depth_effect"],
)
effects = effects.fillna(0.0)

plan = pd.read_csv(plan_path, parse_dates=["week"])
rows = forecast.merge(plan, on=["sku", "week"], how="left").merge(effects, on="sku", how="left")
rows = rows.fillna({"discount": 0.0, "share": 1.0, "feature": 0.0, "display": 0.0})


def lift(row):
    return (
        row["promo_depth_effect"] * row["discount"] * row["share"]
        + row["price_elasticity_effect"] * row["share"] * np.log(1 - row["discount"])
        + row["feature_effect"] * row["feature"]
        + row["display_effect"] * row["display"]
    )


factor = np.exp(rows.apply(lift, axis=1))
rows["revised"] = rows["baseline"] * factor
rows["lower_80"] = rows["lower_80"] * factor
rows["upper_80"] = rows["upper_80"] * factor
rows["week"] = rows["week"].dt.date
columns = ["sku", "week", "baseline", "revised", "lower_80", "upper_80"]
rows[columns].round(2).to_csv(out_path, index=False)
'''


def build_speed_database(folder: Path, skus: int, jobs: int) -> dict:
    """The 1,000-SKU sample with a stored forecast and the plan file, built once into
    ``folder`` (reused when the folder already holds them for the same size)."""
    path, plan_file, marker = folder / "sop.duckdb", folder / "plan.csv", folder / "built.json"
    wanted = {"skus": skus, "seed": 1, "as_of": AS_OF.isoformat(), "horizon": WEEKS}
    if marker.exists() and path.exists() and plan_file.exists():
        built = json.loads(marker.read_text())
        if built["config"] == wanted:
            return {**built, "cached": True}
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    build_sample_database(path, SampleConfig(skus=skus, seed=1, as_of=AS_OF))
    build_s = time.perf_counter() - started
    with db.connect(path) as con:
        # The calendar keeps the promotions that ran; the plan file brings the future ones.
        con.execute("DELETE FROM promotions WHERE status = 'planned'")
    settings = ForecastSettings(horizon=WEEKS)
    started = time.perf_counter()
    run = refresh_forecast(path, settings, jobs=jobs)
    forecast_s = time.perf_counter() - started
    with db.connect(path) as con:
        last = con.execute("SELECT max(week) FROM sales_history").fetchone()[0]
        # Last year's promotions in the same weeks, as marketing's plan for the next 26.
        plan = holdout_plan(con, last - dt.timedelta(weeks=51), last - dt.timedelta(weeks=26))
        first, final = con.execute(
            "SELECT min(week), max(week) FROM forecast_rows WHERE run_id = ?", [run.run_id]
        ).fetchone()
    plan["week"] = (pd.to_datetime(plan["week"]) + pd.Timedelta(weeks=52)).dt.date
    assert plan["week"].min() >= first and plan["week"].max() <= final, "plan outside forecast"
    plan.to_csv(plan_file, index=False)
    built = {
        "config": wanted,
        "build_s": round(build_s, 1),
        "forecast_s": round(forecast_s, 1),
        "forecast_settings": "default (backtest origins 13, 26, 39), horizon 26",
        "jobs": jobs,
        "plan_rows": len(plan),
    }
    marker.write_text(json.dumps(built))
    return {**built, "cached": False}


def run(command: list[str]) -> float:
    """Seconds a subprocess takes, start-up included; it must succeed."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def cli(*arguments: str | Path) -> list[str]:
    return [sys.executable, "-m", "sop_core", *map(str, arguments)]


def bench_speed(folder: Path, repeats: int) -> dict:
    path, plan_file = folder / "sop.duckdb", folder / "plan.csv"
    peer_file = folder / "peer_targets.py"
    peer_file.write_text(PEER_SCRIPT)
    outputs = {name: folder / f"{name}.csv" for name in ("ours_plan", "ours_scenario", "peer")}
    # import-plan writes a scenario version: once, timed once (it is not what the target is).
    import_s = run(cli("import-plan", "--db", path, "--scenario", SCENARIO, "--replace", plan_file))
    commands = {
        "ours_plan": cli(
            "targets", "--db", path, "--plan", plan_file, "--out", outputs["ours_plan"]
        ),
        "ours_scenario": cli(
            "targets", "--db", path, "--scenario", SCENARIO, "--out", outputs["ours_scenario"]
        ),
        "peer": [sys.executable, str(peer_file), str(path), str(plan_file), str(outputs["peer"])],
    }
    for command in commands.values():  # warm the file cache, untimed
        run(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):  # interleaved, so the machine's noise falls on all three
        for name, command in commands.items():
            times[name].append(run(command))
    result = {
        "import_plan_s": round(import_s, 2),
        "commands": {
            "ours": f"python -m sop_core targets --db {path} --plan {plan_file} --out X.csv",
            "ours_scenario": f"python -m sop_core targets --db {path} --scenario '{SCENARIO}' "
            "--out X.csv (after import-plan)",
            "peer": f"python {peer_file} {path} {plan_file} X.csv",
        },
    }
    for name, values in times.items():
        result[f"{name}_median_s"] = round(statistics.median(values), 3)
        result[f"{name}_max_s"] = round(max(values), 3)
        result[f"{name}_all_s"] = [round(v, 3) for v in values]
    result["same_file_plan_and_scenario"] = (
        outputs["ours_plan"].read_bytes() == outputs["ours_scenario"].read_bytes()
    )
    result["agreement"] = agreement(folder, path, plan_file, outputs["peer"])
    return result


def agreement(folder: Path, path: Path, plan_file: Path, peer_out: Path) -> dict:
    """Ours without cannibalisation against the peer: equal (to the CSV's 2 decimals) on every
    SKU-week but the weeks after a promotion (the dip the peer leaves out)."""
    ours_out = folder / "ours_no_cannibalisation.csv"
    run(
        cli(
            "targets",
            "--db",
            path,
            "--plan",
            plan_file,
            "--cannibalisation",
            "0",
            "--out",
            ours_out,
        )
    )
    ours = pd.read_csv(ours_out)
    peer = pd.read_csv(peer_out)
    both = ours.merge(peer, on=["sku", "week"], suffixes=("_ours", "_peer"), validate="1:1")
    levers = read_plan(path, plan_file).levers
    dips = {(lever.target, str(lever.end_week + dt.timedelta(weeks=1))) for lever in levers}
    dip = np.array([(s, w) in dips for s, w in zip(both["sku"], both["week"], strict=True)])
    gap = (both["revised_ours"] - both["revised_peer"]).abs()
    plan = pd.read_csv(plan_file)
    return {
        "rows": len(both),
        "rows_ours": len(ours),
        "rows_peer": len(peer),
        "dip_weeks": int(dip.sum()),
        "max_gap_outside_dip_weeks": round(float(gap[~dip].max()), 4),
        "rows_differing_outside_dip_weeks": int((gap[~dip] > 0.011).sum()),
        "baseline_max_gap": round(
            float((both["baseline_ours"] - both["baseline_peer"]).abs().max()), 4
        ),
        "promoted_share": round(len(plan) / len(both), 4),
        "revised_over_baseline_no_cannibalisation": round(
            float(ours["revised"].sum() / ours["baseline"].sum()), 4
        ),
    }


def bench_holdout(folder: Path, jobs: int) -> dict:
    folder.mkdir(exist_ok=True)
    path = folder / "sop.duckdb"
    if not path.exists():
        build_sample_database(path, HOLDOUT_SAMPLE)
    figures = {}
    for rate in (0.0, 0.3):
        workdir = folder / f"cannibalisation-{rate}"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir()
        started = time.perf_counter()
        result = plan_holdout(path, workdir, WEEKS, cannibalisation=rate, jobs=jobs)
        result["seconds"] = round(time.perf_counter() - started, 1)
        result.pop("plan_file")
        figures[str(rate)] = result
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skus", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=None, help="cache folder (kept)")
    parser.add_argument("--no-holdout", action="store_true", help="the speed part only")
    args = parser.parse_args()
    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").setLevel(logging.ERROR)
    jobs = os.cpu_count() or 1
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="sop-bench-targets-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        built = build_speed_database(folder, args.skus, jobs)
        speed = bench_speed(folder, args.repeats)
        holdout = {} if args.no_holdout else bench_holdout(folder / "holdout", jobs)
    finally:
        if args.workdir is None:
            shutil.rmtree(folder, ignore_errors=True)
    agreed = speed["agreement"]
    result = {
        "skus": args.skus,
        "weeks": WEEKS,
        "ours_s": speed["ours_plan_median_s"],
        "peer_s": speed["peer_median_s"],
        "ours_scenario_s": speed["ours_scenario_median_s"],
        "ours_max_s": speed["ours_plan_max_s"],
        "peer_over_ours": round(speed["peer_median_s"] / speed["ours_plan_median_s"], 2),
        "repeats": args.repeats,
        "plan_rows": built["plan_rows"],
        "promoted_share": agreed["promoted_share"],
        "database": built,
        "speed": speed,
        "holdout": holdout,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"Targets from a plan file, {args.skus} SKUs x {WEEKS} weeks ({built['plan_rows']:,} "
        f"plan rows, {agreed['promoted_share']:.0%} of SKU-weeks), subprocess with start-up, "
        f"median of {args.repeats}: ours {result['ours_s']} s (max {result['ours_max_s']} s; "
        f"--scenario {result['ours_scenario_s']} s, import-plan {speed['import_plan_s']} s); "
        f"peer pandas merge-and-apply script {result['peer_s']} s; peer / ours "
        f"{result['peer_over_ours']}x"
    )
    print(
        f"Database: {'cached' if built['cached'] else 'built'} (sample {built['build_s']} s, "
        f"forecast {built['forecast_s']} s, {built['forecast_settings']}, jobs {built['jobs']})"
    )
    print(f"Agreement with the peer (no cannibalisation): {agreed}")
    for rate, figures in holdout.items():
        print(
            f"Holdout, cannibalisation {rate}: promoted WAPE {figures['wape_promoted_baseline']} "
            f"-> {figures['wape_promoted_revised']} ({figures['promoted_reduction']:.1%} lower), "
            f"unpromoted {figures['wape_unpromoted_baseline']} -> "
            f"{figures['wape_unpromoted_revised']}; {figures['skus']} SKUs, "
            f"{figures['promoted_sku_weeks']} promoted and {figures['unpromoted_sku_weeks']} "
            f"unpromoted SKU-weeks, {figures['seconds']} s"
        )


if __name__ == "__main__":
    main()
