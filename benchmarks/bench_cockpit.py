"""Meeting cockpit benchmarks: the Overview in a real browser and the meeting pack.

Overview: the dashboard served by ``streamlit run`` on a copy of the default sample with a
stored forecast, opened in headless Chromium: the first load after the server starts (every
cache cold), a new browser session on the running server (median of ``--repeats``), and a
revisit (reload, median). Peer: a bare Streamlit page with one metric and one plotly chart,
measured the same way in the same run: the floor any Streamlit dashboard pays here.

Pack: ``sop_core.meeting.pack.build_pack`` (workbook, HTML report, PDF where Chromium is installed),
median of 3; peer: the naive way, each table with ``DataFrame.to_excel`` into its own
workbook and each figure with ``Figure.write_html`` (plotly.js in every file).

Run: ``python benchmarks/bench_cockpit.py [--json] [--repeats 5]``.
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

from sop_core.data.sample import SampleConfig, build_sample_database
from sop_core.forecast.runs import refresh_forecast
from tests.helpers import BROWSER_ARGS, CHROMIUM, serve_streamlit, stop, wait_for_page

BARE = """
import streamlit as st
import plotly.graph_objects as go
st.title("Overview")
st.metric("Units", "2.8M")
st.plotly_chart(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 3, 2])))
"""


def browser_times(script: Path, env: dict, log: Path, repeats: int, nav: str | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    process, url = serve_streamlit(script, env, log)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            started = time.perf_counter()
            page.goto(url)
            wait_for_page(page, "Overview", 90_000)
            first = time.perf_counter() - started
            sessions, reloads, revisits = [], [], []
            for _ in range(repeats):
                fresh = browser.new_page(viewport={"width": 1600, "height": 1000})
                started = time.perf_counter()
                fresh.goto(url)
                wait_for_page(fresh, "Overview", 60_000)
                sessions.append(time.perf_counter() - started)
                started = time.perf_counter()
                fresh.reload()
                wait_for_page(fresh, "Overview", 60_000)
                reloads.append(time.perf_counter() - started)
                if nav:
                    # Back to the Overview from another page of the same session.
                    fresh.locator("[data-testid='stTopNavLink']", has_text=nav).click()
                    wait_for_page(fresh, nav, 60_000)
                    started = time.perf_counter()
                    fresh.locator("[data-testid='stTopNavLink']", has_text="Overview").click()
                    wait_for_page(fresh, "Overview", 60_000)
                    revisits.append(time.perf_counter() - started)
                fresh.close()
            browser.close()
    finally:
        stop(process)
    times = {
        "first_load_s": round(first, 2),
        "new_session_median_s": round(statistics.median(sessions), 2),
        "reload_median_s": round(statistics.median(reloads), 2),
    }
    if revisits:
        times["revisit_in_session_median_s"] = round(statistics.median(revisits), 2)
    return times


def pack_times(path: Path, folder: Path) -> dict:
    from sop_core import charts
    from sop_core.data import db
    from sop_core.demand.plan_base import load_plan_base
    from sop_core.meeting.pack import build_pack
    from sop_core.scenario.levers import apply_scenario
    from sop_core.scenario.model import Scenario
    from sop_core.supply.planning import (
        PlanSettings,
        load_supply,
        plan_frames,
        plan_tables,
        solve_plan,
    )

    ours = []
    for index in range(3):
        out = folder / f"ours-{index}"
        out.mkdir()
        started = time.perf_counter()
        files = build_pack(path, out)
        ours.append(time.perf_counter() - started)
    peer = []
    for index in range(3):
        out = folder / f"peer-{index}"
        out.mkdir()
        started = time.perf_counter()
        with db.connect(path) as con:
            base = load_plan_base(con, 1)
            supply = load_supply(con, base)
        result = apply_scenario(base, Scenario("Baseline"))
        plan = solve_plan(result, supply, PlanSettings(), 26)
        tables = plan_tables(plan, result, supply)
        for name, frame in {"targets": result.targets(), **tables}.items():
            frame.to_excel(out / f"{name}.xlsx", index=False)
        figures = [
            charts.plan_chart(plan_frames(plan, result)["weekly"]),
            charts.scenario_chart(result.weekly()),
        ]
        for number, figure in enumerate(figures):
            figure.write_html(out / f"figure-{number}.html", include_plotlyjs=True)
        peer.append(time.perf_counter() - started)
    return {
        "ours_median_s": round(statistics.median(ours), 2),
        "ours_files": sorted(files),
        "peer_median_s": round(statistics.median(peer), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_cockpit_"))
    try:
        path = folder / "sop.duckdb"
        config = SampleConfig(skus=40, weeks=160, seed=7, as_of=dt.date(2026, 11, 25))
        build_sample_database(path, config)
        refresh_forecast(path, jobs=2)
        bare = folder / "bare.py"
        bare.write_text(BARE)
        env = {"SOP_DB": str(path), "SOP_SAMPLE_AS_OF": "2026-11-25"}
        result = {
            "overview": browser_times(
                ROOT / "app.py", env, folder / "app.log", args.repeats, nav="Plan & decisions"
            ),
            "peer_bare_page": browser_times(bare, {}, folder / "bare.log", args.repeats),
            "pack": pack_times(path, folder),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>16}: {value}")


if __name__ == "__main__":
    main()
