"""A lever move in a real browser: key press on the Discount slider until the chart a planner
sees shows the new revised line, ours against a Streamlit what-if demo page, in one run.

Ours: the Promotions & pricing page of the app on the default sample (40 SKUs, its forecast),
served as the README serves it (the repository's ``.streamlit/config.toml``). Ablations: the
same page with Streamlit's default full garbage collection after every run
(``ours_default_gc``), and with Streamlit's element cache on as by default
(``ours_element_cache``: the config turns it off, see there). Peer:
``benchmarks/peer_whatif_page.py``, one slider, one ``plotly.express`` chart and one metric in
a fragment, the least a live what-if page can show: as shipped (Streamlit's defaults), and
with the post-run GC off like ours (``peer_no_gc``).

Each move is timed in the page (headless Chromium, Debian's), from the keydown to the frame
that paints the new chart ("chart"), to the frame showing new KPI figures ("kpis") and to the
end of the rerun ("settled"), by
``tests.helpers.time_slider_moves``, the same code as the browser test. Pages take turns, a
round of moves each, so all see the same machine load. Medians over the moves after each
page's first two.

Run: ``python benchmarks/bench_browser.py [--rounds 4] [--json]``.
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
    time_slider_moves,
    wait_for_page,
)

AS_OF = dt.date(2026, 11, 25)
# Discount 0 -> 30% -> 0 in 5-point steps.
KEYS = ["ArrowRight"] * 6 + ["ArrowLeft"] * 6
PAGES = {  # name: (script, path, title, extra environment)
    "ours": (ROOT / "app.py", "promotions", "Promotions & pricing", {}),
    "ours_default_gc": (
        ROOT / "app.py",
        "promotions",
        "Promotions & pricing",
        {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "true"},
    ),
    "ours_element_cache": (
        ROOT / "app.py",
        "promotions",
        "Promotions & pricing",
        {"STREAMLIT_GLOBAL_MIN_CACHED_MESSAGE_SIZE": "10000"},
    ),
    "peer": (ROOT / "benchmarks" / "peer_whatif_page.py", "", "What-if demo", {}),
    "peer_no_gc": (
        ROOT / "benchmarks" / "peer_whatif_page.py",
        "",
        "What-if demo",
        {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "false"},
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--skus", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="bench_browser_"))
    servers = []
    try:
        path = folder / "sop.duckdb"
        build_sample_database(path, SampleConfig(skus=args.skus, weeks=160, seed=7, as_of=AS_OF))
        refresh_forecast(path, jobs=2)
        env = {"SOP_DB": str(path), "SOP_SAMPLE_AS_OF": AS_OF.isoformat()}
        urls = {}
        for name, (script, route, _, extra) in PAGES.items():
            process, url = serve_streamlit(script, {**env, **extra}, folder / f"{name}.log")
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
                    timings[name] += time_slider_moves(page, "Discount", KEYS)
            browser.close()
    finally:
        for process in servers:
            stop(process)
        shutil.rmtree(folder, ignore_errors=True)

    result: dict[str, float | int] = {"skus": args.skus, "moves": len(timings["ours"]) - 2}
    for name, moves in timings.items():
        for what in ("chart", "kpis", "settled"):
            seen = [move[what] for move in moves[2:] if move.get(what) is not None]
            if seen:
                result[f"{name}_{what}_ms"] = round(statistics.median(seen) * 1000, 1)
    for peer in ("peer", "peer_no_gc"):
        result[f"ours_over_{peer}_chart"] = round(
            result["ours_chart_ms"] / result[f"{peer}_chart_ms"], 2
        )
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")


if __name__ == "__main__":
    main()
