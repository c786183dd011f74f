"""``forecast --engine dask``: the same numbers as the local engine on a real two-process
``LocalCluster``, a worker killed mid-run, a scheduler that is not there, a scheduler killed
mid-run, and the history read from a Parquet dataset by the workers themselves."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from sop_core.data.errors import InputError
from sop_core.data.sample import SampleConfig, build_sample_database
from sop_core.forecast.runs import refresh_forecast
from tests.conftest import AS_OF
from tests.helpers import ROOT, alive, descendants, run_cli, wait_for

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

# Ten SKUs of two years: eight regular (fitted on the workers), a launch and an intermittent one.
SMALL = SampleConfig(skus=10, weeks=104, seed=7, as_of=AS_OF)
# Everything a run stores per SKU, compared between engines.
STORED = {
    "forecast_rows": "sku, week",
    "forecast_models": "sku",
    "backtest_results": "sku, model, horizon",
    "driver_effects": "sku, driver",
}


def stored(path: Path, run_id: int) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            table: con.execute(
                f"SELECT * EXCLUDE (run_id) FROM {table} WHERE run_id = ? ORDER BY {order}",
                [run_id],
            ).df()
            for table, order in STORED.items()
        }


def runs(path: Path) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT * FROM forecast_runs ORDER BY run_id").df()


def assert_same_run(path: Path, local_run: int, dask_run: int) -> None:
    local, dask = stored(path, local_run), stored(path, dask_run)
    for table in STORED:
        pd.testing.assert_frame_equal(local[table], dask[table], check_exact=True, obj=table)


@pytest.fixture(scope="module")
def local_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small sample with one run of the local engine (run 1)."""
    path = tmp_path_factory.mktemp("dask") / "sop.duckdb"
    build_sample_database(path, SMALL)
    summary = refresh_forecast(path, jobs=2)
    assert summary.run_id == 1 and summary.skus_refit == 10
    return path


@pytest.fixture()
def db(local_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "sop.duckdb"
    shutil.copy(local_db, path)
    return path


@pytest.fixture(scope="module")
def cluster():
    """A real cluster of two worker processes (one thread each), with nannies that restart a
    killed worker."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as local_cluster:
        yield local_cluster


def test_dask_gives_the_local_engines_forecast_to_the_last_digit(db: Path, cluster):
    summary = refresh_forecast(
        db, jobs=2, reuse=False, engine="dask", scheduler=cluster.scheduler_address
    )
    assert summary.run_id == 2 and summary.skus == 10 and summary.skus_refit == 10
    assert_same_run(db, 1, 2)


class BatchStarted(distributed.WorkerPlugin):
    """Marks each forecast batch a worker starts with a file ``<pid>-<n>-<key>`` in
    ``folder``: the event the test waits for before killing that worker."""

    name = "batch-started"

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.count = 0

    def transition(self, key, start, finish, **kwargs) -> None:
        if finish == "executing" and str(key).startswith("sop-forecast-"):
            self.count += 1
            Path(self.folder, f"{os.getpid()}-{self.count}-{key}").touch()


def test_a_worker_killed_mid_run_leaves_a_complete_run_with_every_sku_once(
    db: Path, cluster, tmp_path: Path
):
    started = tmp_path / "started"
    started.mkdir()
    with distributed.Client(cluster, set_as_default=False) as client:
        client.register_plugin(BatchStarted(str(started)))
        outcome: dict = {}

        def run() -> None:
            try:
                outcome["summary"] = refresh_forecast(
                    db, jobs=2, reuse=False, engine="dask", scheduler=cluster.scheduler_address
                )
            except BaseException as error:  # reported by the assertion below
                outcome["error"] = error

        thread = threading.Thread(target=run)
        thread.start()
        try:
            assert wait_for(lambda: any(started.iterdir()), timeout=120, interval=0.02)
            victim = next(started.iterdir()).name
            os.kill(int(victim.split("-")[0]), signal.SIGKILL)
        finally:
            thread.join(timeout=300)
        client.unregister_worker_plugin("batch-started")
    assert "error" not in outcome, outcome.get("error")
    # The killed worker's batch ran again elsewhere.
    key = victim.split("-", 2)[2]
    assert sum(p.name.endswith(key) for p in started.iterdir()) >= 2
    models = stored(db, 2)["forecast_models"]
    assert len(models) == 10 and models["sku"].is_unique
    assert outcome["summary"].skus_refit == 10
    assert_same_run(db, 1, 2)


def test_a_scheduler_that_is_not_there_is_one_line_and_nothing_written(db: Path):
    before = runs(db)
    result = run_cli(
        "forecast",
        "--db",
        str(db),
        "--engine",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:1",
        "--force",
        "--quiet",
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: The Dask scheduler at tcp://127.0.0.1:1 cannot be reached")
    assert "nothing was written, the previous forecast stays current" in lines[0]
    pd.testing.assert_frame_equal(runs(db), before)


HOLD_SECONDS = 600
"""Upper bound on how long ``HeldAtStart`` holds a worker (the test releases it long before)."""
WAIT_SECONDS = 300
"""Upper bound on waiting for each event of a test on its own processes (never reached on a
machine that works, however loaded)."""


class HeldAtStart(distributed.WorkerPlugin):
    """Marks each forecast batch a worker starts with a file in ``folder/started``, and holds
    the worker once the batch has ended until ``folder/release`` exists: its event loop is
    held, so the batch's result cannot reach the scheduler, and a scheduler killed after the
    mark is killed mid-run however slow the machine."""

    name = "held-at-start"

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def transition(self, key, start, finish, **kwargs) -> None:
        if not str(key).startswith("sop-forecast-"):
            return
        if finish == "executing":
            Path(self.folder, "started", f"{os.getpid()}-{key}").touch()
        elif start == "executing":
            deadline = time.monotonic() + HOLD_SECONDS
            release = Path(self.folder, "release")
            while not release.exists() and time.monotonic() < deadline:
                time.sleep(0.05)


def _python(module: str, *args: str, log: Path) -> subprocess.Popen:
    """``python -m module ARGS`` from the repository root (so the workers import sop_core and
    this module's plugin), its output to ``log``."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def _address(scheduler_file: Path) -> str | None:
    """The scheduler's address once it has written its file whole, else None."""
    try:
        return json.loads(scheduler_file.read_text())["address"]
    except (OSError, ValueError, KeyError):
        return None


def test_a_scheduler_killed_mid_run_is_one_line_and_nothing_written(db: Path, tmp_path: Path):
    """A scheduler of its own process with two ``dask worker`` processes; the CLI's run sends
    its batch, a worker starts fitting it, and the scheduler is killed (SIGKILL)."""
    before = runs(db)
    (tmp_path / "started").mkdir()
    scheduler_file = tmp_path / "scheduler.json"
    processes: list[subprocess.Popen] = []
    cli = None
    children: set[int] = set()
    try:
        scheduler = _python(
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
            log=tmp_path / "scheduler.log",
        )
        processes.append(scheduler)
        assert wait_for(
            lambda: _address(scheduler_file) or scheduler.poll() is not None, timeout=WAIT_SECONDS
        ), (tmp_path / "scheduler.log").read_text()
        address = _address(scheduler_file)
        assert address, (tmp_path / "scheduler.log").read_text()
        for n in range(2):
            processes.append(
                _python(
                    "distributed.cli.dask_worker",
                    "--scheduler-file",
                    str(scheduler_file),
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    log=tmp_path / f"worker-{n}.log",
                )
            )
        with distributed.Client(address, timeout=WAIT_SECONDS, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=WAIT_SECONDS)
            # Kept by the scheduler for its workers after this client has gone.
            client.register_plugin(HeldAtStart(str(tmp_path)))
        with (tmp_path / "cli.out").open("w") as out, (tmp_path / "cli.err").open("w") as err:
            cli = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "sop_core",
                    "forecast",
                    "--db",
                    str(db),
                    "--engine",
                    "dask",
                    "--scheduler",
                    address,
                    "--force",
                    "--quiet",
                ],
                cwd=ROOT,
                stdout=out,
                stderr=err,
            )
        started = tmp_path / "started"
        assert wait_for(
            lambda: any(started.iterdir()) or cli.poll() is not None,
            timeout=WAIT_SECONDS,
            interval=0.02,
        )
        assert cli.poll() is None, (tmp_path / "cli.err").read_text()
        children = descendants(cli.pid)
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait(timeout=WAIT_SECONDS)
        code = cli.wait(timeout=WAIT_SECONDS)
        left_behind = [pid for pid in children if alive(pid)]
    finally:
        (tmp_path / "release").touch()
        started_pids = set(children)
        for process in [cli, *processes]:
            if process is not None:
                started_pids |= {process.pid, *descendants(process.pid)}
                if process.poll() is None:
                    process.kill()
                process.wait(timeout=WAIT_SECONDS)
        # A worker killed while it fits leaves no Stan process behind either.
        for pid in started_pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    stdout = (tmp_path / "cli.out").read_text()
    stderr = (tmp_path / "cli.err").read_text()
    assert code != 0, stdout + stderr
    assert stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"error: The Dask scheduler at {address} cannot be reached")
    assert "the connection to it was lost during the run" in lines[0]
    assert "nothing was written, the previous forecast stays current" in lines[0]
    pd.testing.assert_frame_equal(runs(db), before)
    assert not left_behind, "the CLI left processes running"


def test_workers_reading_a_parquet_history_give_the_same_forecast(
    db: Path, cluster, tmp_path: Path
):
    exported = tmp_path / "sales_history.parquet"
    result = run_cli("export", "--db", str(db), "--table", "sales_history", "--out", str(exported))
    assert result.returncode == 0, result.stderr
    # A folder of two files, split by SKU, as a dataset on shared storage would be.
    rows = pd.read_parquet(exported)
    folder = tmp_path / "history"
    folder.mkdir()
    skus = sorted(rows["sku"].unique())
    rows[rows["sku"].isin(skus[:5])].to_parquet(folder / "part-0.parquet")
    rows[~rows["sku"].isin(skus[:5])].to_parquet(folder / "part-1.parquet")
    summary = refresh_forecast(
        db,
        jobs=2,
        reuse=False,
        engine="dask",
        scheduler=cluster.scheduler_address,
        history=folder,
    )
    assert summary.run_id == 2 and summary.skus_refit == 10
    assert_same_run(db, 1, 2)


def test_the_cli_offers_the_engine_and_refuses_a_history_without_dask(db: Path, tmp_path: Path):
    help_text = run_cli("forecast", "--help").stdout
    for flag in ("--engine {local,dask}", "--scheduler ADDRESS", "--history PATH"):
        assert flag in help_text
    with pytest.raises(InputError, match="needs the dask engine"):
        refresh_forecast(db, reuse=False, history=tmp_path / "x.parquet")
    with pytest.raises(InputError, match="local or dask"):
        refresh_forecast(db, reuse=False, engine="spark")
    assert len(runs(db)) == 1
