"""Foundation benchmarks: building the sample database, one unit of database work, and the
first page in a real browser, each beside a named peer in the same run.

Peers:
- building: the same generated tables written to SQLite with ``pandas.DataFrame.to_sql`` (what
  most Streamlit demos store their data in);
- a unit of work: the same weekly-by-family query through ``sqlite3`` (open, query, close);
- first page: a typical Streamlit demo page (pandas reads a CSV, ``plotly.express`` draws the
  same weekly chart, four ``st.metric`` tiles), served and measured the same way.

Machines here are shared and noisy: every figure is a median of repeated runs, and the
comparison is a ratio. Run: ``python benchmarks/bench_foundation.py [--json] [--quick]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sop_core.data import db
from sop_core.data.sample import SampleConfig, build_sample_database, generate
from sop_core.data.stores import sales
from tests.helpers import BROWSER_ARGS, CHROMIUM, serve_streamlit, stop, wait_for_page

AS_OF = dt.date(2026, 11, 25)
WEEKLY_SQL = """
    SELECT s.week, p.family, sum(s.units) AS units
    FROM sales_history s JOIN products p ON p.sku = s.sku
    GROUP BY s.week, p.family ORDER BY s.week, p.family
"""

PEER_APP = """
import pandas as pd
import plotly.express as px
import streamlit as st

st.set_page_config(layout="wide")
st.title("Overview")
weekly = pd.read_csv(__import__("os").environ["PEER_CSV"], parse_dates=["week"])
last = weekly[weekly["week"] > weekly["week"].max() - pd.Timedelta(weeks=13)]
cols = st.columns(4)
cols[0].metric("Units, last 13 weeks", f"{last['units'].sum():,.0f}", border=True)
cols[1].metric("Weeks", weekly["week"].nunique(), border=True)
cols[2].metric("Families", weekly["family"].nunique(), border=True)
cols[3].metric("Rows", len(weekly), border=True)
st.plotly_chart(px.area(weekly, x="week", y="units", color="family"))
"""


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_build(skus: int, repeats: int, folder: Path) -> dict[str, float]:
    """Our whole ``init`` (generate + DuckDB) vs generate + SQLite via pandas.to_sql."""
    config = SampleConfig(skus=skus, seed=1, as_of=AS_OF)
    ours_path = folder / f"ours-{skus}.duckdb"

    def ours() -> None:
        build_sample_database(ours_path, config, force=True)

    def generate_only() -> None:
        generate(config)

    tables = generate(config)
    peer_path = folder / f"peer-{skus}.sqlite"

    def peer_write() -> None:
        peer_path.unlink(missing_ok=True)
        with sqlite3.connect(peer_path) as con:
            for name, frame in tables.items():
                frame.to_sql(name, con, index=False, chunksize=50_000)

    generation = median_seconds(generate_only, repeats)
    ours_total = median_seconds(ours, repeats)
    peer_total = generation + median_seconds(peer_write, repeats)
    return {
        "skus": skus,
        "sales_rows": len(tables["sales_history"]),
        "generate_seconds": round(generation, 3),
        "ours_init_seconds": round(ours_total, 3),
        "peer_sqlite_init_seconds": round(peer_total, 3),
        "ratio_peer_over_ours": round(peer_total / ours_total, 2),
    }


def bench_unit_of_work(folder: Path, repeats: int) -> dict[str, float]:
    """Open, run the weekly-by-family query, close: DuckDB (ours) vs sqlite3."""
    duck = folder / "ours-200.duckdb"
    lite = folder / "peer-200.sqlite"

    def ours() -> None:
        with db.connect(duck) as con:
            sales.weekly_sales_by_family(con, sales.Scope())

    def peer() -> None:
        con = sqlite3.connect(lite)
        try:
            con.execute(WEEKLY_SQL).fetchall()
        finally:
            con.close()

    ours_s, peer_s = median_seconds(ours, repeats), median_seconds(peer, repeats)
    return {
        "ours_open_query_close_ms": round(ours_s * 1000, 1),
        "peer_sqlite_open_query_close_ms": round(peer_s * 1000, 1),
        "ratio_peer_over_ours": round(peer_s / ours_s, 2),
    }


def _first_render(browser, url: str) -> float:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    started = time.perf_counter()
    page.goto(url)
    wait_for_page(page, "Overview", timeout_ms=60_000)
    seconds = time.perf_counter() - started
    page.close()
    return seconds


def bench_first_render(folder: Path, repeats: int) -> dict[str, float] | None:
    """First render of the Overview page (ours) vs the peer demo page, in headless Chromium.

    ``cold``: the first load after a fresh server start (the server's imports and first
    queries included), median over ``repeats`` server starts. ``warm``: later loads, each in
    a new browser session, median over ``repeats``.
    """
    if not Path(CHROMIUM).exists():
        return None
    from playwright.sync_api import sync_playwright

    database = folder / "app.duckdb"
    build_sample_database(database, SampleConfig(as_of=AS_OF), force=True)
    csv = folder / "weekly.csv"
    with db.connect(database) as con:
        con.execute(WEEKLY_SQL).df().to_csv(csv, index=False)
    peer_script = folder / "peer_app.py"
    peer_script.write_text(PEER_APP)
    apps = (
        ("ours", ROOT / "app.py", {"SOP_DB": str(database)}),
        ("peer", peer_script, {"PEER_CSV": str(csv)}),
    )
    cold: dict[str, list[float]] = {"ours": [], "peer": []}
    warm: dict[str, list[float]] = {"ours": [], "peer": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        for attempt in range(repeats):
            # Alternate the order so that neither side always runs on a warmer machine.
            for name, script, env in apps if attempt % 2 == 0 else apps[::-1]:
                process, url = serve_streamlit(script, env, folder / f"{name}.log")
                try:
                    cold[name].append(_first_render(browser, url))
                    warm[name].append(_first_render(browser, url))
                finally:
                    stop(process)
        browser.close()
    results = {}
    for name in ("ours", "peer"):
        results[f"{name}_cold_median_seconds"] = round(statistics.median(cold[name]), 3)
        results[f"{name}_cold_max_seconds"] = round(max(cold[name]), 3)
        results[f"{name}_warm_median_seconds"] = round(statistics.median(warm[name]), 3)
    results["ratio_ours_over_peer_cold"] = round(
        results["ours_cold_median_seconds"] / results["peer_cold_median_seconds"], 2
    )
    results["ratio_ours_over_peer_warm"] = round(
        results["ours_warm_median_seconds"] / results["peer_warm_median_seconds"], 2
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, no 1,000 SKUs")
    args = parser.parse_args()
    repeats = 2 if args.quick else 5
    folder = Path(tempfile.mkdtemp(prefix="sop-bench-"))
    try:
        results = {
            "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
            "build": [bench_build(200, repeats, folder)]
            + ([] if args.quick else [bench_build(1000, 3, folder)]),
            "unit_of_work": bench_unit_of_work(folder, 50 if args.quick else 200),
            "first_render": bench_first_render(folder, repeats),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("Build a sample database (median seconds)")
    print(
        f"{'SKUs':>6} {'rows':>9} {'generate':>9} {'ours':>8} {'peer sqlite':>12} {'peer/ours':>10}"
    )
    for row in results["build"]:
        print(
            f"{row['skus']:>6} {row['sales_rows']:>9,} {row['generate_seconds']:>9.2f} "
            f"{row['ours_init_seconds']:>8.2f} {row['peer_sqlite_init_seconds']:>12.2f} "
            f"{row['ratio_peer_over_ours']:>10.2f}"
        )
    unit = results["unit_of_work"]
    print(
        f"\nOpen + weekly query + close (median ms): ours {unit['ours_open_query_close_ms']}, "
        f"peer sqlite3 {unit['peer_sqlite_open_query_close_ms']} "
        f"(peer/ours {unit['ratio_peer_over_ours']})"
    )
    render = results["first_render"]
    if render is None:
        print("\nFirst render: skipped (no /usr/bin/chromium)")
    else:
        print("\nFirst render of the Overview in Chromium (median seconds)")
        print(f"{'':>6} {'cold':>6} {'cold max':>9} {'warm':>6}")
        for name in ("ours", "peer"):
            print(
                f"{name:>6} {render[f'{name}_cold_median_seconds']:>6.2f} "
                f"{render[f'{name}_cold_max_seconds']:>9.2f} "
                f"{render[f'{name}_warm_median_seconds']:>6.2f}"
            )
        print(
            f"ours/peer: cold {render['ratio_ours_over_peer_cold']}, "
            f"warm {render['ratio_ours_over_peer_warm']}"
        )


if __name__ == "__main__":
    main()
