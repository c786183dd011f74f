"""The dashboard at scale (issue 23): the Overview's first render, a lever move and the
production plan on a sample company of ``skus`` SKUs, each against a named peer.

- **Overview first render, warm**: the app served by ``streamlit run`` on the database, headless
  Chromium (Debian's); one untimed load warms the server (imports, the plan base, the
  Overview's figures in Streamlit's caches), then each round opens the Overview in a new browser
  session and times it until its title, KPI tiles and every chart are drawn (``wait_for_page``).
  The cold load (first after the server's start) is reported beside it. Peer:
  ``benchmarks/peer_first_open_page.py`` (a Streamlit demo: SQL weekly total, a default Prophet
  fit, one chart), served on the same database and timed the same way.
- **A lever move in the engine**: ``apply_scenario`` + ``kpis`` on the whole company (every SKU x
  channel x the run's 26 weeks), a promotion moved on top of a price change and a campaign, as
  ``bench_levers.py`` does at 1,000 SKUs. Peer: the same three levers with pandas over the long
  table (one row per SKU, channel and week): the levers' log-uplifts by masks, the revised
  volume, revenue and margin, totals grouped by family and week.
- **The production plan for 26 weeks**: ``solve_plan`` (the HiGHS linear program) on the
  baseline. Peer: ``chase_plan`` (the naive heuristic: each week's demand on the default line),
  on the same targets.

The database is built once per size and kept in ``SOP_SCALE_CACHE`` (default
``/tmp/sop-scale-dashboard``): the sample's data (``build_sample_database``) and one forecast
run made by the product's engine (``refresh_forecast``, every SKU fitted; 7.5 minutes at
20,000 SKUs on 2 cores), so rounds and later runs measure the pages, not the forecast.

``measure(skus, rounds)`` returns the figures (``benchmarks/bench_scale.py --part dashboard``
imports it). Run: ``python benchmarks/scale_dashboard.py [--skus 20000] [--rounds 5] [--json]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
import pandas as pd

from benchmarks.bench_levers import levers  # the same three levers as at 1,000 SKUs
from sop_core.data import db
from sop_core.data.sample import SampleConfig, build_sample_database
from sop_core.demand.plan_base import PlanBase, load_plan_base
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.model import Scenario
from sop_core.supply.planning import PlanSettings, chase_plan, load_supply, solve_plan

AS_OF = dt.date(2026, 11, 25)
PLAN_WEEKS = 26
TARGETS = {"overview_warm_s": 3.0, "lever_move_ms": 50.0, "plan_26_weeks_s": 30.0}
CHROMIUM = "/usr/bin/chromium"


def cache_folder() -> Path:
    folder = Path(os.environ.get("SOP_SCALE_CACHE", "/tmp/sop-scale-dashboard"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def database(skus: int, jobs: int | None = None) -> tuple[Path, int]:
    """The sample of ``skus`` SKUs with one forecast run (built once, then reused): its path
    and the run's id."""
    from sop_core.forecast.runs import refresh_forecast

    path = cache_folder() / f"sample-{skus}.duckdb"
    if not path.exists():
        build_sample_database(path, SampleConfig(skus=skus, as_of=AS_OF))
    # Reused when stored: the forecast's own fingerprint decides.
    run = refresh_forecast(path, jobs=jobs or os.cpu_count())
    return path, run.run_id


def lever_move_ours(base: PlanBase, rounds: int) -> float:
    """Median milliseconds of one lever move on the whole company (``apply_scenario`` +
    ``kpis``); the first move is a warm-up and not counted."""
    times = []
    for step in range(rounds + 1):
        started = time.perf_counter()
        result = apply_scenario(base, Scenario("bench", levers(base, step)))
        result.kpis()
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:]) * 1000


def long_table(base: PlanBase) -> pd.DataFrame:
    """The plan base as the long table a pandas app would keep: one row per SKU, channel and
    week with the SKU's family, its channel price, variable cost and driver effects."""
    n, c, w = base.baseline_by_channel.shape
    sku = np.repeat(np.arange(n), c * w)
    effects = {k: np.nan_to_num(v)[sku] for k, v in base.effects.items()}
    return pd.DataFrame(
        {
            "sku": base.skus[sku],
            "family": base.families[sku],
            "channel": np.tile(np.repeat(base.channels, w), n),
            "week": np.tile(base.weeks, n * c),
            "baseline": base.baseline_by_channel.ravel(),
            "price": np.repeat(base.channel_price.ravel(), w),
            "variable_cost": base.variable_cost[sku],
            **effects,
        }
    )


def lever_move_peer(frame: pd.DataFrame, base: PlanBase, rounds: int) -> float:
    """Median milliseconds of the same move with pandas over ``long_table``: masks per lever,
    the log-uplifts, revised volume, revenue and margin, totals by family and week."""
    times = []
    for step in range(rounds + 1):
        started = time.perf_counter()
        log_uplift = np.zeros(len(frame))
        discount = np.zeros(len(frame))
        price_factor = np.ones(len(frame))
        for lever in levers(base, step):
            start = pd.Timestamp(lever.start_week) if lever.start_week else frame["week"].min()
            end = pd.Timestamp(lever.end_week) if lever.end_week else frame["week"].max()
            mask = (frame["week"] >= start) & (frame["week"] <= end)
            if lever.scope == "family":
                mask &= frame["family"] == lever.target
            mask = mask.to_numpy()
            if lever.kind == "price":
                log_uplift[mask] += frame["price_elasticity"].to_numpy()[mask] * np.log1p(
                    lever.change
                )
                price_factor[mask] *= 1 + lever.change
            elif lever.kind == "campaign":
                log_uplift[mask] += np.log1p(lever.change)
            else:
                log_uplift[mask] += (
                    frame["promo_depth"].to_numpy()[mask] * lever.discount
                    + frame["price_elasticity"].to_numpy()[mask] * np.log1p(-lever.discount)
                    + frame["feature"].to_numpy()[mask] * lever.feature
                )
                discount[mask] = lever.discount
        revised = frame["baseline"] * np.exp(log_uplift)
        revenue = revised * frame["price"] * price_factor * (1 - discount)
        work = frame[["family", "week"]].assign(
            revised=revised, revenue=revenue, margin=revenue - revised * frame["variable_cost"]
        )
        totals = work.groupby(["family", "week"], sort=False)[["revised", "revenue", "margin"]]
        totals.sum().sum()
        times.append(time.perf_counter() - started)
    return statistics.median(times[1:]) * 1000


def plan_seconds(base: PlanBase, supply, rounds: int) -> tuple[float, float]:
    """Median seconds of ``solve_plan`` and of ``chase_plan`` for ``PLAN_WEEKS`` weeks."""
    result = apply_scenario(base, Scenario("baseline"))
    ours, peer = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        solve_plan(result, supply, PlanSettings(), PLAN_WEEKS)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        chase_plan(result, supply, PlanSettings(), PLAN_WEEKS)
        peer.append(time.perf_counter() - started)
    return statistics.median(ours), statistics.median(peer)


def _render(browser, url: str, title: str | None) -> float:
    from tests.helpers import wait_for_page

    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        started = time.perf_counter()
        page.goto(url)
        if title is None:  # the peer: its chart is what it shows
            page.locator("[data-testid='stPlotlyChart'] .main-svg").first.wait_for(timeout=600_000)
        else:
            page.locator("[data-testid='stMetric']").first.wait_for(timeout=600_000)
            wait_for_page(page, title, timeout_ms=600_000)
        return time.perf_counter() - started
    finally:
        page.close()


def first_render(path: Path, rounds: int, folder: Path) -> dict[str, float]:
    """The Overview's and the peer page's first render in headless Chromium: ``cold`` (first
    load after the server's start) and the median of ``rounds`` warm loads (new sessions)."""
    from playwright.sync_api import sync_playwright

    from tests.helpers import BROWSER_ARGS, serve_streamlit, stop

    apps = {
        "ours": (ROOT / "app.py", "Overview"),
        "peer": (ROOT / "benchmarks" / "peer_first_open_page.py", None),
    }
    figures: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            for name, (script, title) in apps.items():
                env = {"SOP_DB": str(path), "SOP_SAMPLE_AS_OF": AS_OF.isoformat()}
                server, url = serve_streamlit(script, env, folder / f"{name}.log")
                try:
                    figures[f"{name}_cold_s"] = _render(browser, url, title)
                    warm = [_render(browser, url, title) for _ in range(rounds)]
                    figures[f"{name}_warm_s"] = statistics.median(warm)
                finally:
                    stop(server)
        finally:
            browser.close()
    return figures


def measure(skus: int, rounds: int, *, browser: bool = True) -> dict:
    """The three figures at ``skus`` SKUs (medians of ``rounds``), their peers and ratios.

    Returns ``overview_warm_s`` (and ``overview_cold_s``), ``lever_move_ms``,
    ``plan_26_weeks_s``, each with ``peer_...`` and ``..._peer_over_ours``, the targets and
    whether each is met, plus the sizes measured (SKUs, channels, weeks, lines, routes).
    ``browser=False`` (or no Chromium) leaves the Overview out.
    """
    path, run_id = database(skus)
    started = time.perf_counter()
    with db.connect(path) as con:
        base = load_plan_base(con, run_id)
        supply = load_supply(con, base)
    loaded_s = time.perf_counter() - started
    figures: dict = {
        "skus": len(base.skus),
        "channels": len(base.channels),
        "weeks": len(base.weeks),
        "lines": len(base.lines),
        "routes": len(supply.routes),
        "run_id": run_id,
        "plan_base_load_s": round(loaded_s, 2),
        "load_average": round(os.getloadavg()[0], 2),
    }
    ours_ms = lever_move_ours(base, rounds)
    peer_ms = lever_move_peer(long_table(base), base, rounds)
    figures |= {
        "lever_move_ms": round(ours_ms, 2),
        "peer_lever_move_pandas_ms": round(peer_ms, 1),
        "lever_move_peer_over_ours": round(peer_ms / ours_ms, 1),
    }
    plan_s, chase_s = plan_seconds(base, supply, max(1, min(rounds, 3)))
    figures |= {
        "plan_26_weeks_s": round(plan_s, 2),
        "peer_chase_plan_s": round(chase_s, 2),
        "plan_peer_over_ours": round(chase_s / plan_s, 3),
    }
    if browser and Path(CHROMIUM).exists():
        with tempfile.TemporaryDirectory(prefix="sop-scale-") as name:
            pages = first_render(path, rounds, Path(name))
        figures |= {
            "overview_warm_s": round(pages["ours_warm_s"], 2),
            "overview_cold_s": round(pages["ours_cold_s"], 2),
            "peer_page_warm_s": round(pages["peer_warm_s"], 2),
            "peer_page_cold_s": round(pages["peer_cold_s"], 2),
            "overview_peer_over_ours": round(pages["peer_warm_s"] / pages["ours_warm_s"], 2),
        }
    figures["targets"] = {
        key: {"target": limit, "measured": figures[key], "met": figures[key] <= limit}
        for key, limit in TARGETS.items()
        if key in figures
    }
    figures["load_average_after"] = round(os.getloadavg()[0], 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true", help="leave the Overview out")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = measure(args.skus, args.rounds, browser=not args.no_browser)
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"{figures['skus']:,} SKUs x {figures['channels']} channels x {figures['weeks']} weeks, "
        f"{figures['lines']:,} lines ({figures['routes']:,} routes); load average "
        f"{figures['load_average']} before, {figures['load_average_after']} after"
    )
    for key, check in figures["targets"].items():
        print(
            f"  {key}: {check['measured']} (target {check['target']}: "
            f"{'met' if check['met'] else 'NOT met'})"
        )
    print(
        f"  peers: lever move with pandas {figures['peer_lever_move_pandas_ms']} ms "
        f"({figures['lever_move_peer_over_ours']}x ours); chase plan "
        f"{figures['peer_chase_plan_s']} s"
        + (
            f"; demo page warm {figures['peer_page_warm_s']} s, Overview cold "
            f"{figures['overview_cold_s']} s"
            if "overview_warm_s" in figures
            else ""
        )
    )


if __name__ == "__main__":
    main()
