"""Shared fixtures: one real sample database per test run, built with a fixed date.

The test command uses every core (pytest-xdist, see ``pytest_cmdline_main`` below). The
session databases are expensive (a real Prophet forecast, past runs), so with several workers
the first worker that needs one builds it, under a file lock, where all workers can see it;
every worker then takes its own copy, so a test that opens one for writing never blocks a
test in another worker.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sop_core.data.sample import SampleConfig, build_sample_database  # noqa: E402

AS_OF = dt.date(2026, 11, 25)
SAMPLE = SampleConfig(skus=40, weeks=160, seed=7, as_of=AS_OF)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """``python -m pytest`` runs on every core: ``-n auto --dist loadfile``, unless the
    command line says otherwise (``-n 0`` or ``-p no:xdist``: one process).

    Set here, not in ``addopts``, so that ``-p no:xdist`` and a Python without pytest-xdist
    still run the suite instead of failing on an unknown ``-n``. By file: a module's fixtures
    (the browser tests' server and Chromium) are then built once. In the order of
    ``pytest_collection_modifyitems`` below, not xdist's (the files with most tests first).
    """
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    if config.option.numprocesses is None and not config.option.tx:
        config.option.numprocesses = "auto"
        if config.option.dist == "no":
            config.option.dist = "loadfile"
            config.option.loadscopereorder = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With several workers, the files with the most browser and slow tests go first (a file
    is a worker's unit of work), each file's tests in their order: the long files start early
    and the short ones fill the end, rather than one worker ending on a long file while the
    other has nothing left to do."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return
    long_tests = Counter(
        item.path
        for item in items
        if item.get_closest_marker("browser") or item.get_closest_marker("slow")
    )
    items.sort(key=lambda item: -long_tests[item.path])


def _built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """A database ``build`` writes, built once per test run; this worker's own copy of it.

    Without xdist this is just ``build`` into a fresh folder (pytest caches the fixture).
    With xdist the folder above every worker's base folder belongs to this run alone; a
    ``done`` mark written after the build tells the workers that come later (or after a
    failed build, the next one to try) that the file is whole.
    """
    own = tmp_path_factory.mktemp(name) / "sop.duckdb"
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        build(own)
        return own
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    with FileLock(f"{shared}.lock"):
        if not (shared / "done").exists():
            shutil.rmtree(shared, ignore_errors=True)
            shared.mkdir()
            build(shared / "sop.duckdb")
            (shared / "done").touch()
    shutil.copy(shared / "sop.duckdb", own)
    return own


@pytest.fixture(scope="session")
def sample_db_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default sample company, built once; copy it before writing to it."""
    return _built_once(tmp_path_factory, "master", lambda path: build_sample_database(path, SAMPLE))


@pytest.fixture()
def sample_db(sample_db_master: Path, tmp_path: Path) -> Path:
    """A private copy of the sample database for one test."""
    path = tmp_path / "sop.duckdb"
    shutil.copy(sample_db_master, path)
    return path


@pytest.fixture()
def app_env(forecast_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the dashboard at a private copy of the sample database with its forecast."""
    path = tmp_path / "app.duckdb"
    shutil.copy(forecast_db, path)
    monkeypatch.setenv("SOP_DB", str(path))
    monkeypatch.setenv("SOP_SAMPLE_AS_OF", AS_OF.isoformat())
    return path


@pytest.fixture(scope="session")
def forecast_db(tmp_path_factory: pytest.TempPathFactory, sample_db_master: Path) -> Path:
    """The default sample with one forecast run (real Prophet fits), built once."""
    from sop_core.forecast.runs import refresh_forecast

    def build(path: Path) -> None:
        shutil.copy(sample_db_master, path)
        refresh_forecast(path, jobs=2)

    return _built_once(tmp_path_factory, "forecast", build)


@pytest.fixture(scope="module")
def base(forecast_db: Path):
    """The sample's plan base (``load_plan_base``) on its forecast, once per test module (its
    caches of lever cells and history ranges stay in the module that filled them)."""
    from sop_core.data import db
    from sop_core.demand.plan_base import load_plan_base

    with db.connect(forecast_db) as con:
        return load_plan_base(con, 1)


@pytest.fixture(scope="session")
def backfilled_db(tmp_path_factory: pytest.TempPathFactory, forecast_db: Path) -> Path:
    """The sample with its forecast and three past runs (as of 2, 4 and 6 weeks before the
    end of the history), for accuracy by lag; built once."""
    from sop_core.forecast.runs import backfill_runs

    def build(path: Path) -> None:
        shutil.copy(forecast_db, path)
        backfill_runs(path, 3, 2, jobs=2)

    return _built_once(tmp_path_factory, "backfilled", build)
