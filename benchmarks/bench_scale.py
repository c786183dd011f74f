"""Scale benchmarks (issue 23): the forecast on a Dask cluster against the local engine, and the
dashboard at 20,000 SKUs.

``engine`` part: for each ``--skus`` size, the sample company (130 weeks, cached under
``--cache``) is forecast with ``--engine local --jobs 2`` (this machine's process pool) and
``--engine dask --jobs 2`` (a 2-worker ``LocalCluster`` started by the run, one thread per
worker), taking turns for ``--rounds`` rounds, every SKU refit (``--force``). Reported: the
median wall time of each engine and their ratio (target at 10,000 series: dask within 1.15x of
local), the fitting phase apart from the client's part (reading, classification, the global
model, writing), the per-series fitting cost in core-seconds, the Dask per-task overhead
(measured with batches that do not fit) and the projection to 100,000 series on 32 workers.

``dashboard`` part: imported from ``benchmarks/scale_dashboard.py`` (its ``measure(skus, rounds)``
returns a dict of figures); said to be not available when that module is missing.

Run: ``python benchmarks/bench_scale.py [--part engine|dashboard|all] [--skus 1000,10000]
[--rounds 3|3,1] [--json]``. The default (1,000 SKUs, 3 rounds) takes about 5 minutes on 2 cores;
the figures in the docs: ``--skus 1000,10000,20000 --rounds 2,1,1`` (about 25 minutes).
Figures in docs/BENCHMARKS.md ("Issue 23") and docs/SCALE.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# LightGBM's OpenMP threads spin while they wait: on a 2-core machine that something else also
# uses (here another benchmark), the global model of 3,000 SKUs took 31-69 s with 2 threads
# against 6-7 s with 1, and 6-8 s with 2 threads and a passive wait. Set before lightgbm loads;
# both engines run the global model the same way in this process, so the comparison stays fair.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sop_core.data.sample import SampleConfig, build_sample_database
from sop_core.forecast import cluster
from sop_core.forecast import engine as forecast_engine
from sop_core.forecast.runs import refresh_forecast

AS_OF = dt.date(2026, 11, 25)
WEEKS = 130  # 20,000 SKUs x 130 weeks is 2.6 million SKU-weeks, within the sample's 3.2 million
JOBS = 2
TARGET_SERIES, TARGET_WORKERS = 100_000, 32
WARM_UP_SKUS = 100


def sample(skus: int, cache: Path) -> Path:
    """The sample company of ``skus`` SKUs, built once into ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"sample-{skus}-{WEEKS}w.duckdb"
    if not path.exists():
        started = time.perf_counter()
        build_sample_database(path, SampleConfig(skus=skus, weeks=WEEKS, seed=7, as_of=AS_OF))
        print(f"  built {path.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


class FitTimer:
    """Times the fitting phase (``engine._run_regular``: batches out, results back) of a run
    and counts its series."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.series = 0
        self._original = forecast_engine._run_regular

    def __enter__(self) -> FitTimer:
        def timed(inputs, *args, **kwargs):
            started = time.perf_counter()
            try:
                return self._original(inputs, *args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.series += len(inputs)

        forecast_engine._run_regular = timed
        return self

    def __exit__(self, *exc: object) -> None:
        forecast_engine._run_regular = self._original


def one_run(master: Path, engine: str, folder: Path) -> dict:
    """A full refresh of a fresh copy of ``master`` with ``engine``: wall time, fitting phase,
    load average before."""
    import shutil

    path = folder / f"run-{engine}.duckdb"
    shutil.copy(master, path)
    load = os.getloadavg()[0]
    with FitTimer() as fit:
        started = time.perf_counter()
        summary = refresh_forecast(path, jobs=JOBS, reuse=False, engine=engine)
        seconds = time.perf_counter() - started
    path.unlink()
    return {
        "engine": engine,
        "seconds": seconds,
        "fit_seconds": fit.seconds,
        "client_seconds": seconds - fit.seconds,
        "series": fit.series,
        "skus": summary.skus,
        "load_before": load,
    }


def dask_overhead(master: Path, tasks: int = 200) -> dict:
    """Seconds a Dask task costs besides its fits: start-up of a 2-worker ``LocalCluster``, then
    ``tasks`` tasks carrying a real batch of 25 SKUs' inputs each and returning them (no
    fitting), two at a time as a run sends them."""
    from distributed import Client, LocalCluster, wait

    from sop_core.data import db
    from sop_core.forecast.panel import load_panel

    with db.connect(master) as con:
        panel = load_panel(con, None, 26)
    batch = [forecast_engine.sku_input(panel, row) for row in range(25)]
    started = time.perf_counter()
    with (
        LocalCluster(
            n_workers=JOBS,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as local_cluster,
        Client(local_cluster) as client,
    ):
        client.wait_for_workers(JOBS)
        startup = time.perf_counter() - started
        wait(client.submit(len, [1], pure=False))  # warm: the first task imports
        started = time.perf_counter()
        futures = [client.submit(_echo, batch, pure=False) for _ in range(tasks)]
        wait(futures)
        client.gather(futures)
        seconds = time.perf_counter() - started
    return {
        "cluster_start_seconds": startup,
        "tasks": tasks,
        "seconds_per_task": seconds * JOBS / tasks,
    }


def _echo(batch: list) -> list:
    return batch


def engine_part(sizes: list[int], rounds: list[int], cache: Path) -> dict:
    report: dict = {"jobs": JOBS, "weeks": WEEKS, "rounds": rounds, "sizes": {}}
    with tempfile.TemporaryDirectory(prefix="sop-bench-scale-") as folder:
        # Not timed: the first run of a process pays one-time costs (imports, numba's
        # compilation in the client) that a nightly refresh in a fresh process pays once too,
        # but that would flatter whichever engine goes second.
        warm = sample(WARM_UP_SKUS, cache)
        for engine in ("local", "dask"):
            one_run(warm, engine, Path(folder))
        for skus, rounds_here in zip(sizes, rounds, strict=True):
            master = sample(skus, cache)
            runs: dict[str, list[dict]] = {"local": [], "dask": []}
            for index in range(rounds_here):
                # Taking turns, and the other one first every other round.
                order = ("local", "dask") if index % 2 == 0 else ("dask", "local")
                for engine in order:
                    result = one_run(master, engine, Path(folder))
                    runs[engine].append(result)
                    print(
                        f"  {skus:,} SKUs, round {index + 1}, {engine}: "
                        f"{result['seconds']:.1f} s (fits {result['fit_seconds']:.1f} s, "
                        f"load {result['load_before']:.2f})",
                        file=sys.stderr,
                    )
            report["sizes"][skus] = summarise(runs)
        report["overhead"] = dask_overhead(sample(min(sizes), cache))
    report["projection"] = projection(report)
    return report


def summarise(runs: dict[str, list[dict]]) -> dict:
    out = {}
    for engine, results in runs.items():
        series = results[0]["series"]
        fit = statistics.median(r["fit_seconds"] for r in results)
        out[engine] = {
            "median_seconds": statistics.median(r["seconds"] for r in results),
            "median_fit_seconds": fit,
            "median_client_seconds": statistics.median(r["client_seconds"] for r in results),
            "series": series,
            "skus": results[0]["skus"],
            "core_seconds_per_series": fit * JOBS / max(series, 1),
            "loads": [round(r["load_before"], 2) for r in results],
        }
    out["ratio_dask_to_local"] = out["dask"]["median_seconds"] / out["local"]["median_seconds"]
    out["fit_ratio_dask_to_local"] = (
        out["dask"]["median_fit_seconds"] / out["local"]["median_fit_seconds"]
    )
    return out


def projection(report: dict) -> dict:
    """100,000 series on 32 workers: the fits at the measured per-series cost (the largest
    size's, on dask) spread over 32 workers, plus the client's part extrapolated linearly from
    the two largest sizes measured (from the one size in proportion, when only one was). The
    two largest: past ``global_model.TRAIN_SERIES`` SKUs the global model trains on a sample of
    that size, so its training stops growing, and the slope between two sizes beyond it is the
    one that goes on to 100,000 (measure 10,000 and 20,000 for that)."""
    sizes = sorted(report["sizes"])
    largest = report["sizes"][sizes[-1]]["dask"]
    per_series = largest["core_seconds_per_series"]
    overhead = report["overhead"]["seconds_per_task"]
    batch = cluster.batch_size(TARGET_SERIES, TARGET_WORKERS)
    fits = TARGET_SERIES * (per_series + overhead / batch) / TARGET_WORKERS
    client_points = [(s, report["sizes"][s]["dask"]["median_client_seconds"]) for s in sizes]
    if len(client_points) >= 2:
        (n1, c1), (n2, c2) = client_points[-2], client_points[-1]
        slope = (c2 - c1) / (n2 - n1)
        client = c2 + slope * (TARGET_SERIES - n2)
    else:
        n, c = client_points[0]
        client = c * TARGET_SERIES / n
    return {
        "series": TARGET_SERIES,
        "workers": TARGET_WORKERS,
        "core_seconds_per_series": per_series,
        "fit_minutes": fits / 60,
        "client_minutes": client / 60,
        "total_minutes": (fits + client) / 60,
        "from_sizes": sizes,
    }


def dashboard_part(args: argparse.Namespace) -> dict:
    """The other half of the issue, written beside this file; absent, it says so."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        import scale_dashboard
    except ModuleNotFoundError as error:
        if error.name != "scale_dashboard":
            raise
        print("dashboard part: not available (benchmarks/scale_dashboard.py is not here)")
        return {"available": False}
    return scale_dashboard.measure(skus=args.dashboard_skus, rounds=max(args.rounds))


def print_engine(report: dict) -> None:
    rounds = ", ".join(map(str, report["rounds"]))
    print(f"Forecast engines, --jobs {JOBS}, {report['weeks']} weeks, rounds {rounds}:")
    print(
        f"  {'SKUs':>7} {'series':>7} {'local s':>9} {'dask s':>9} {'ratio':>6} "
        f"{'fit local':>10} {'fit dask':>9} {'fit ratio':>9} {'core-s/series':>14}"
    )
    for skus, size in report["sizes"].items():
        local, dask = size["local"], size["dask"]
        print(
            f"  {skus:>7,} {dask['series']:>7,} {local['median_seconds']:>9.1f} "
            f"{dask['median_seconds']:>9.1f} {size['ratio_dask_to_local']:>6.2f} "
            f"{local['median_fit_seconds']:>10.1f} {dask['median_fit_seconds']:>9.1f} "
            f"{size['fit_ratio_dask_to_local']:>9.2f} {dask['core_seconds_per_series']:>14.3f}"
        )
    overhead = report["overhead"]
    print(
        f"  Dask: LocalCluster start {overhead['cluster_start_seconds']:.1f} s; "
        f"{overhead['seconds_per_task'] * 1000:.1f} ms per task of 25 SKUs' inputs"
    )
    p = report["projection"]
    print(
        f"  Projection, {p['series']:,} series on {p['workers']} workers: fits "
        f"{p['fit_minutes']:.1f} min + client {p['client_minutes']:.1f} min = "
        f"{p['total_minutes']:.1f} min"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("engine", "dashboard", "all"), default="engine")
    parser.add_argument(
        "--skus",
        default="1000",
        help="comma-separated sizes for the engine part, e.g. 1000,10000 (1000)",
    )
    parser.add_argument(
        "--rounds",
        default="3",
        help="rounds per size, or one number per size: 3,1 (3)",
    )
    parser.add_argument(
        "--dashboard-skus", type=int, default=20_000, help="SKUs of the dashboard part (20000)"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "sop-bench-scale",
        help="where the samples are built once",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.skus.split(",") if s.strip()]
    rounds = [int(r) for r in args.rounds.split(",") if r.strip()]
    rounds = rounds * len(sizes) if len(rounds) == 1 else rounds
    if len(rounds) != len(sizes):
        parser.error("--rounds: one number, or one per --skus size")
    args.rounds = rounds
    report: dict = {
        "date": dt.date.today().isoformat(),
        "cores": os.cpu_count(),
        "load_at_start": os.getloadavg(),
    }
    if args.part in ("engine", "all"):
        report["engine"] = engine_part(sizes, rounds, args.cache)
        if not args.json:
            print_engine(report["engine"])
    if args.part in ("dashboard", "all"):
        report["dashboard"] = dashboard_part(args)
    report["load_at_end"] = os.getloadavg()
    if args.json:
        print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
