"""``evaluate``: the engine, its candidates and the peers scored on held-out weeks.

One small sample (12 SKUs, 120 weeks) and one run of the command (real forecast, real default
Prophet fits, the revised targets' second forecast) serve the module's checks; the scores are
checked against figures recomputed here from the database, so a wrong sum fails.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from sop_core.data.sample import SampleConfig, build_sample_database
from sop_core.forecast.engine import CANDIDATES
from tests.helpers import run_cli

pytestmark = pytest.mark.slow  # two forecasts and a dozen default Prophet fits

HOLDOUT = 13


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("evaluate") / "small.duckdb"
    build_sample_database(
        path, SampleConfig(skus=12, weeks=120, seed=5, as_of=dt.date(2026, 11, 25))
    )
    return path


@pytest.fixture(scope="module")
def evaluated(small_db: Path) -> tuple[dict, str, str]:
    before = hashlib.sha256(small_db.read_bytes()).hexdigest()
    result = run_cli(
        "evaluate",
        "--db",
        str(small_db),
        "--holdout",
        str(HOLDOUT),
        "--json",
        "--jobs",
        "2",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), before, hashlib.sha256(small_db.read_bytes()).hexdigest()


def test_every_name_is_scored_overall_and_per_family(evaluated):
    figures, _, _ = evaluated
    assert figures["holdout_weeks"] == HOLDOUT
    names = {"selected", "seasonal_naive", "prophet_default", *CANDIDATES}
    assert names <= set(figures["overall"])
    for scores in figures["overall"].values():
        assert set(scores) == {"wape", "bias", "mase"}
        assert scores["wape"] > 0 and abs(scores["bias"]) < scores["wape"] + 1e-9
    families = {entry["family"] for entry in figures["by_family"]}
    assert len(families) == 5
    assert sum(entry["skus"] for entry in figures["by_family"]) == figures["skus"] == 12
    assert all(names <= set(entry) for entry in figures["by_family"])
    assert sum(figures["models"].values()) == 12


def test_the_seasonal_naive_score_is_what_the_history_says(evaluated, small_db):
    figures, _, _ = evaluated
    con = duckdb.connect(str(small_db), read_only=True)
    try:
        weekly = con.execute(
            "SELECT sku, week, sum(units) AS units FROM sales_history GROUP BY ALL ORDER BY 1, 2"
        ).df()
    finally:
        con.close()
    grid = weekly.pivot(index="week", columns="sku", values="units").asfreq("7D")
    cutoff = grid.index[-1 - HOLDOUT]
    history, held_out = grid[grid.index <= cutoff], grid[grid.index > cutoff]
    error = actual = 0.0
    for sku in grid.columns:
        past = history[sku].loc[history[sku].first_valid_index() :].fillna(0.0)
        sold = held_out[sku].fillna(0.0).to_numpy()
        # The same week a year earlier; the last week's units with less than a year.
        naive = (
            past.to_numpy()[-52:][:HOLDOUT] if len(past) >= 52 else np.full(HOLDOUT, past.iloc[-1])
        )
        error += float(np.abs(naive - sold).sum())
        actual += float(sold.sum())
    assert figures["overall"]["seasonal_naive"]["wape"] == pytest.approx(error / actual, abs=1e-4)


def test_the_engine_beats_the_peers_and_the_database_is_only_read(evaluated):
    figures, before, after = evaluated
    overall = figures["overall"]
    assert overall["selected"]["wape"] < 0.8 * overall["seasonal_naive"]["wape"]
    assert overall["selected"]["wape"] < overall["prophet_default"]["wape"]
    assert before == after


def test_the_revised_targets_are_scored_as_the_holdout_command_does(evaluated):
    targets = evaluated[0]["revised_targets"]
    assert targets["weeks"] == HOLDOUT
    assert targets["wape_promoted_revised"] < targets["wape_promoted_baseline"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--holdout", "80"], "needs a year of history before it"),
        (["--holdout", "0"], "argument --holdout"),
    ],
)
def test_a_holdout_the_history_cannot_give_is_refused_clearly(small_db, args, message):
    result = run_cli("evaluate", "--db", str(small_db), *args, "--quiet")
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_missing_database_is_named(tmp_path):
    result = run_cli("evaluate", "--db", str(tmp_path / "nope.duckdb"), "--quiet")
    assert result.returncode != 0 and "nope.duckdb" in result.stderr
    assert "Traceback" not in result.stderr
