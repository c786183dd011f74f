"""First start: from the README's command to a usable Overview and every page with content.

Ours: ``streamlit run app.py`` on a database path that does not exist yet (as on a fresh
machine), in headless Chromium (Debian's). The server is started, the Overview opened and
timed until its KPI tiles show (the first start builds the sample company and the meeting in
progress: forecast, plan of record, overrides, scenarios, decisions); then each other page is
opened in turn and timed until it shows a chart. Past forecasts (accuracy by lag) are made in
the background; the time until they are all stored is reported too.

Peer: ``benchmarks/peer_first_open_page.py``, a Streamlit demo that fits a default
``prophet.Prophet()`` on the weekly total on first open (on the same sample database, built
beforehand and not counted): from its server start to its chart.

Run: ``python benchmarks/bench_first_start.py [--rounds 3] [--json]``; reports the median of
the rounds. Needs ``/usr/bin/chromium`` and playwright.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sop_core.data.sample import SampleConfig, build_sample_database
from tests.helpers import serve_streamlit, stop

AS_OF = "2026-11-25"
PAGES = ("demand", "promotions", "supply", "plan", "present")


def _browser():
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
    return playwright, browser


def ours(folder: Path, browser) -> dict:
    database = folder / "ours" / "sop.duckdb"
    database.parent.mkdir(parents=True)
    env = {"SOP_DB": str(database), "SOP_SAMPLE_AS_OF": AS_OF}
    started = time.perf_counter()
    server, url = serve_streamlit(ROOT / "app.py", env, folder / "ours.log")
    try:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(url)
        page.locator("[data-testid='stMetric']").first.wait_for(timeout=120_000)
        timings = {"overview": time.perf_counter() - started}
        for name in PAGES:
            page.goto(f"{url}/{name}")
            page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=120_000)
            timings[name] = time.perf_counter() - started
        page.close()
        return timings
    finally:
        stop(server)


def peer(folder: Path, browser) -> float:
    database = folder / "peer.duckdb"
    build_sample_database(database, SampleConfig(as_of=__import__("datetime").date(2026, 11, 25)))
    started = time.perf_counter()
    script = ROOT / "benchmarks" / "peer_first_open_page.py"
    server, url = serve_streamlit(script, {"SOP_DB": str(database)}, folder / "peer.log")
    try:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(url)
        page.locator("[data-testid='stPlotlyChart']").first.wait_for(timeout=120_000)
        page.close()
        return time.perf_counter() - started
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    playwright, browser = _browser()
    rounds = []
    try:
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory(prefix="sop-bench-first-") as name:
                folder = Path(name)
                rounds.append({"ours": ours(folder, browser), "peer": peer(folder, browser)})
    finally:
        browser.close()
        playwright.stop()
    median = {key: statistics.median(r["ours"][key] for r in rounds) for key in rounds[0]["ours"]}
    peer_median = statistics.median(r["peer"] for r in rounds)
    if args.json:
        print(json.dumps({"rounds": rounds, "ours_median": median, "peer_median": peer_median}))
        return
    print(f"First start, median of {len(rounds)} (seconds from the server's start)")
    for key, value in median.items():
        print(f"  ours: {key:<12}{value:6.1f}")
    print(f"  peer: chart     {peer_median:6.1f}  (Streamlit + default Prophet demo, data built)")
    print(
        f"Targets: Overview usable in 8 s or less ({median['overview']:.1f} s), every page "
        f"with a forecast in 45 s or less ({max(median.values()):.1f} s)."
    )


if __name__ == "__main__":
    main()
