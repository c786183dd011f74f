"""Killed work leaves nothing behind: no forecast worker outlives its parent, no temporary
database outlives a killed ``init``, no interrupted import leaves the file grown."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.helpers import ROOT, descendants, outlived, reap, wait_for

# The dashboard's refresh, as its job's process runs it (``sop_core.jobs.worker``, started by
# ``sop_ui.widgets.refresh_forecast_with_progress``): ``refresh_forecast(path, progress=...)``
# with the default number of workers. Each progress message goes to stdout, so the test can
# wait for fitting.
APP_REFRESH = """
import sys
from sop_core.forecast.runs import refresh_forecast

def progress(fraction, message):
    print(message, flush=True)

refresh_forecast(sys.argv[1], progress=progress, reuse=False)
"""


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
        left = outlived(process, started, getattr(signal, stop))
        assert not left, f"still running 10 s after {stop}: {left}"
    finally:
        reap(process, started)
    if stop == "SIGTERM":
        error = process.stderr.read().strip().splitlines()
        assert process.returncode == 128 + signal.SIGTERM
        assert error[-1] == "error: stopped (SIGTERM); the step in progress was not saved"
        assert "Traceback" not in "\n".join(error)


@pytest.mark.slow
def test_a_killed_app_refresh_leaves_no_process(sample_db: Path) -> None:
    """The dashboard's refresh killed mid-fit (its job's process stopped hard): its workers go
    too.

    A small process runs the refresh the way the job does; the real server, refresh pressed in
    Chromium and the server killed (the job finishes all the same), is
    ``tests/test_browser.py::test_a_refresh_outlives_a_killed_server_then_leaves_no_process``."""
    linux_only()
    process, started = start_until_fitting(
        [sys.executable, "-c", APP_REFRESH, str(sample_db)], "stdout"
    )
    try:
        assert len(started) >= 3, started
        left = outlived(process, started, signal.SIGKILL)
        assert not left, f"still running 10 s after SIGKILL: {left}"
    finally:
        reap(process, started)


# ---- temporary databases of a killed init ------------------------------------------------------


def dead_pid() -> int:
    """The id of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.slow
def test_the_next_init_removes_what_a_killed_init_left(tmp_path: Path) -> None:
    from tests.helpers import hold_lock, run_cli

    target = tmp_path / "sop.duckdb"
    pid = dead_pid()
    # What a killed ``init --force`` leaves: its half-written database and WAL.
    leftover = tmp_path / f".sop.duckdb.tmp-{pid}-123456"
    duckdb.connect(str(leftover)).execute("CREATE TABLE half_written (x INTEGER)").close()
    leftover_wal = tmp_path / f".sop.duckdb.tmp-{pid}-123456.wal"
    leftover_wal.write_bytes(b"wal")
    # Not ours to remove: another file's temporary, another name, one a process holds.
    others = [
        tmp_path / f".other.duckdb.tmp-{pid}-1",
        tmp_path / f".sop.duckdb.tmp-{pid}-notes",
        tmp_path / "sop.duckdb.tmp-1-2",
    ]
    for other in others:
        other.write_text("keep")
    held = tmp_path / f".sop.duckdb.tmp-{pid}-999"
    holder = hold_lock(held, 30)
    try:
        result = run_cli("init", "--db", str(target), "--empty")
        assert result.returncode == 0, result.stderr
        assert not leftover.exists() and not leftover_wal.exists()
        assert all(other.exists() for other in others)
        assert held.exists()
    finally:
        holder.kill()
        holder.wait()
    # Nothing else went: the held file's own WAL stays with it.
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != f"{held.name}.wal")
    assert left == sorted([target.name, held.name, *(o.name for o in others)])


@pytest.mark.slow
def test_a_killed_init_leaves_nothing_after_the_next_one(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    target = tmp_path / "sop.duckdb"
    command = [sys.executable, "-m", "sop_core", "init", "--db", str(target), "--quiet"]
    process = subprocess.Popen([*command, "--skus", "120"], cwd=ROOT)
    try:
        # Killed while it writes its temporary database.
        assert wait_for(lambda: any(tmp_path.glob(".sop.duckdb.tmp-*")), timeout=60)
        process.kill()
    finally:
        process.wait()
    assert list(tmp_path.glob(".sop.duckdb.tmp-*")) and not target.exists()
    result = run_cli("init", "--db", str(target), "--empty")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["sop.duckdb"]
