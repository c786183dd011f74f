"""The real app in a real headless Chromium: every page opens without an exception box.

Needs Debian's Chromium (/usr/bin/chromium) and Playwright's Python package; never downloads a
browser. Screenshots go to tests/artifacts/; with SOP_UPDATE_SCREENSHOTS=1 the overview also
replaces docs/screenshot-overview.png (the README's picture).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PAGE_TITLES = [
    "Overview",
    "Demand review",
    "Promotions & pricing",
    "Supply & capacity",
    "Plan & decisions",
    "Data",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Chromium is not installed at /usr/bin/chromium "
        "(apt-get install chromium); CI installs it",
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(sample_db_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The dashboard served by `streamlit run` on 127.0.0.1, on a copy of the sample."""
    folder = tmp_path_factory.mktemp("server")
    database = folder / "sop.duckdb"
    shutil.copy(sample_db_master, database)
    port = _free_port()
    log = folder / "streamlit.log"
    env = dict(os.environ, SOP_DB=str(database), SOP_SAMPLE_AS_OF="2026-11-25")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"streamlit did not start; its log:\n{log.read_text()}")
        time.sleep(0.2)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


def _wait_idle(page, title: str) -> None:
    page.wait_for_selector(f"h1:has-text('{title}')", timeout=30_000)
    page.wait_for_selector(IDLE, timeout=30_000)
    # Charts draw after the script ends; wait for every plot to be on screen.
    page.wait_for_function(
        "Array.from(document.querySelectorAll('[data-testid=\"stPlotlyChart\"]'))"
        ".every(c => c.querySelector('.main-svg'))",
        timeout=30_000,
    )


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
    _wait_idle(page, "Overview")
    first_render = time.perf_counter() - started
    _assert_no_error_boxes(page, "Overview")
    page.screenshot(path=ARTIFACTS / "overview.png")
    if os.environ.get("SOP_UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=ROOT / "docs" / "screenshot-overview.png")

    timings = {"first_render_seconds": round(first_render, 3), "pages": {}}
    for title in PAGE_TITLES[1:] + PAGE_TITLES[:1]:
        started = time.perf_counter()
        page.locator("[data-testid='stTopNavLink']", has_text=title).click()
        _wait_idle(page, title)
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
    _wait_idle(page, "Supply & capacity")
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
    _wait_idle(page, "Demand review")
    legend = page.locator("[data-testid='stPlotlyChart'] .legend").first
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
