"""Every page at the three screen sizes a meeting uses, in a real headless Chromium.

One walk (one server, one browser) opens every page and each Present mode step, and at 1366 x
768 (the meeting-room laptop), 1920 x 1080 and 2560 x 1440 (projectors, large screens) saves a
full-page screenshot to tests/artifacts/ and looks, in the page, for any KPI, label, button,
tab or other control whose text overflows its box or that is cut by its parent or the window.
The same walk records every request the browser makes (none may leave the machine) and the
server's log (no warnings).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import BROWSER_ARGS, BROWSER_MARKS, CHROMIUM, IDLE, serve_streamlit, stop

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
SIZES = [(1366, 768), (1920, 1080), (2560, 1440)]
# (name for the screenshot, path, the page's title)
PAGES = [
    ("overview", "", "Overview"),
    ("demand", "demand", "Demand review"),
    ("promotions", "promotions", "Promotions & pricing"),
    ("supply", "supply", "Supply & capacity"),
    ("plan", "plan", "Plan & decisions"),
    ("data", "data", "Data"),
]
# Present mode's agenda: where we stand and the meeting's four steps.
PRESENT_STEPS = 5

pytestmark = BROWSER_MARKS

# JS: the controls of the page that do not fit, each as {what, text, why}. A control overflows
# when its box, or a text box inside it, is narrower than its content (scrollWidth against
# clientWidth: cut with an ellipsis, or spilling over its neighbour); it is cut when it reaches
# past the window or past an ancestor that clips. Grids (st.dataframe, st.data_editor) scroll
# inside by design: a page-wide grid of many columns may scroll sideways, but one squeezed
# beside a chart or another table must show all its columns. (A grid draws its cells on a
# canvas: a text cut inside a cell is for the screenshots.) Plotly draws its own SVG: a chart
# counts when its title or legend is cut at its edge, its legend is drawn over the title or
# the x axis, or two labels of an x axis run into each other. The sidebar counts only while it
# is open.
FIND_MISFITS = r"""() => {
  const width = document.documentElement.clientWidth;
  const INSIDE_BY_DESIGN = '[data-testid=stDataFrame], [data-testid=stPlotlyChart], '
    + '[data-testid=stSidebar][aria-expanded=false], [data-stale=true]';
  const KINDS = [
    ['KPI', '[data-testid=stMetric]'],
    ['KPI value', '[data-testid=stMetricValue]'],
    ['KPI label', '[data-testid=stMetricLabel]'],
    ['KPI change', '[data-testid=stMetricDelta]'],
    ['button', 'button'],
    ['link', '[data-testid=stPageLink] a, [data-testid=stTopNavLink]'],
    ['tab', '[data-testid=stTab]'],
    ['label', '[data-testid=stWidgetLabel]'],
    ['choice', '[data-testid=stSelectbox] input, [data-baseweb=select] [value]'],
    ['input', '[data-testid=stTextInputRootElement], [data-testid=stNumberInputContainer]'],
    ['expander', '[data-testid=stExpander] summary'],
    ['table', '[data-testid=stTable]'],
    ['caption', '[data-testid=stCaptionContainer]'],
    ['heading', '[data-testid=stHeading]'],
    ['alert', '[data-testid=stAlertContainer]'],
  ];
  const text = (el) => (el.innerText || el.getAttribute('aria-label') || el.title || '')
    .trim().replace(/\s+/g, ' ').slice(0, 90);
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && el.checkVisibility({checkVisibilityCSS: true});
  };
  const found = [];
  const seen = new Set();
  const report = (what, el, why) => {
    const key = what + '|' + text(el) + '|' + why;
    if (!seen.has(key)) { seen.add(key); found.push({what, text: text(el), why}); }
  };
  for (const [what, selector] of KINDS) {
    for (const el of document.querySelectorAll(selector)) {
      if (!shown(el) || el.closest(INSIDE_BY_DESIGN)) continue;
      // The control itself and every text box inside it.
      const boxes = [el, ...el.querySelectorAll('div, p, span, label, a, summary, h1, h2, h3')];
      const cut = boxes.find(box => box.clientWidth > 0
        && box.scrollWidth > box.clientWidth + 1 && shown(box));
      if (cut) {
        report(what, el, `text ${cut.scrollWidth}px wide in a box of ${cut.clientWidth}px`);
      }
      const r = el.getBoundingClientRect();
      if (r.right > width + 1 || r.left < -1) {
        report(what, el, `reaches ${Math.round(r.left)}-${Math.round(r.right)}px, `
          + `the window is ${width}px wide`);
        continue;
      }
      for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
        if (getComputedStyle(up).overflowX === 'visible') continue;
        const p = up.getBoundingClientRect();
        if (r.right > p.right + 1 || r.left < p.left - 1) {
          report(what, el, `cut by its container (${Math.round(r.left)}-${Math.round(r.right)}px `
            + `in ${Math.round(p.left)}-${Math.round(p.right)}px)`);
          break;
        }
      }
    }
  }
  for (const box of document.querySelectorAll('[data-testid=stException]')) {
    found.push({what: 'error', text: text(box), why: 'an exception on the page'});
  }
  const main = document.querySelector('[data-testid=stMainBlockContainer]');
  const style = getComputedStyle(main);
  const pageWidth = main.clientWidth - parseFloat(style.paddingLeft)
    - parseFloat(style.paddingRight);
  for (const grid of document.querySelectorAll('[data-testid=stDataFrame]')) {
    const scroller = grid.querySelector('.dvn-scroller');
    if (!shown(grid) || grid.closest('[data-stale=true]') || !scroller) continue;
    const headers = Array.from(grid.querySelectorAll('[role=columnheader]'))
      .map(h => h.textContent.trim()).filter(Boolean).join(', ').slice(0, 90);
    const besideSomething = grid.getBoundingClientRect().width < 0.9 * pageWidth;
    if (besideSomething && scroller.scrollWidth > scroller.clientWidth + 1) {
      found.push({what: 'table', text: headers,
        why: `columns ${scroller.scrollWidth}px wide in a frame of ${scroller.clientWidth}px`});
    }
    // A long grid scrolls down by design; one a few pixels short of its rows was meant to
    // show them all and cuts the last.
    const hidden = scroller.scrollHeight - scroller.clientHeight;
    if (hidden > 1 && hidden < 30) {
      found.push({what: 'table', text: headers, why: `last row cut by ${hidden}px`});
    }
  }
  for (const chart of document.querySelectorAll('[data-testid=stPlotlyChart]')) {
    if (!shown(chart) || chart.closest('[data-stale=true]')) continue;
    const svg = chart.querySelector('.main-svg');
    if (!svg) continue;
    const frame = svg.getBoundingClientRect();
    const title = chart.querySelector('.gtitle');
    const legend = chart.querySelector('.legend');
    const name = title ? title.textContent : 'a chart';
    const outside = (b) => b.left < frame.left - 1 || b.right > frame.right + 1
      || b.top < frame.top - 1 || b.bottom > frame.bottom + 1;
    if (title && outside(title.getBoundingClientRect())) {
      found.push({what: 'chart title', text: name, why: "cut at the chart's edge"});
    }
    // An axis' labels, left to right, each clear of the next.
    for (const axis of chart.querySelectorAll('.xaxislayer-above')) {
      const labels = Array.from(axis.querySelectorAll('.xtick text'))
        .map(label => [label.getBoundingClientRect(), label.textContent])
        .filter(([b]) => b.width > 0).sort((a, b) => a[0].left - b[0].left);
      const crowded = labels.findIndex(([b], i) => i && labels[i - 1][0].right > b.left + 1);
      if (crowded > 0) {
        found.push({what: 'chart axis', text: name, why: 'labels '
          + `${JSON.stringify(labels[crowded - 1][1])} and ${JSON.stringify(labels[crowded][1])}`
          + ' run into each other'});
      }
    }
    if (!legend) continue;
    const l = legend.getBoundingClientRect();
    const over = (b) => l.left < b.right && b.left < l.right && l.top < b.bottom
      && b.top < l.bottom;
    if (outside(l)) found.push({what: 'chart legend', text: name, why: "cut at the chart's edge"});
    if (title && over(title.getBoundingClientRect())) {
      found.push({what: 'chart legend', text: name, why: "drawn over the chart's title"});
    }
    const axis = Array.from(chart.querySelectorAll('.xtick text, .g-xtitle text'))
      .find(label => over(label.getBoundingClientRect()));
    if (axis) {
      found.push({what: 'chart legend', text: name,
        why: `drawn over the x axis's ${JSON.stringify(axis.textContent)}`});
    }
  }
  return found;
}"""

# JS: true once no element waits for its code (a skeleton) and every chart is drawn.
DRAWN = """() => !document.querySelector('[data-testid=stSkeleton]')
  && Array.from(document.querySelectorAll('[data-testid=stPlotlyChart]'))
    .every(chart => chart.querySelector('.main-svg'))"""

# JS: true once every chart on screen has been laid out at its container's width (plotly
# redraws a chart after the window changes size).
CHARTS_FIT = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
  .filter(plot => plot.checkVisibility() && !plot.closest('[data-stale=true]'))
  .every(plot => plot._fullLayout
    && Math.abs(plot._fullLayout.width - plot.getBoundingClientRect().width) <= 2)"""

# JS: resolves once the page's height has not changed for five frames (an expander opens, a
# chart's container resizes, with an animation).
LAID_OUT = """() => new Promise(resolve => {
  const main = document.querySelector('[data-testid=stMain]');
  let last = -1, same = 0;
  const frame = () => {
    const height = main.scrollHeight;
    same = height === last ? same + 1 : 0;
    last = height;
    if (same >= 5) resolve(height); else requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
})"""

# The height of everything the page shows: Streamlit scrolls its main area, not the document.
CONTENT_HEIGHT = """() => Math.max(document.documentElement.scrollHeight,
  ...Array.from(document.querySelectorAll('[data-testid=stMain], [data-testid=stSidebar] > div'))
    .map(el => el.scrollHeight + el.getBoundingClientRect().top))"""

# JS: every address the page itself names for something to load (its favicon, scripts, styles,
# images, frames). Chromium fetches a favicon outside the page, unseen by request events.
LOADED_FROM = """() => Array.from(document.querySelectorAll(
  'link[href], script[src], img[src], iframe[src], source[src], video[src], audio[src]'))
  .map(el => el.href || el.src)"""

# A warning, in any case and any wording, or an error.
WORRYING = re.compile(r"warn|error|traceback|exception", re.IGNORECASE)
LOCAL = re.compile(r"^(data:|blob:|about:|https?://(127\.0\.0\.1|localhost)(:\d+)?/)")


@dataclass
class Walk:
    """What one walk through every page at every size saw."""

    misfits: dict[tuple[int, int], dict[str, list[dict]]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    log: str = ""


@pytest.fixture(scope="module")
def walk(forecast_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    """Serve the app on a copy of the sample with its forecast; open every page, and at each
    size look for misfits and take a screenshot; record the requests and the server's log."""
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("fit")
    database = folder / "sop.duckdb"
    shutil.copy(forecast_db, database)
    log = folder / "streamlit.log"
    env = {
        "SOP_DB": str(database),
        "SOP_SAMPLE_AS_OF": "2026-11-25",
        # Streamlit's log names no level by default: a warning would not say it is one.
        "STREAMLIT_LOGGER_MESSAGE_FORMAT": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        # Deprecations our code meets are shown, not only those in __main__.
        "PYTHONWARNINGS": "default::DeprecationWarning",
    }
    try:
        process, url = serve_streamlit(ROOT / "app.py", env, log)
    except RuntimeError as error:
        pytest.fail(str(error))
    ARTIFACTS.mkdir(exist_ok=True)
    seen = Walk()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            width, height = SIZES[0]
            context = browser.new_context(viewport={"width": width, "height": height})
            context.on("request", lambda request: seen.requests.append(request.url))
            page = context.new_page()
            for name, path, title in PAGES:
                page.set_viewport_size({"width": width, "height": height})
                page.goto(f"{url}/{path}")
                _wait_for(page, title)
                if name == "promotions":
                    _add_a_lever(page)
                _look_at_every_size(page, name, seen)
            # Present mode: the agenda step by step, as the room sees it.
            page.set_viewport_size({"width": width, "height": height})
            page.goto(f"{url}/present")
            _wait_for(page, None)
            for step in range(PRESENT_STEPS):
                if step:
                    heading = page.locator("h1").first.inner_text()
                    page.get_by_role("button", name=re.compile(r"^Next")).click()
                    page.wait_for_function(
                        "(before) => { const h = document.querySelector('h1');"
                        " return h && h.innerText !== before; }",
                        arg=heading,
                        timeout=30_000,
                    )
                    _wait_for(page, None)
                _look_at_every_size(page, f"present-{step}", seen)
                page.set_viewport_size({"width": width, "height": height})
            context.close()
            browser.close()
    finally:
        stop(process)
    seen.log = log.read_text(errors="replace")
    yield seen


def _look_at_every_size(page, name: str, seen: Walk) -> None:
    """At each size: the page's misfits, and its screenshot; what the page loads from."""
    _open_expanders(page)
    seen.requests.extend(page.evaluate(LOADED_FROM))
    for size in SIZES:
        page.set_viewport_size({"width": size[0], "height": size[1]})
        page.wait_for_function(CHARTS_FIT, timeout=15_000)
        page.evaluate(LAID_OUT)
        seen.misfits.setdefault(size, {})[name] = page.evaluate(FIND_MISFITS)
        _full_page_screenshot(page, ARTIFACTS / f"fit-{name}-{size[0]}.png", size)


def _add_a_lever(page) -> None:
    """A 5% discount added to the scenario (in this session): the editor's sliders are reset,
    and the scenario's levers table shows."""
    slider = page.locator("[data-testid='stSlider']", has_text="Discount").get_by_role("slider")
    slider.focus()
    slider.press("ArrowRight")
    page.wait_for_selector(IDLE)
    page.get_by_role("button", name="Add the lever to the scenario").click()
    page.get_by_text("In this scenario: 1 lever(s)").wait_for(timeout=30_000)
    _wait_for(page, "Promotions & pricing")


def _wait_for(page, title: str | None) -> None:
    """Wait until the page (titled ``title``, or any title) has run and drawn everything.

    The script's state reads notRunning while elements still load in the browser (a chart's
    code is fetched on first use): until then Streamlit shows a skeleton in their place."""
    page.wait_for_selector(f"h1:has-text('{title}')" if title else "h1", timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.wait_for_function(DRAWN, timeout=30_000)


def _open_expanders(page) -> None:
    """Open every expander, so what they hold is looked at and in the screenshots too
    (an expander opens in the browser, without a rerun)."""
    page.evaluate(
        "() => document.querySelectorAll('[data-testid=stExpander] details:not([open]) > summary')"
        ".forEach(summary => summary.click())"
    )
    page.wait_for_function(DRAWN, timeout=30_000)
    page.evaluate(LAID_OUT)


def _full_page_screenshot(page, path: Path, size: tuple[int, int]) -> None:
    """The whole page at ``size``'s width: the window made as tall as the content for the
    shot (Streamlit scrolls its main area, which a full-page shot of the document misses)."""
    page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
    tall = max(size[1], int(page.evaluate(CONTENT_HEIGHT)))
    page.set_viewport_size({"width": size[0], "height": tall})
    page.wait_for_function(CHARTS_FIT, timeout=15_000)
    page.evaluate(LAID_OUT)
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size({"width": size[0], "height": size[1]})


def _describe(misfits: dict[str, list[dict]]) -> str:
    return "\n".join(
        f"  {page}: {m['what']} {m['text']!r}: {m['why']}"
        for page, found in misfits.items()
        for m in found
    )


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_page_fits_the_screen(walk: Walk, size: tuple[int, int]) -> None:
    """No KPI, label, button, tab or other control overflows its box or is cut, on any page
    at this size (screenshots: tests/artifacts/fit-<page>-<width>.png)."""
    misfits = {page: found for page, found in walk.misfits[size].items() if found}
    assert len(walk.misfits[size]) == len(PAGES) + PRESENT_STEPS
    assert not misfits, f"at {size[0]} x {size[1]}:\n{_describe(misfits)}"


def test_no_request_leaves_the_machine(walk: Walk) -> None:
    """Every request of the walk, and every address a page names to load from, is the app's
    own server or the page itself (fonts, icons, favicon, chart scripts included)."""
    assert walk.requests, "the walk recorded no request at all"
    external = sorted({url for url in walk.requests if not LOCAL.match(url)})
    assert not external, "requests to other hosts:\n" + "\n".join(external)


def test_the_server_log_has_no_warning(walk: Walk) -> None:
    """The server says nothing worrying over the walk: no warning (a deprecation, a widget
    with two values), no error."""
    assert "URL: http://127.0.0.1" in walk.log  # the log is the server's
    worrying = [line for line in walk.log.splitlines() if WORRYING.search(line)]
    assert not worrying, "\n".join(worrying) + "\n\nthe whole log:\n" + walk.log
