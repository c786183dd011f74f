"""The real app in a real headless Chromium: every page opens without an exception box.

Needs Debian's Chromium (/usr/bin/chromium) and Playwright's Python package; never downloads a
browser. Screenshots go to tests/artifacts/; with SOP_UPDATE_SCREENSHOTS=1 the overview also
replaces docs/screenshot-overview.png (the README's picture).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sop_core.data import db
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.runs import latest_run
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.model import Lever, Scenario
from tests.helpers import (
    BROWSER_ARGS,
    BROWSER_MARKS,
    CHROMIUM,
    IDLE,
    VISIBLE_LINE,
    VISIBLE_TITLE,
    VISIBLE_TRACE,
    alive,
    descendants,
    reap,
    serve_streamlit,
    stop,
    time_slider_moves,
    time_switches,
    wait_for,
    wait_for_page,
)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
PAGE_TITLES = [
    "Overview",
    "Demand review",
    "Promotions & pricing",
    "Supply & capacity",
    "Plan & decisions",
    "Data",
]

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def server_db(forecast_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served copy of the sample with its forecast (tests may write to it)."""
    database = tmp_path_factory.mktemp("server") / "sop.duckdb"
    shutil.copy(forecast_db, database)
    return database


@pytest.fixture(scope="module")
def server(server_db: Path) -> Iterator[str]:
    """The dashboard served by `streamlit run` on 127.0.0.1, on ``server_db``."""
    env = {"SOP_DB": str(server_db), "SOP_SAMPLE_AS_OF": "2026-11-25"}
    try:
        process, url = serve_streamlit(ROOT / "app.py", env, server_db.parent / "streamlit.log")
    except RuntimeError as error:
        pytest.fail(str(error))
    yield url
    stop(process)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


def _assert_no_error_boxes(page, where: str) -> None:
    exceptions = page.locator("[data-testid='stException']")
    assert exceptions.count() == 0, f"{where}: {exceptions.first.inner_text()}"
    errors = page.locator("[data-testid='stAlertContentError']")
    assert errors.count() == 0, f"{where}: {errors.first.inner_text()}"


def test_every_page_opens_without_an_exception(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    started = time.perf_counter()
    page.goto(server)
    wait_for_page(page, "Overview")
    first_render = time.perf_counter() - started
    _assert_no_error_boxes(page, "Overview")
    page.screenshot(path=ARTIFACTS / "overview.png")
    if os.environ.get("SOP_UPDATE_SCREENSHOTS") == "1":
        small = browser.new_page(viewport={"width": 1280, "height": 760})
        small.goto(server)
        wait_for_page(small, "Overview")
        small.screenshot(path=ROOT / "docs" / "screenshot-overview.png")
        small.close()

    timings = {"first_render_seconds": round(first_render, 3), "pages": {}}
    for title in PAGE_TITLES[1:] + PAGE_TITLES[:1]:
        started = time.perf_counter()
        page.locator("[data-testid='stTopNavLink']", has_text=title).click()
        wait_for_page(page, title)
        timings["pages"][title] = round(time.perf_counter() - started, 3)
        _assert_no_error_boxes(page, title)
        assert page.locator("[data-testid='stMetric']").count() >= 4, f"{title}: no KPI tiles"
        slug = title.lower().replace(" & ", "-").replace(" ", "-")
        page.screenshot(path=ARTIFACTS / f"{slug}.png", full_page=True)
    (ARTIFACTS / "browser_timings.json").write_text(json.dumps(timings, indent=2))
    print(json.dumps(timings))
    page.close()


def test_a_link_reopens_the_same_page_and_filter(server, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server}/supply?family=fragrance")
    wait_for_page(page, "Supply & capacity")
    _assert_no_error_boxes(page, "Supply link")
    expect(
        page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect']").first
    ).to_contain_text("fragrance")
    expect(page.locator("[data-testid='stPlotlyChart']").first).to_be_visible()
    page.close()


def test_changing_the_filter_redraws_the_chart(server, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server}/demand")
    wait_for_page(page, "Demand review")
    page.get_by_text("Sales history by family").click()
    legend = page.locator("[data-testid='stExpander'] [data-testid='stPlotlyChart'] .legend").first
    expect(legend).to_contain_text("skincare")
    family = page.locator("[data-testid='stSidebar'] [data-testid='stMultiSelect']").first
    family.click()
    page.keyboard.type("makeup")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(legend).not_to_contain_text("skincare", timeout=15_000)
    expect(legend).to_contain_text("makeup")
    page.wait_for_selector(IDLE)
    _assert_no_error_boxes(page, "Demand review, makeup only")
    assert "family=makeup" in page.url
    page.close()


# The x tick labels of the first chart on screen (not a stale copy).
FIRST_CHART_TICKS = """() => {
  const chart = Array.from(document.querySelectorAll('[data-testid=stPlotlyChart]'))
    .find(c => c.getBoundingClientRect().height > 0 && !c.closest('[data-stale=true]'));
  return Array.from(chart.querySelectorAll('.xaxislayer-above .xtick text'))
    .map(t => t.textContent);
}"""


def test_figures_by_month_are_switched_timed_and_kept_in_the_link(server, browser):
    """*Figures by* Month on Promotions & pricing: the chart is redrawn with months on its
    axis (timed from the key press, as the benchmark does), the URL says so, and opening that
    link shows months again."""

    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server}/promotions")
    wait_for_page(page, "Promotions & pricing", timeout_ms=60_000)
    (switch,) = time_switches(page, "bucket", ["Month"])
    assert switch["chart"] is not None and switch["settled"] >= switch["chart"]
    ticks = page.evaluate(FIRST_CHART_TICKS)
    assert ticks[:2] == ["Nov 2026", "Dec 2026"], ticks
    assert "bucket=Month" in page.url  # the switch as it reads
    _assert_no_error_boxes(page, "Promotions by month")
    again = browser.new_page(viewport={"width": 1600, "height": 1000})
    again.goto(page.url)
    wait_for_page(again, "Promotions & pricing", timeout_ms=60_000)
    again.wait_for_selector("[data-testid='stPlotlyChart'] .xaxislayer-above .xtick text")
    again.wait_for_selector(IDLE)
    assert again.evaluate(FIRST_CHART_TICKS)[:1] == ["Nov 2026"]
    assert again.locator(".st-key-bucket [aria-checked=true]").inner_text() == "Month"
    page.close()
    again.close()


def test_a_cli_rebuild_while_the_app_is_open_shows_up_on_reload(
    sample_db_master, browser, tmp_path
):
    """The scheduler's CLI and the open dashboard share the file: a write lands, the page
    picks it up on the next load, and nobody sees a lock error."""
    from playwright.sync_api import expect

    from tests.helpers import run_cli

    database = tmp_path / "sop.duckdb"
    shutil.copy(sample_db_master, database)
    process, url = serve_streamlit(
        ROOT / "app.py", {"SOP_DB": str(database)}, tmp_path / "streamlit.log"
    )
    try:
        _rebuild_and_reload(browser, url, database, run_cli, expect)
    finally:
        stop(process)


def _rebuild_and_reload(browser, server, database, run_cli, expect) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server}/data")
    wait_for_page(page, "Data")
    tile = page.locator("[data-testid='stMetric']", has_text="Weekly sales rows")
    before = tile.inner_text()
    result = run_cli(
        "init",
        "--db",
        str(database),
        "--skus",
        "12",
        "--weeks",
        "110",
        "--as-of",
        "2026-11-25",
        "--force",
        "--data-only",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    page.reload()
    wait_for_page(page, "Data")
    expect(tile).not_to_have_text(before, timeout=15_000)
    _assert_no_error_boxes(page, "Data after a rebuild")
    page.close()


def test_a_lever_move_redraws_the_chart(server, browser, server_db):
    """Move the discount slider; time each move until the chart a planner sees shows the new
    revised line, and until the whole fragment (KPIs, capacity, tables) has rerun."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server}/promotions")
    wait_for_page(page, "Promotions & pricing", timeout_ms=60_000)
    before = page.evaluate(VISIBLE_LINE, 0)
    timings = time_slider_moves(page, "Discount", ["ArrowRight"] * 7)
    assert page.evaluate(VISIBLE_LINE, 0) != before
    _assert_no_error_boxes(page, "Promotions & pricing after lever moves")
    assert "35%" in page.locator("[data-testid='stSlider']", has_text="Discount").inner_text()
    # The chart on screen shows the engine's numbers for the lever on screen: 35% off
    # the total in the editor's default weeks (the third and fourth of the horizon).
    shown = np.array(page.evaluate(VISIBLE_TRACE, [0, "revised target"]))
    with db.connect(server_db) as con:
        base = load_plan_base(con, latest_run(con))
    weeks = base.weeks[2].astype(dt.date), base.weeks[3].astype(dt.date)
    lever = Lever("promotion", "all", None, *weeks, discount=0.35)
    expected = apply_scenario(base, Scenario("unsaved", [lever])).weekly()["revised"]
    np.testing.assert_allclose(shown, expected, rtol=1e-9)
    assert not np.allclose(shown, apply_scenario(base, Scenario("none")).weekly()["revised"])
    volume = page.locator("[data-testid='stMetric']", has_text="Revised target").first.inner_text()
    assert "+0.0%" not in volume
    page.screenshot(path=ARTIFACTS / "promotions-levers.png", full_page=True)
    # The first move pays for warming up; the rest are what a planner feels.
    result = {
        "slider_to_chart_seconds": [t["chart"] for t in timings],
        "median_seconds": round(statistics.median(t["chart"] for t in timings[1:]), 4),
        "slider_to_settled_seconds": [t["settled"] for t in timings],
        "settled_median_seconds": round(statistics.median(t["settled"] for t in timings[1:]), 4),
    }
    (ARTIFACTS / "lever_timings.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    page.close()


def test_a_plan_file_becomes_editable_levers(server, browser, tmp_path):
    """Upload marketing's plan with a contradictory price (the row is named, nothing taken),
    then a good one: its levers join the scenario, show in the levers table and move the
    revised volume."""
    from playwright.sync_api import expect

    bad = tmp_path / "plan-bad.csv"
    bad.write_text("week,sku,discount,price\n2026-12-07,SKN-0001,0.2,1.00\n")
    good = tmp_path / "plan.csv"
    good.write_text(
        "Woche,family,discount,feature\n"
        "2026-12-07,fragrance,0.2,1\n2026-12-14,fragrance,0.2,1\n2027-01-04,skincare,0.15,0.5\n"
    )
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server}/promotions")
    wait_for_page(page, "Promotions & pricing", timeout_ms=60_000)
    page.get_by_text("Import a promotion and price plan").click()
    uploader = page.locator("[data-testid='stFileUploader'] input[type=file]")
    uploader.set_input_files(str(bad))
    error = page.locator("[data-testid='stAlertContentError']")
    expect(error).to_contain_text("disagrees with the list price", timeout=15_000)
    expect(error).to_contain_text("line 2")
    page.locator("[data-testid='stTextInput']", has_text="Column names").locator("input").fill(
        "week=Woche"
    )
    page.keyboard.press("Enter")
    uploader.set_input_files(str(good))
    button = page.get_by_role("button", name="Add 2 lever(s) to the scenario")
    expect(button).to_be_visible(timeout=15_000)
    button.click()
    page.wait_for_selector(IDLE, timeout=15_000)
    expect(page.get_by_text("In this scenario: 2 lever(s)")).to_be_visible(timeout=15_000)
    _assert_no_error_boxes(page, "Promotions & pricing after a plan import")
    volume = page.locator("[data-testid='stMetric']", has_text="Revised target").first.inner_text()
    assert "+0.0%" not in volume
    page.screenshot(path=ARTIFACTS / "promotions-plan-file.png", full_page=True)
    page.close()


# The grid's focused cell ("glide-cell-<column>-<row>", column 0 being the row markers), or
# "editor" while the cell's editor is open, with what it holds.
FOCUSED_CELL = """() => {
  const a = document.activeElement;
  if (a && a.classList.contains('gdg-input')) return 'editor:' + a.value;
  return a ? (a.getAttribute('data-testid') || '') : '';
}"""


def _edit_cell(page, find_grid, column: int, text: str, landed) -> None:
    """Type ``text`` into the first row's cell ``column`` (0: the first data column) of the
    data editor ``find_grid()`` returns, the keyboard way a planner does, until ``landed()``.
    Each step waits for the grid to show it took the previous one (the cell in focus, the
    editor open, the text in it): under load a fixed pause let keys reach the wrong place."""
    from playwright.sync_api import Error

    def until(expected: str) -> bool:
        """Whether the focus comes to ``expected`` (a prefix, ending in ":") within 5 s."""
        try:
            page.wait_for_function(
                f"([e]) => {{ const f = ({FOCUSED_CELL})();"
                " return e.endsWith(':') ? f.startsWith(e) : f === e; }",
                arg=[expected],
                timeout=5_000,
            )
        except Error:
            return False
        return True

    for _ in range(6):
        grid = find_grid()
        # A click by coordinates lands only on screen: bring the grid's first rows there
        # (below the fold, the click fell past the viewport and the edit never began).
        grid.evaluate("e => e.scrollIntoView({block: 'center'})")
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 80, box["y"] + 35 + 17)
        if not until("glide-cell-1-0"):
            continue
        for _ in range(column):
            page.keyboard.press("ArrowRight")
        if not until(f"glide-cell-{column + 1}-0"):
            continue
        page.keyboard.press("Enter")
        if not until("editor:"):
            page.keyboard.press("Escape")
            continue
        page.keyboard.press("Control+A")
        page.keyboard.type(text)
        if not until(f"editor:{text}"):
            page.keyboard.press("Escape")
            continue
        page.keyboard.press("Enter")
        # The edit reruns the page; on a loaded machine the rerun can start late and take
        # seconds. Wait for the result itself before trying again: a retry during a late
        # rerun clicks a grid that is being replaced. While the edited grid is still the one
        # on the page, in focus, with its editor closed and no rerun running, the edit was
        # not taken (seen under a loaded CI: the key press lost): try again after 10 s.
        for tick in range(120):
            if landed():
                return
            stuck = (
                tick >= 40
                and page.evaluate(FOCUSED_CELL) == f"glide-cell-{column + 1}-0"
                and page.locator(IDLE).count() > 0
            )
            if stuck:
                break
            page.wait_for_timeout(250)
    page.screenshot(path=ARTIFACTS / f"levers-edit-{text}-failed.png", full_page=True)
    focus = page.evaluate(FOCUSED_CELL)
    raise AssertionError(f"the edit to {text!r} did not land (in focus: {focus!r})")


def test_a_lever_is_edited_in_the_levers_table(server, browser, tmp_path):
    """Deepen a plan's discount in the levers table: the revised volume follows. A discount
    no lever can take is refused with the lever's message, and nothing changes."""
    from playwright.sync_api import expect

    plan = tmp_path / "plan.csv"
    plan.write_text("week,family,discount\n2026-12-07,fragrance,0.2\n")
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server}/promotions")
    wait_for_page(page, "Promotions & pricing", timeout_ms=60_000)
    page.get_by_text("Import a promotion and price plan").click()
    page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(str(plan))
    page.get_by_role("button", name="Add 1 lever(s) to the scenario").click()
    caption = page.get_by_text("In this scenario: 1 lever(s)")
    expect(caption).to_be_visible(timeout=15_000)
    page.wait_for_selector(IDLE, timeout=15_000)

    def volume() -> str:
        return page.locator(
            "[data-testid='stMetric']", has_text="Revised target"
        ).first.inner_text()

    def levers_grid():
        caption.scroll_into_view_if_needed()
        top = caption.bounding_box()["y"]
        grids = page.locator("[data-testid='stDataFrame']")
        return next(
            grids.nth(i) for i in range(grids.count()) if grids.nth(i).bounding_box()["y"] > top
        )

    errors = page.locator("[data-testid='stAlertContentError']")
    at_20 = volume()
    # Lever, Scope, From, To, Discount %: the fifth column.
    _edit_cell(page, levers_grid, 4, "30", lambda: volume() != at_20)
    at_30 = volume()
    _assert_no_error_boxes(page, "Promotions & pricing after a table edit")

    _edit_cell(page, levers_grid, 4, "95", lambda: errors.count() > 0)
    expect(errors).to_contain_text("A discount must be between 0% and 90%")
    assert volume() == at_30  # the refused value changed nothing
    page.screenshot(path=ARTIFACTS / "promotions-levers-table.png", full_page=True)
    page.close()


# The first visible chart's title once it differs from ``b`` (an empty title, while a chart is
# being replaced, is no change).
NEW_TITLE = f"([b]) => {{ const t = ({VISIBLE_TITLE})(0); return t && t !== b; }}"
SCOPE_TITLE = f"([s]) => {{ const t = ({VISIBLE_TITLE})(0); return t && t.startsWith(s); }}"


def test_demand_review_scope_switch_and_an_override(server, browser):
    """Switch the scope back and forth, timing each switch until the chart shows the new
    scope; then add an override and see it saved."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server}/demand")
    wait_for_page(page, "Demand review", timeout_ms=60_000)
    scope = page.locator(".st-key-demand_level [data-testid='stButtonGroup']")
    timings = []
    for level in ["Family", "Total", "Channel", "Total", "Brand", "Total", "SKU", "Total"]:
        before = page.evaluate(VISIBLE_TITLE, 0)
        started = time.perf_counter()
        scope.get_by_text(level, exact=True).click()
        page.wait_for_function(NEW_TITLE, arg=[before], timeout=15_000)
        timings.append(time.perf_counter() - started)
        page.wait_for_selector(IDLE, timeout=15_000)
        _assert_no_error_boxes(page, f"Demand review, scope {level}")
        # The chart on screen names the scope (waited for: an empty title, while a chart is
        # replaced after the run, is not a wrong one).
        page.wait_for_function(SCOPE_TITLE, arg=[level], timeout=15_000)
    scope.get_by_text("Family", exact=True).click()
    page.wait_for_selector(IDLE, timeout=15_000)
    page.screenshot(path=ARTIFACTS / "demand-family.png", full_page=True)

    name = page.locator("[data-testid='stSidebar'] [data-testid='stTextInput'] input")
    name.fill("Browser test")
    name.press("Enter")
    page.wait_for_selector(IDLE, timeout=15_000)
    amount = page.get_by_label("Amount (% or units per week)")
    amount.fill("10")  # the amount starts empty: nothing changes until someone enters one
    amount.press("Tab")
    page.get_by_label("Reason (required)").fill("Retailer listing confirmed")
    page.get_by_role("button", name="Apply consensus override").click()
    expect(page.locator("[data-testid='stAlertContentSuccess']")).to_contain_text(
        "saved", timeout=15_000
    )
    page.wait_for_selector(IDLE, timeout=15_000)
    _assert_no_error_boxes(page, "Demand review after an override")
    expect(
        page.locator("[data-testid='stMetric']", has_text="Consensus vs statistical")
    ).to_contain_text("+")
    page.screenshot(path=ARTIFACTS / "demand-override.png", full_page=True)
    steady = sorted(timings[1:])
    result = {
        "scope_switch_seconds": [round(t, 3) for t in timings],
        "median_seconds": round(steady[len(steady) // 2], 3),
    }
    (ARTIFACTS / "demand_timings.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    assert result["median_seconds"] < 5, result  # a sanity bound; the target is in BENCHMARKS
    page.close()


def test_import_a_file_on_the_data_page(server, browser, tmp_path):
    """Upload a file with a bad row (nothing written, the row named), then a good one, check
    the preview and import it."""
    from playwright.sync_api import expect

    bad = tmp_path / "stock.csv"
    bad.write_text("Week,Item,Stock\n2026-11-16,SKN-0001,50\n2026-11-16,SKN-0002,-4\n")
    good = tmp_path / "stock-fixed.csv"
    good.write_text("Week,Item,Stock\n2026-11-16,SKN-0001,50\n2026-11-16,SKN-0002,4\n")
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(f"{server}/data")
    wait_for_page(page, "Data")
    page.locator("[data-testid='stSelectbox']", has_text="Into table").click()
    page.get_by_role("option", name="Inventory").click()
    page.wait_for_selector(IDLE)
    uploader = page.locator("[data-testid='stFileUploader'] input[type=file]")
    uploader.set_input_files(str(bad))
    expect(page.locator("[data-testid='stAlertContentError']")).to_contain_text(
        "units on hand is negative", timeout=15_000
    )
    expect(page.locator("[data-testid='stAlertContentError']")).to_contain_text("line 3")
    page.screenshot(path=ARTIFACTS / "data-import-error.png", full_page=True)

    uploader.set_input_files(str(good))
    button = page.get_by_role("button", name="Import 2 rows into inventory")
    expect(button).to_be_visible(timeout=15_000)
    button.click()
    expect(page.locator("[data-testid='stAlertContentSuccess']")).to_contain_text(
        "Imported stock-fixed.csv into inventory", timeout=15_000
    )
    page.wait_for_selector(IDLE)
    _assert_no_error_boxes(page, "Data after an import")
    page.screenshot(path=ARTIFACTS / "data-import-done.png", full_page=True)
    page.close()


def test_a_budget_imported_on_the_data_page_moves_the_overview_gap(server, browser, tmp_path):
    """A company-total budget row for December imported through the Data page: the Overview's
    gap to budget for the quarter, in units, moves by it (a bigger budget, a bigger gap)."""
    from playwright.sync_api import expect

    def gap() -> str:
        page.goto(f"{server}/")
        wait_for_page(page, "Overview", timeout_ms=60_000)
        tile = page.locator("[data-testid='stMetric']", has_text="vs budget: units").first
        expect(tile).to_be_visible(timeout=30_000)
        return tile.locator("[data-testid='stMetricValue']").inner_text()

    budget = tmp_path / "budget.csv"
    budget.write_text("month,sku,family,units,revenue\nDec 2026,,,2000000,0\n")
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    before = gap()
    page.goto(f"{server}/data")
    wait_for_page(page, "Data")
    page.locator("[data-testid='stSelectbox']", has_text="Into table").click()
    page.get_by_role("option", name="Budget").click()
    page.wait_for_selector(IDLE)
    page.locator("[data-testid='stFileUploader'] input[type=file]").set_input_files(str(budget))
    button = page.get_by_role("button", name="Import 1 rows into budget")
    expect(button).to_be_visible(timeout=15_000)
    button.click()
    expect(page.locator("[data-testid='stAlertContentSuccess']")).to_contain_text(
        "Imported budget.csv into budget", timeout=15_000
    )
    after = gap()
    assert after != before, (before, after)
    assert after.startswith("-") and "M" in after, after  # 2 million units short now
    page.close()


# Every text plotly draws in the visible charts: its class, computed size and fill.
_CHART_TEXT = """() => Array.from(document.querySelectorAll(
    '[data-testid=stPlotlyChart] .main-svg text')).filter(t => {
  const box = t.getBoundingClientRect();
  return t.textContent.trim() && box.width > 0 && box.height > 0;
}).map(t => ({
  where: t.closest('.xtick, .ytick, .legend, .annotation, .heatmaplayer, .g-xtitle, .g-ytitle, '
    + '.g-y2title') ? t.closest('.xtick, .ytick, .legend, .annotation, .heatmaplayer, '
    + '.g-xtitle, .g-ytitle, .g-y2title').getAttribute('class').split(' ')[0] : 'other',
  size: parseFloat(getComputedStyle(t).fontSize),
  fill: getComputedStyle(t).fill,
  text: t.textContent.trim().slice(0, 40),
}))"""
# Every piece of text on the slide outside the charts: its colour with the opacity of the
# elements around it, and the first background behind it.
_PAGE_TEXT = """() => {
  const shown = [];
  const root = document.querySelector('.stMainBlockContainer');
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!node.textContent.trim() || seen.has(element) || element.closest('svg')) continue;
    seen.add(element);
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    if (!box.width || !box.height || style.visibility === 'hidden') continue;
    let opacity = 1, background = 'rgb(255, 255, 255)';
    for (let e = element; e; e = e.parentElement) {
      opacity *= parseFloat(getComputedStyle(e).opacity);
    }
    for (let e = element; e; e = e.parentElement) {
      const colour = getComputedStyle(e).backgroundColor;
      if (colour && colour !== 'transparent' && colour !== 'rgba(0, 0, 0, 0)') {
        background = colour; break;
      }
    }
    shown.push({colour: style.color, opacity, background,
                text: node.textContent.trim().slice(0, 40)});
  }
  return shown;
}"""


def _text_contrast(found: dict) -> float:
    """The contrast of a text as seen: its colour at its opacity over its background."""
    from sop_core.charts.style import contrast_ratio, over, parse_colour

    r, g, b, alpha = parse_colour(found["colour"])
    background = over(found["background"], "#FFFFFF")
    return contrast_ratio(f"rgba({r}, {g}, {b}, {alpha * found['opacity']})", background)


def _check_slide(page, title: str) -> dict[str, float]:
    """The slide titled ``title``: the agenda marks the same step, the headline is there,
    chart type is at least 20 px and every text reads 4.5:1. Returns the smallest chart type
    by where it is."""
    from sop_core.charts.style import contrast_ratio

    assert page.locator("h1").first.inner_text() == title
    assert page.locator(".st-key-step [aria-checked='true']").inner_text() == title
    headline = page.locator(".st-key-headline p").inner_text()
    assert len(headline) > 40 and headline.endswith("."), headline
    _assert_no_error_boxes(page, f"Present mode, {title}")
    smallest: dict[str, float] = {}
    for text in page.evaluate(_CHART_TEXT):
        smallest[text["where"]] = min(smallest.get(text["where"], 99), text["size"])
        if text["where"] != "heatmaplayer":  # cells: tests/test_room_style.py
            assert contrast_ratio(text["fill"]) >= 4.5, (title, text)
    assert all(size >= 20 for size in smallest.values()), (title, smallest)
    poor = [(round(_text_contrast(t), 2), t) for t in page.evaluate(_PAGE_TEXT)]
    assert all(ratio >= 4.5 for ratio, _ in poor), (title, sorted(poor, key=lambda p: p[0])[:3])
    return smallest


def test_presentation_mode_walks_the_agenda(server, browser, server_db):
    """Issue 20: Present mode at 1920 x 1080 driven with the keys alone. Right walks the
    agenda, Left walks it back, End/Home, Page Down/Up (a clicker; pressed twice quickly, two
    steps), Space, Down/Up, and Esc leaves for the Overview. Every slide has its agenda title,
    a headline, chart type of at least 20 px and text that reads 4.5:1, also before any plan
    is approved (the served copy gets two scenarios and open decisions, one overdue). A link
    reopens the same slide. A screenshot of each slide goes to
    tests/artifacts/present-<step>.png."""
    from playwright.sync_api import expect

    from sop_core.meeting.headlines import AGENDA
    from tests.helpers import seed_options_and_decisions

    seed_options_and_decisions(server_db)
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.goto(f"{server}/present")
    wait_for_page(page, AGENDA[0], timeout_ms=60_000)
    # The page's style hides the sidebar once the browser has applied it (not instantly).
    expect(page.locator("[data-testid='stSidebar']")).to_be_hidden(timeout=10_000)

    def key(name: str, lands_on: int) -> None:
        from playwright.sync_api import TimeoutError as Timeout

        for _ in range(4):
            page.keyboard.press(name)
            try:
                wait_for_page(page, AGENDA[lands_on], timeout_ms=60_000)
                break
            except Timeout:
                # Under CI load a key press can be lost: press again only when the app is idle
                # on another slide (a slow rerun towards this one is waited for again).
                idle = page.locator(IDLE).count() > 0
                if not idle or page.locator("h1").first.inner_text() == AGENDA[lands_on]:
                    wait_for_page(page, AGENDA[lands_on], timeout_ms=120_000)
                    break
        expect(page.locator("h1").first).to_have_text(AGENDA[lands_on])

    measured = {}
    for index, title in enumerate(AGENDA):
        if index:
            key("ArrowRight", index)
        if index < 4:  # a chart on every slide but the decisions log
            page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg text")
        measured[title] = _check_slide(page, title)
        page.screenshot(path=ARTIFACTS / f"present-{index}.png")
        if index == 2:
            supply_link = page.url
    print("smallest chart type (px) by slide:", measured)
    assert measured[AGENDA[0]].keys() >= {"xtick", "ytick", "legend", "g-ytitle"}
    assert measured[AGENDA[2]].keys() >= {"xtick", "ytick", "heatmaplayer"}
    for index in range(len(AGENDA) - 2, -1, -1):
        key("ArrowLeft", index)
    for name, lands_on in [
        ("End", 4),
        ("Home", 0),
        ("PageDown", 1),
        ("PageUp", 0),
        ("Space", 1),
        ("ArrowDown", 2),
        ("ArrowUp", 1),
    ]:
        key(name, lands_on)
    # A clicker pressed twice before the page has redrawn: two steps on, then two back,
    # fifteen times: runs in quick succession stopped the page with "Connection error: Cached
    # ForwardMsg MISS" (Streamlit's element cache, off in .streamlit/config.toml) after 17, 31
    # and 21 double presses in three tries.
    for _ in range(15):
        page.keyboard.press("PageDown")
        key("PageDown", 3)
        page.keyboard.press("PageUp")
        key("PageUp", 1)
    assert page.get_by_text("Connection error").count() == 0
    page.keyboard.press("Escape")
    wait_for_page(page, "Overview", timeout_ms=60_000)
    assert "/present" not in page.url
    page.goto(supply_link)  # the link reopens the same screen
    wait_for_page(page, AGENDA[2], timeout_ms=30_000)
    page.close()


def test_a_refresh_outlives_a_killed_server_then_leaves_no_process(browser, sample_db, tmp_path):
    """Issue 19 (issue 24 before it): the app's refresh, pressed in the browser, runs as a job
    in its own process. The server killed hard while the forecast fits, the job still
    finishes and stores the forecast, and then its worker processes are gone too."""
    if not Path("/proc/self/task").exists():
        pytest.skip("reads the process tree from /proc (Linux)")
    from sop_core.jobs import control

    env = {"SOP_DB": str(sample_db), "SOP_SAMPLE_AS_OF": "2026-11-25"}
    process, url = serve_streamlit(ROOT / "app.py", env, tmp_path / "streamlit.log")
    started: set[int] = set()
    try:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(url)
        wait_for_page(page, "Overview")
        page.get_by_role("button", name="Make the forecast now").click()
        # The job's process and its workers are up once the server has at least three
        # processes below it (the job, its workers, the tracker).
        assert wait_for(lambda: len(descendants(process.pid)) >= 3, timeout=180), (
            "the refresh never started its workers"
        )
        started = descendants(process.pid)
        page.close()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

        def stored() -> bool:
            jobs = control.list_jobs(sample_db)
            return bool(jobs) and jobs[0].state == "done"

        assert wait_for(stored, timeout=180, interval=0.5), control.list_jobs(sample_db)
        assert control.list_jobs(sample_db)[0].result["run_id"] == 1
        assert wait_for(lambda: not any(alive(pid) for pid in started), timeout=20), [
            pid for pid in started if alive(pid)
        ]
    finally:
        reap(process, started)
