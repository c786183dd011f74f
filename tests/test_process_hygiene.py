"""Killed work leaves nothing behind: no forecast worker outlives its parent, no temporary
database outlives a killed ``init``, no interrupted import leaves the file grown."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, wait_for

# The dashboard's refresh, as ``sop_ui.widgets.refresh_forecast_with_progress`` runs it in
# the Streamlit server process: ``refresh_forecast(path, progress=...)`` with the default
# number of workers. Each progress message goes to stdout, so the test can wait for fitting.
APP_REFRESH = """
import sys
from sop_core.forecast.runs import refresh_forecast

def progress(fraction, message):
    print(message, flush=True)

refresh_forecast(sys.argv[1], progress=progress, reuse=False)
"""


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


def start_until_fitting(command: list[str], stream: str) -> tuple[subprocess.Popen, set[int]]:
    """Start ``command`` and return once it reports fitted SKUs (its workers are running),
    with the processes it started by then."""
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE if stream == "stdout" else subprocess.DEVNULL,
        stderr=subprocess.PIPE if stream == "stderr" else subprocess.DEVNULL,
        text=True,
    )
    output = process.stdout if stream == "stdout" else process.stderr
    seen = []
    for line in output:
        seen.append(line)
        if "Fitted" in line:
            break
    else:
        process.wait()
        pytest.fail(f"the forecast ended before fitting started: {''.join(seen)}")
    started = descendants(process.pid)
    return process, started


def linux_only() -> None:
    if not Path("/proc/self/task").exists():
        pytest.skip("reads the process tree from /proc (Linux)")


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
def test_a_stopped_forecast_leaves_no_process(sample_db: Path, stop: str) -> None:
    linux_only()
    command = ["forecast", "--db", str(sample_db), "--force", "--jobs", "2"]
    process, started = start_until_fitting([sys.executable, "-m", "sop_core", *command], "stderr")
    try:
        # Two workers and multiprocessing's resource tracker at least.
        assert len(started) >= 3, started
        os.kill(process.pid, getattr(signal, stop))
        process.wait(timeout=30)
        left = [pid for pid in started if alive(pid)]
        assert wait_for(lambda: not any(alive(pid) for pid in started), timeout=10), (
            f"still running 10 s after {stop}: {left}"
        )
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    if stop == "SIGTERM":
        error = process.stderr.read().strip().splitlines()
        assert process.returncode == 128 + signal.SIGTERM
        assert error[-1] == "error: stopped (SIGTERM); the step in progress was not saved"
        assert "Traceback" not in "\n".join(error)


@pytest.mark.slow
def test_a_killed_app_refresh_leaves_no_process(sample_db: Path) -> None:
    """The dashboard's refresh killed mid-fit (the server stopped hard): its workers go too.

    A small process runs the refresh the way the app does: starting the real server would
    need a browser to press the button."""
    linux_only()
    process, started = start_until_fitting(
        [sys.executable, "-c", APP_REFRESH, str(sample_db)], "stdout"
    )
    try:
        assert len(started) >= 3, started
        process.kill()
        process.wait(timeout=30)
        assert wait_for(lambda: not any(alive(pid) for pid in started), timeout=10), [
            pid for pid in started if alive(pid)
        ]
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
