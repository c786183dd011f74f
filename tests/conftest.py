"""Shared fixtures: one real sample database per test session, built with a fixed date."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sop_core.data.sample import SampleConfig, build_sample_database  # noqa: E402

AS_OF = dt.date(2026, 11, 25)
SAMPLE = SampleConfig(skus=40, weeks=160, seed=7, as_of=AS_OF)


@pytest.fixture(scope="session")
def sample_db_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default sample company, built once; copy it before writing to it."""
    path = tmp_path_factory.mktemp("master") / "sop.duckdb"
    build_sample_database(path, SAMPLE)
    return path


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

    path = tmp_path_factory.mktemp("forecast") / "sop.duckdb"
    shutil.copy(sample_db_master, path)
    refresh_forecast(path, jobs=2)
    return path


@pytest.fixture(scope="session")
def backfilled_db(tmp_path_factory: pytest.TempPathFactory, forecast_db: Path) -> Path:
    """The sample with its forecast and three past runs (as of 2, 4 and 6 weeks before the
    end of the history), for accuracy by lag; built once."""
    from sop_core.forecast.runs import backfill_runs

    path = tmp_path_factory.mktemp("backfilled") / "sop.duckdb"
    shutil.copy(forecast_db, path)
    backfill_runs(path, 3, 2, jobs=2)
    return path
