"""Helpers for tests that need a second, real process."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HOLD_LOCK = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS lock_holder (x INTEGER)")
print("locked", flush=True)
if sys.argv[2] == "until-released":
    sys.stdin.readline()
else:
    time.sleep(float(sys.argv[2]))
con.close()
"""


def hold_lock(path: Path, seconds: float | None) -> subprocess.Popen:
    """Start a process that opens ``path`` for writing and holds it for ``seconds`` (None:
    until ``release`` is called, so a test waits for an event rather than the clock).

    Returns once the lock is held.
    """
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLD_LOCK,
            str(path),
            "until-released" if seconds is None else str(seconds),
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    assert line.strip() == "locked", f"lock holder did not start: {line!r}"
    return process


def release(holder: subprocess.Popen) -> None:
    """Let a ``hold_lock(path, None)`` holder close the database and end."""
    if holder.poll() is None and holder.stdin and not holder.stdin.closed:
        holder.stdin.write("\n")
        holder.stdin.flush()


def run_cli_waiting(holder: subprocess.Popen, *args: str, timeout: float = 120):
    """Run ``python -m sop_core ARGS`` while ``holder`` holds the database, and release it as
    soon as the command says it is waiting (or ends): however slow the machine, the command
    meets the lock. Returns the CompletedProcess, stderr whole."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sop_core", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    try:
        for line in process.stderr:
            seen.append(line)
            if "waiting" in line:
                break
        release(holder)
        out, rest = process.communicate(timeout=timeout)
    finally:
        release(holder)
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, out, "".join(seen) + rest)


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m sop_core ARGS`` as a real process from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "sop_core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


# ---- the real app in a real browser (used by tests/test_browser.py and benchmarks/) ----------

CHROMIUM = "/usr/bin/chromium"
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Chromium is not installed at /usr/bin/chromium "
        "(apt-get install chromium); CI installs it",
    ),
]
"""The marks of a module of browser tests: ``pytestmark = BROWSER_MARKS``."""
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def free_port() -> int:
    """A free port on 127.0.0.1 that no other process gets from the system for a minute.

    The port is left in TIME_WAIT: the kernel hands it to nobody asking for any free port
    (another test worker, another test run on the machine), while a server that binds with
    SO_REUSEADDR, as Streamlit's does, can take it at once.
    """
    import socket

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        address = listener.getsockname()
        with socket.create_connection(address):
            accepted, _ = listener.accept()
            # Closed first on the listening side: that side's port waits in TIME_WAIT.
            accepted.close()
    return address[1]


def serve_streamlit(script: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """Start ``streamlit run script`` on 127.0.0.1 and wait until it is healthy.

    Returns the process and its URL; raises with the server's log when it does not start. A
    server answering on the port is only taken for ours once our process has printed that it
    listens there: a port someone else took first makes ours exit ("Port ... is not
    available"), and then it starts again on another port.
    """
    for _ in range(3):
        process, url = _start_streamlit(script, env, log)
        if url:
            return process, url
    raise RuntimeError(f"streamlit did not start; its log:\n{log.read_text()}")


def _start_streamlit(
    script: Path, env: dict[str, str], log: Path
) -> tuple[subprocess.Popen, str | None]:
    """One try of ``serve_streamlit``: the process and its URL, or no URL when the port was
    taken; raises when the server fails otherwise."""
    import os
    import urllib.request

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(script),
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
                # The line saying where it listens is how a server is known to be ours.
                "--logger.hideWelcomeMessage",
                "false",
            ],
            cwd=script.parent,
            # Unbuffered, so the line saying where it listens is in the log when printed.
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        if f"URL: {url}" in log.read_text(errors="replace"):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    return process, url
            except OSError:
                pass
        if process.poll() is not None:
            if "is not available" in log.read_text(errors="replace"):
                return process, None
            raise RuntimeError(f"streamlit did not start; its log:\n{log.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"streamlit did not start; its log:\n{log.read_text()}")
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for_page(page, title: str, timeout_ms: int = 30_000) -> None:
    """Wait until the page titled ``title`` has run and every plotly chart is drawn."""
    page.wait_for_selector(f"h1:has-text('{title}')", timeout=timeout_ms)
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    page.wait_for_function(
        "Array.from(document.querySelectorAll('[data-testid=\"stPlotlyChart\"]'))"
        ".every(c => c.querySelector('.main-svg'))",
        timeout=timeout_ms,
    )


# ---- a slider move, timed in the page (tests/test_browser.py, benchmarks/bench_browser.py) ----

# The last line (on the scenario chart: the revised target) of the ``n``-th plotly chart a
# planner can see. When a fragment reruns, Streamlit mounts the new chart as a new element (a
# chart's id follows its figure) and keeps the previous one in the page, marked stale and
# collapsed to zero height, until the run has finished. That hidden copy is not what anyone
# sees, so it is skipped.
# JS: whether a chart element is on screen (not the hidden stale copy); the last line it draws.
_SHOWN = "(c => c.getBoundingClientRect().height > 0 && !c.closest('[data-stale=true]'))"
_LAST_LINE = """(chart => {
  const lines = chart ? chart.querySelectorAll('.scatterlayer .trace path.js-line') : [];
  return lines.length ? lines[lines.length - 1].getAttribute('d') : '';
})"""
_VISIBLE_CHARTS = (
    "Array.from(document.querySelectorAll('[data-testid=stPlotlyChart]')).filter(" + _SHOWN + ")"
)
VISIBLE_LINE = "(n) => " + _LAST_LINE + "(" + _VISIBLE_CHARTS + "[n])"
VISIBLE_TITLE = (
    """(n) => {
  const chart = """
    + _VISIBLE_CHARTS
    + """[n];
  const title = chart ? chart.querySelector('.gtitle') : null;
  return title ? title.textContent : '';
}"""
)
# The y values of the ``n``-th visible chart's trace called ``name``, as plotly drew them.
VISIBLE_TRACE = (
    """([n, name]) => {
  const chart = """
    + _VISIBLE_CHARTS
    + """[n];
  const trace = chart.querySelector('.js-plotly-plot')._fullData.find(t => t.name === name);
  return Array.from(trace.y);
}"""
)


# Armed before a key press: from the keydown (page clock), milliseconds until the chart a
# planner sees shows a new line, painted ("chart"), and until the rerun has finished, every
# other result of the fragment in place too ("settled"). The new chart is a chart element that
# was not in the page when armed (Streamlit mounts a changed figure as a new element), so
# neither the hidden stale copy nor another chart further down can be taken for it.
_ARM_MOVE = (
    """([before, n, timeoutMs]) => {
  const all = () => Array.from(document.querySelectorAll('[data-testid=stPlotlyChart]'));
  const old = new Set(all());
  const shown = """
    + _SHOWN
    + """;
  const lineOf = """
    + _LAST_LINE
    + """;
  const app = document.querySelector('[data-testid=stApp]');
  // The KPI figures as shown (stale copies left out): a move is seen in them once they differ.
  const figures = () => Array.from(document.querySelectorAll('[data-testid=stMetricValue]'))
    .filter(e => !e.closest('[data-stale=true]')).map(e => e.textContent).join('|');
  const figuresBefore = figures();
  let t0 = null, found = false, chart = null, observer = null, kpis = null, kpisSeen = false;
  window.__sopMove = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (observer) observer.disconnect();
      reject(new Error(`no key press, or the rerun did not finish with a redrawn chart, `
        + `within ${timeoutMs} ms (keydown: ${t0 !== null}, chart: ${chart} ms, state: `
        + `${app.getAttribute('data-test-script-state')}, stale elements: `
        + `${document.querySelectorAll('[data-stale=true]').length})`));
    }, timeoutMs);
    const finish = () => {
      // Finished: the stApp's state is back to notRunning and Streamlit has cleared the
      // fragment's stale elements. (A short run's steps can reach React in one batch, so the
      // state is not always seen to change; the new chart cannot appear before the run.)
      if (chart !== null && (!kpisSeen || kpis !== null)
          && app.getAttribute('data-test-script-state') === 'notRunning'
          && !document.querySelector('[data-stale=true]')) {
        observer.disconnect(); clearTimeout(timer);
        resolve({chart, settled: performance.now() - t0, kpis});
      }
    };
    const check = (records) => {
      if (!kpisSeen && figures() !== figuresBefore) {
        kpisSeen = true;
        requestAnimationFrame(() => { kpis = performance.now() - t0; finish(); });
      }
      if (!found && records.some(r => r.target.closest
          && r.target.closest('[data-testid=stPlotlyChart]'))) {
        const fresh = all().filter(c => !old.has(c) && shown(c))[n];
        const d = fresh ? lineOf(fresh) : '';
        if (d && d !== before) {
          found = true;
          // Drawn into the page; on screen with the next frame, which is rendered right
          // after its animation-frame callbacks.
          requestAnimationFrame(() => { chart = performance.now() - t0; finish(); });
        }
      }
      finish();
    };
    document.addEventListener('keydown', () => {
      t0 = performance.now();
      observer = new MutationObserver(check);
      observer.observe(document.body,
        {subtree: true, childList: true, attributes: true, characterData: true});
    }, {once: true, capture: true});
  });
}"""
)


def time_slider_moves(
    page, label: str, keys: list[str], chart: int = 0, timeout_ms: int = 15_000
) -> list[dict[str, float]]:
    """Press each of ``keys`` on the slider labelled ``label``; for each press, seconds from the
    key press until the ``chart``-th visible chart, redrawn as a new element, shows a new line
    on screen (``chart``), until the KPI figures on screen first differ (``kpis``; None when
    the move changed none) and until the rerun has finished (``settled``), on the page's own
    clock."""
    slider = page.locator("[data-testid='stSlider']", has_text=label).get_by_role("slider")
    timings = []
    for key in keys:
        before = _steady_line(page, chart, timeout_ms)
        slider.focus()
        page.evaluate(_ARM_MOVE, [before, chart, timeout_ms])
        page.keyboard.press(key)
        moved = page.evaluate("window.__sopMove")
        timings.append(
            {name: None if ms is None else round(ms / 1000, 4) for name, ms in moved.items()}
        )
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    return timings


def time_switches(
    page, key: str, options: list[str], chart: int = 0, timeout_ms: int = 15_000
) -> list[dict[str, float]]:
    """Choose each of ``options`` in the segmented control of widget key ``key`` (focus its
    button, press Enter: a keyboard click); for each, seconds from the key press until the
    ``chart``-th visible chart, redrawn, shows a new line on screen (``chart``) and until the
    rerun has finished (``settled``), on the page's own clock, as ``time_slider_moves``."""
    group = page.locator(f".st-key-{key} [data-testid='stButtonGroup']")
    timings = []
    for option in options:
        before = _steady_line(page, chart, timeout_ms)
        group.get_by_role("radio", name=option, exact=True).focus()
        page.evaluate(_ARM_MOVE, [before, chart, timeout_ms])
        page.keyboard.press("Enter")
        moved = page.evaluate("window.__sopMove")
        timings.append(
            {name: None if ms is None else round(ms / 1000, 4) for name, ms in moved.items()}
        )
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    return timings


def _steady_line(page, chart: int, timeout_ms: int) -> str:
    """The chart's line once it has stopped changing: right after a page first settles its
    chart can still be redrawn (seen once as a "move" timed at 8 ms, before any rerun)."""
    deadline = time.monotonic() + timeout_ms / 1000
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    line = page.evaluate(VISIBLE_LINE, chart)
    while time.monotonic() < deadline:
        page.wait_for_timeout(150)
        page.wait_for_selector(IDLE, timeout=timeout_ms)
        now = page.evaluate(VISIBLE_LINE, chart)
        if now and now == line:
            return line
        line = now
    raise AssertionError(f"chart {chart} did not settle within {timeout_ms} ms")


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children...), from /proc."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                pids = {int(p) for p in children.read_text().split()}
            except OSError:  # the process ended meanwhile
                continue
            pending.extend(pids - found)
            found |= pids
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def outlived(process: subprocess.Popen, started: set[int], stop_signal: int) -> list[int]:
    """Send ``stop_signal`` to ``process`` and return those of ``started`` (processes it had
    started) still running 10 s after it ended: empty when they all went with it."""
    import os

    os.kill(process.pid, stop_signal)
    process.wait(timeout=30)
    wait_for(lambda: not any(alive(pid) for pid in started), timeout=10)
    return [pid for pid in started if alive(pid)]


def reap(process: subprocess.Popen, started: set[int]) -> None:
    """Clean up after a test: ``process`` and whatever it started are killed and gone."""
    import os
    import signal

    if process.poll() is None:
        process.kill()
    process.wait()
    for pid in started:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


# ---- the meeting's options and decisions, before any approval (Present mode's tests) --------

PUSH = "Christmas push: haircare at 35% off"
PRICE_RISE = "Haircare price rise +4%"
OVERDUE = "Confirm Saturday shifts with the plant for the busiest line"


def seed_options_and_decisions(path: Path, today=None) -> None:
    """Two saved scenarios (a deep Christmas promotion, a price rise) and three open items in
    the decisions log, one of them overdue as of ``today`` (default: today), as a meeting
    finds them before anything is approved."""
    import datetime as dt

    from sop_core.data import db
    from sop_core.data.stores import forecast_runs
    from sop_core.meeting import decisions
    from sop_core.scenario.model import Lever, Scenario
    from sop_core.scenario.store import create_scenario

    today = today or dt.date.today()
    with db.connect(path) as con:
        run_id = forecast_runs.latest_run_id(con)
    christmas = dt.date(2026, 12, 21)
    push = Lever("promotion", "family", "haircare", christmas, christmas, discount=0.35, feature=1)
    rise = Lever("price", "family", "haircare", dt.date(2027, 1, 4), None, change=0.04)
    create_scenario(path, Scenario(PUSH, levers=[push]), "Lea Martin", run_id, status="proposed")
    create_scenario(path, Scenario(PRICE_RISE, levers=[rise]), "Lea Martin", run_id)
    for kind, text, owner, due in (
        ("decision", f"{OVERDUE} before the holidays.", "Tom Berg", today - dt.timedelta(days=4)),
        (
            "decision",
            f"Take '{PUSH}' to the executive review.",
            "Lea Martin",
            today + dt.timedelta(9),
        ),
        (
            "assumption",
            "The retailer's listing holds for four weeks.",
            "Ana Ruiz",
            today + dt.timedelta(28),
        ),
    ):
        decisions.add_item(path, kind, text, owner, "Sam Okafor", due_date=due)


def week(base, index: int) -> dt.date:
    """The Monday of a plan base's ``index``-th week, as a date (what levers take)."""
    return base.weeks[index].astype(dt.date)
