"""Forecast accuracy by lag: hand-checked numbers on a tiny database, then the real sample.

The tiny company has 70 weeks of history (week index 0..69, Mondays from 2024-01-01):

- A (face, brand North, retail): 10 a week, 12 from week 52; net price 8, then 11.
- B (face, brand South, half retail, half online): 20 a week, 24 from week 52; net price 20.
- C (body, brand South, online): 40 a week, 50 from week 52; net price 5.
- D (body, brand North, retail): 5 a week from week 20 to 59, nothing after; no net price,
  list price 30. Too young for a seasonal naive in the forecast weeks.

Runs: 1 and 2 as of week 65 (2 is the newer, 1 must be ignored), 3 as of week 67; each
forecasts 6 weeks, so weeks 70 and later are not closed yet.
"""

from __future__ import annotations

import datetime as dt
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sop_core.data import db
from sop_core.data.errors import InputError
from sop_core.demand import accuracy
from sop_core.forecast import metrics
from sop_core.forecast.runs import backfill_runs

START = dt.date(2024, 1, 1)
WEEKS = 70
HORIZON = 6
O1, O2 = 65, 67


def monday(index: int) -> dt.date:
    return START + dt.timedelta(weeks=index)


def sales_rows() -> pd.DataFrame:
    rows = []
    for t in range(WEEKS):
        grown = t >= 52
        rows.append((t, "A", "retail", 12 if grown else 10, 11.0 if grown else 8.0))
        rows.append((t, "B", "retail", 12 if grown else 10, 20.0))
        rows.append((t, "B", "online", 12 if grown else 10, 20.0))
        rows.append((t, "C", "online", 50 if grown else 40, 5.0))
        if 20 <= t < 60:
            rows.append((t, "D", "retail", 5, None))
    frame = pd.DataFrame(rows, columns=["t", "sku", "channel", "units", "net_price"])
    frame["week"] = [monday(t) for t in frame.pop("t")]
    return frame


# run -> (history_end index, model of A, forecast per SKU, channel shares per SKU)
RUNS = {
    1: (O1, "prophet", {"A": 999, "B": 999, "C": 999, "D": 999}, None),
    2: (O1, "prophet", {"A": 15, "B": 21, "C": 60, "D": 2}, None),
    # Run 3 gives B no online share although B sells online.
    3: (O2, "theta", {"A": 14, "B": 24, "C": 45, "D": 1}, {"B": {"retail": 1.0}}),
}
SHARES = {
    "A": {"retail": 1.0, "online": 0.0},
    "B": {"retail": 0.5, "online": 0.5},
    "C": {"online": 1.0},
    "D": {"retail": 1.0},
}


def fill(con, runs: dict) -> None:
    db.insert_frame(
        con,
        "products",
        pd.DataFrame(
            {
                "sku": ["A", "B", "C", "D"],
                "name": ["Alpha", "Beta", "Gamma", "Delta"],
                "family": ["face", "face", "body", "body"],
                "brand": ["North", "South", "South", "North"],
                "list_price": [9.0, 25.0, 6.0, 30.0],
                "unit_variable_cost": [1.0, 1.0, 1.0, 1.0],
                "standard_batch_size": [100.0] * 4,
            }
        ),
    )
    db.insert_frame(con, "sales_history", sales_rows())
    for run_id, (origin, model, forecasts, shares) in runs.items():
        con.execute(
            "INSERT INTO forecast_runs (run_id, fingerprint, parameters, horizon, history_end, "
            "first_week, skus, skus_refit, jobs, seconds_total, seconds_models) "
            "VALUES (?, 'f', '{}', ?, ?, ?, 4, 4, 1, 0, 0)",
            [run_id, HORIZON, monday(origin), monday(origin + 1)],
        )
        for sku, value in forecasts.items():
            served = model if sku == "A" else "ensemble"
            for step in range(1, HORIZON + 1):
                con.execute(
                    "INSERT INTO forecast_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run_id, sku, monday(origin + step), value, 0, value, 0, value, served],
                )
            con.execute(
                "INSERT INTO forecast_models VALUES "
                "(?, ?, 'regular', ?, 'test', 'f', 60, true, NULL, NULL)",
                [run_id, sku, served],
            )
            for channel, share in ((shares or {}).get(sku) or SHARES[sku]).items():
                con.execute(
                    "INSERT INTO forecast_channel_shares VALUES (?, ?, ?, ?)",
                    [run_id, sku, channel, share],
                )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    path = tmp_path_factory.mktemp("accuracy") / "tiny.duckdb"
    db.ensure_schema(path)
    with db.transaction(path) as con:
        fill(con, RUNS)
    with db.connect(path) as con:
        return accuracy.lag_frame(con), accuracy.history_frame(con)


def by_lag(tiny, **scope) -> pd.DataFrame:
    frame, history = tiny
    return accuracy.accuracy_by_lag(frame, history, **scope).set_index("lag")


# Total series: 70 before week 20, 75 to week 51, 91 to week 59, 86 after. Seasonal gaps
# |y_t - y_{t-52}|: 21 for t = 52..59, 16 for t = 60..71.
TOTAL_SCALE = {O1: (8 * 21 + 6 * 16) / 14, O2: (8 * 21 + 8 * 16) / 16}


def test_lags_count_from_the_origin_and_only_closed_weeks_of_the_newest_runs(tiny):
    frame, _ = tiny
    assert list(frame.columns) == accuracy.LAG_COLUMNS
    assert set(frame["run_id"]) == {2, 3}
    assert frame["statistical"].max() < 999
    assert pd.Timestamp(frame["week"].max()) == pd.Timestamp(monday(WEEKS - 1))
    lags = frame.groupby("run_id")["lag"].agg(["min", "max"])
    assert lags.loc[2].tolist() == [1, 4] and lags.loc[3].tolist() == [1, 2]
    first = frame[(frame["run_id"] == 2) & (frame["lag"] == 1)]
    assert set(first["week"].map(pd.Timestamp)) == {pd.Timestamp(monday(O1 + 1))}
    assert (frame["consensus"] == frame["statistical"]).all()


def test_cells_split_the_forecast_by_channel_and_keep_unshared_channels(tiny):
    frame, _ = tiny
    cells = frame.set_index(["run_id", "sku", "channel", "lag"])
    b2 = cells.loc[(2, "B", "online", 1)]
    assert b2["statistical"] == pytest.approx(10.5) and b2["actual"] == 12
    # Run 3 has no online share for B: its online sales still count, forecast 0 there.
    b3 = cells.loc[(3, "B", "online", 1)]
    assert b3["statistical"] == 0 and b3["actual"] == 12
    # D stopped selling at week 60: no row is an actual of 0.
    assert cells.loc[(2, "D", "retail", 1)]["actual"] == 0
    assert cells.loc[(3, "A", "retail", 1)]["model"] == "theta"
    assert cells.loc[(2, "A", "retail", 1)]["model"] == "prophet"


def test_seasonal_naive_is_the_same_week_a_year_earlier(tiny):
    frame, _ = tiny
    cells = frame.set_index(["run_id", "sku", "channel", "lag"])
    assert cells.loc[(2, "A", "retail", 1)]["naive"] == 10  # week 66 -> week 14
    assert cells.loc[(2, "C", "online", 3)]["naive"] == 40
    assert cells.loc[(2, "A", "online", 1)]["naive"] == 0  # inside A's life, no sales
    assert np.isnan(cells.loc[(2, "D", "retail", 1)]["naive"])  # week 14: D not launched


def test_price_is_the_units_weighted_net_price_else_the_list_price(tiny):
    frame, _ = tiny
    price = frame.groupby("sku")["price"].first()
    assert price["A"] == pytest.approx((52 * 10 * 8 + 18 * 12 * 11) / (52 * 10 + 18 * 12))
    assert price["B"] == pytest.approx(20) and price["D"] == pytest.approx(30)


def test_total_accuracy_by_lag_by_hand(tiny):
    # Forecast total 98 (run 2) and 84 (run 3) against 86 sold; naive covers A, B, C: 70.
    result = by_lag(tiny)
    assert list(result.reset_index().columns) == accuracy.LAG_METRICS
    assert result["weeks"].tolist() == [2, 2, 1, 1]
    for lag in (1, 2):
        row = result.loc[lag]
        assert row["wape"] == pytest.approx(14 / 172)
        assert row["bias"] == pytest.approx(10 / 172)
        assert row["mase"] == pytest.approx((12 / TOTAL_SCALE[O1] + 2 / TOTAL_SCALE[O2]) / 2)
        assert row["naive_wape"] == pytest.approx(32 / 172)
        assert row["naive_bias"] == pytest.approx(-32 / 172)
        assert row["naive_mase"] == pytest.approx((16 / TOTAL_SCALE[O1] + 16 / TOTAL_SCALE[O2]) / 2)
    for lag in (3, 4):
        row = result.loc[lag]
        assert row["wape"] == pytest.approx(12 / 86) and row["bias"] == pytest.approx(12 / 86)
        assert row["mase"] == pytest.approx(12 / TOTAL_SCALE[O1])
        assert row["naive_wape"] == pytest.approx(16 / 86)
    assert by_lag(tiny, lags=[3]).index.tolist() == [3]


def test_scale_is_taken_on_the_summed_history_up_to_each_origin(tiny):
    _, history = tiny
    origins = [monday(O1), monday(O2)]
    scale = accuracy.seasonal_naive_scale(history, origins)
    assert scale.tolist() == pytest.approx([TOTAL_SCALE[O1], TOTAL_SCALE[O2]])
    # Family face: 30 then 36, so every gap is 6 (not A's 2 plus B's 4 by luck: check A too).
    assert accuracy.seasonal_naive_scale(history, origins, "family", "face").tolist() == [6, 6]
    assert accuracy.seasonal_naive_scale(history, origins, "sku", "A").tolist() == [2, 2]
    # D is younger than a season at both origins: no scale.
    assert accuracy.seasonal_naive_scale(history, origins, "sku", "D").isna().all()


def test_the_scope_scale_is_the_backtests_scale_of_the_summed_series(tiny):
    # One MASE: accuracy by lag scales a scope as the backtest scales a SKU's history.
    _, history = tiny
    total = history.groupby("week")["units"].sum().sort_index().to_numpy()
    for origin in (O1, O2):
        scale = metrics.seasonal_naive_scale(total[: origin + 1])
        assert scale == pytest.approx(TOTAL_SCALE[origin])
        assert accuracy.seasonal_naive_scale(history, [monday(origin)]).iloc[0] == scale


def test_errors_that_cancel_within_a_family_do_not_count_against_it(tiny):
    # Run 2 (the only run at lags 3 and 4): A over by 3, B under by 3.
    family = by_lag(tiny, level="family", value="face", lags=[3, 4])
    assert family["wape"].tolist() == [0, 0] and family["mase"].tolist() == [0, 0]
    assert by_lag(tiny, level="sku", value="A", lags=[3])["wape"].iloc[0] == pytest.approx(0.25)
    assert by_lag(tiny, level="sku", value="B", lags=[3])["wape"].iloc[0] == pytest.approx(0.125)
    # Channel scope: B's retail half, 10.5 against 12.
    retail = by_lag(tiny, level="channel", value="retail", lags=[3])
    # Retail: A 15 vs 12, B 10.5 vs 12, D 2 vs 0.
    assert retail["wape"].iloc[0] == pytest.approx(abs(15 + 10.5 + 2 - 24) / 24)


def test_a_scope_without_sales_gives_nan_not_an_error(tiny):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = by_lag(tiny, level="sku", value="D")
        sku_list = accuracy.accuracy_by_sku(*tiny, level="sku", value="D")
        added = accuracy.value_added(*tiny, level="sku", value="D")
        nowhere = by_lag(tiny, level="family", value="no such family")
    assert result["weeks"].tolist() == [2, 2, 1, 1]
    assert result[["wape", "bias", "mase", "naive_wape", "naive_mase"]].isna().all().all()
    assert np.isnan(sku_list["wape"].iloc[0]) and sku_list["error_units"].iloc[0] == 10
    assert added["wape"].isna().all() and added["weeks"].tolist() == [0, 0, 0]
    assert nowhere.empty and list(nowhere.reset_index().columns) == accuracy.LAG_METRICS


def test_exception_list_ranks_by_error_times_price(tiny):
    result = accuracy.accuracy_by_sku(*tiny)
    assert list(result.columns) == accuracy.SKU_METRICS
    # Units off (all lags): A 4x3 + 2x2 = 16, B 4x3 = 12, C 4x10 + 2x5 = 50, D 4x2 + 2x1 = 10.
    errors = result.set_index("sku")["error_units"]
    assert errors.to_dict() == pytest.approx({"A": 16, "B": 12, "C": 50, "D": 10})
    assert result["sku"].tolist() == ["D", "C", "B", "A"]
    impact = result.set_index("sku")["impact"]
    assert impact["D"] == pytest.approx(300) and impact["B"] == pytest.approx(240)
    a = result.set_index("sku").loc["A"]
    assert a["wape"] == pytest.approx(16 / 72) and a["bias"] == pytest.approx(16 / 72)
    assert a["mase"] == pytest.approx(16 / 6 / 2) and a["naive_wape"] == pytest.approx(1 / 6)
    assert a["model"] == "theta" and a["family"] == "face" and a["weeks"] == 6
    lag3 = accuracy.accuracy_by_sku(*tiny, lag=3, level="family", value="face")
    assert lag3["sku"].tolist() == ["B", "A"] and lag3["weeks"].tolist() == [1, 1]


def test_value_added_compares_the_steps_on_the_same_cells(tiny):
    # Cells with a naive value: A, B, C. Naive 70, statistical 96 (run 2) or 83 (run 3),
    # against 86, over 4 + 2 origin-weeks.
    result = accuracy.value_added(*tiny).set_index("step")
    assert result.index.tolist() == ["naive", "statistical", "consensus"]
    assert result.loc["naive", "wape"] == pytest.approx(96 / 516)
    assert result.loc["naive", "bias"] == pytest.approx(-96 / 516)
    assert result.loc["statistical", "wape"] == pytest.approx(46 / 516)
    assert result.loc["statistical", "bias"] == pytest.approx(34 / 516)
    assert result.loc["statistical", "wape_gain_vs_previous"] == pytest.approx(50 / 516)
    assert result.loc["consensus", "wape_gain_vs_previous"] == 0
    assert np.isnan(result.loc["naive", "wape_gain_vs_previous"])
    assert result.loc["naive", "mase"] == pytest.approx(
        (4 * 16 / TOTAL_SCALE[O1] + 2 * 16 / TOTAL_SCALE[O2]) / 6
    )
    assert result["weeks"].tolist() == [6, 6, 6]


def test_bad_scope_is_a_clear_error(tiny):
    with pytest.raises(InputError, match="Unknown level"):
        accuracy.accuracy_by_lag(*tiny, level="region", value="north")
    with pytest.raises(InputError, match="Name the family"):
        accuracy.accuracy_by_sku(*tiny, level="family")
    with pytest.raises(InputError, match="Unknown forecast"):
        accuracy.accuracy_by_lag(*tiny, forecast="budget")


def test_no_closed_forecast_week_gives_an_empty_frame(tmp_path: Path):
    path = tmp_path / "fresh.duckdb"
    db.ensure_schema(path)
    with db.transaction(path) as con:
        fill(con, {4: (WEEKS - 1, "theta", {"A": 12}, None)})
    with db.connect(path) as con:
        frame = accuracy.lag_frame(con)
        history = accuracy.history_frame(con)
    assert frame.empty and list(frame.columns) == accuracy.LAG_COLUMNS
    assert accuracy.accuracy_by_lag(frame, history).empty
    assert accuracy.accuracy_by_sku(frame, history).empty


@pytest.mark.slow
def test_backfilled_sample_runs_beat_the_seasonal_naive(forecast_db: Path, tmp_path: Path):
    path = tmp_path / "sop.duckdb"
    shutil.copy(forecast_db, path)
    backfill_runs(path, 2, 2, jobs=2)
    with db.connect(path) as con:
        frame = accuracy.lag_frame(con)
        history = accuracy.history_frame(con)
        rows = con.execute("SELECT run_id, sku, week, forecast FROM forecast_rows").df()
    # The current run has no closed week; the two past runs closed 4 and 2 weeks.
    assert sorted(frame["lag"].unique()) == [1, 2, 3, 4]
    assert frame["origin"].nunique() == 2
    # Channel shares split each SKU's forecast without losing any of it.
    split = frame.groupby(["run_id", "sku", "week"])["statistical"].sum().reset_index()
    joined = split.merge(rows, on=["run_id", "sku", "week"])
    assert len(joined) == len(split)
    assert joined["statistical"].to_numpy() == pytest.approx(joined["forecast"].to_numpy())

    by_lag = accuracy.accuracy_by_lag(frame, history)
    assert by_lag["lag"].tolist() == [1, 2, 3, 4] and by_lag["weeks"].tolist() == [2, 2, 1, 1]
    assert ((by_lag["wape"] > 0) & (by_lag["wape"] < 1)).all()
    assert (by_lag["mase"] > 0).all() and by_lag["naive_wape"].notna().all()
    added = accuracy.value_added(frame, history).set_index("step")
    assert added.loc["statistical", "wape"] < added.loc["naive", "wape"]
    assert added.loc["statistical", "mase"] < added.loc["naive", "mase"]

    exceptions = accuracy.accuracy_by_sku(frame, history)
    assert len(exceptions) == 40
    assert exceptions["impact"].is_monotonic_decreasing
    # The top few SKUs carry a large share of the money at stake: the meeting's short list.
    assert exceptions["impact"].head(10).sum() > 0.5 * exceptions["impact"].sum()


def test_value_added_scores_the_overrides_in_force_at_each_origin(tmp_path):
    """An override made in the cycle of origin 65 (family face +10 units a week over the
    first two forecast weeks) lifts that origin's consensus; one made later does not count."""
    from sop_core.demand.consensus import Override, add_override
    from sop_core.demand.plan_base import load_plan_base

    path = tmp_path / "tiny.duckdb"
    db.ensure_schema(path)
    with db.transaction(path) as con:
        fill(con, RUNS)
    with db.connect(path) as con:
        base = load_plan_base(con, 2)
    change = Override("family", "face", monday(O1 + 1), monday(O1 + 2), "units", 10, "why", "Ana")
    add_override(path, base, base.statistical_by_channel, change, run_id=2, cycle=monday(O1))
    later = Override("total", None, monday(O1 + 1), monday(O1 + 6), "percent", 50, "late", "Ben")
    add_override(path, base, base.statistical_by_channel, later, run_id=2, cycle=monday(O2))
    with db.connect(path) as con:
        frame = accuracy.with_consensus(con, accuracy.lag_frame(con))
        history = accuracy.history_frame(con)
    at_o1 = frame[frame["origin"] == pd.Timestamp(monday(O1))]
    moved = (at_o1["consensus"] - at_o1["statistical"]).groupby(at_o1["lag"]).sum()
    # The later override (cycle O2) counts for origin O2 only.
    assert moved.loc[1] == pytest.approx(10) and moved.loc[2] == pytest.approx(10)
    assert moved.loc[3:].abs().sum() == pytest.approx(0)
    # At O2 both are in force; the first covers no week O2 forecast, the second lifts all.
    at_o2 = frame[frame["origin"] == pd.Timestamp(monday(O2))]
    assert at_o2["consensus"].sum() == pytest.approx(1.5 * at_o2["statistical"].sum())
    steps = accuracy.value_added(frame, history, "family", "face").set_index("step")
    assert steps.loc["consensus", "wape"] != steps.loc["statistical", "wape"]
