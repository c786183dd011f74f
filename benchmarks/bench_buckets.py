"""Switching the figures between weeks, months and quarters in a real browser: the press on
the sidebar's *Figures by* until the chart a planner sees is redrawn, ours against a Streamlit
demo page that resamples with pandas, in one run (issue 21's target: 300 ms or less).

Ours: the Promotions & pricing page (the heaviest: a scenario, its chart, tables and KPIs)
and the Overview (its plan chart) of the app on the default sample (40 SKUs, its forecast). Peer:
``benchmarks/peer_period_page.py``: one switch, the forecast by family resampled with pandas,
a plotly express chart, a total and a table. Each switch is timed in the page (headless
Chromium, Debian's) from the key press on the switch to the frame that paints the new chart
("chart") and to the end of the rerun ("settled"), by ``tests.helpers.time_switches``. Pages
take turns, a round of switches each (week, month, quarter, week, ...), so all see the same
machine load. Medians over the switches after each page's first two.

Run: ``python benchmarks/bench_buckets.py [--rounds 4] [--json]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sop_core.data.sample import SampleConfig, build_sample_database
from sop_core.forecast.runs import refresh_forecast
from tests.helpers import (
    BROWSER_ARGS,
    CHROMIUM,
    serve_streamlit,
    stop,
    time_switches,
    wait_for_page,
)

AS_OF = dt.date(2026, 11, 25)
SWITCHES = ["Month", "Quarter", "Week"]
PAGES = {  # name: (script, path, title)
    "ours_promotions": (ROOT / "app.py", "promotions", "Promotions & pricing"),
    "ours_overview": (ROOT / "app.py", "", "Overview"),
    "peer": (ROOT / "benchmarks" / "peer_period_page.py", "", "Periods demo"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="bench_buckets_"))
    servers = []
    try:
        path = folder / "sop.duckdb"
        build_sample_database(path, SampleConfig(skus=40, weeks=160, seed=7, as_of=AS_OF))
        refresh_forecast(path, jobs=2)
        env = {"SOP_DB": str(path), "SOP_SAMPLE_AS_OF": AS_OF.isoformat()}
        urls = {}
        for name, (script, route, _) in PAGES.items():
            process, url = serve_streamlit(script, env, folder / f"{name}.log")
            servers.append(process)
            urls[name] = f"{url}/{route}"
        timings: dict[str, list[dict[str, float]]] = {name: [] for name in PAGES}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            pages = {}
            for name, url in urls.items():
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.goto(url)
                wait_for_page(page, PAGES[name][2], timeout_ms=60_000)
                pages[name] = page
            for _ in range(args.rounds):
                for name, page in pages.items():
                    page.bring_to_front()
                    timings[name] += time_switches(page, "bucket", SWITCHES)
            browser.close()
    finally:
        for process in servers:
            stop(process)
        shutil.rmtree(folder, ignore_errors=True)

    result: dict[str, float | int] = {"switches": len(timings["peer"]) - 2}
    for name, switches in timings.items():
        for what in ("chart", "settled"):
            seen = [s[what] for s in switches[2:] if s.get(what) is not None]
            if seen:
                result[f"{name}_{what}_ms"] = round(statistics.median(seen) * 1000, 1)
    for ours in ("ours_promotions", "ours_overview"):
        for what in ("chart", "settled"):
            result[f"{ours}_over_peer_{what}"] = round(
                result[f"{ours}_{what}_ms"] / result[f"peer_{what}_ms"], 2
            )
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>34}: {value}")


if __name__ == "__main__":
    main()
