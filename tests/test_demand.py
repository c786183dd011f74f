"""The demand review's arrays: any scope's history and forecast match the database."""

from __future__ import annotations

import numpy as np
import pytest

from sop_core import charts
from sop_core.data import db
from sop_core.demand.cube import load_demand_cube, next_weeks
from sop_core.demand.plan_base import load_plan_base
from sop_core.forecast.runs import latest_run


@pytest.fixture(scope="module")
def cube(forecast_db):
    with db.connect(forecast_db) as con:
        return load_demand_cube(con, load_plan_base(con, latest_run(con)))


def scalar(path, sql: str, *parameters) -> float:
    with db.connect(path) as con:
        return con.execute(sql, list(parameters)).fetchone()[0]


def test_a_family_series_sums_its_skus_history_and_forecast(cube, forecast_db):
    series = cube.series("family", "haircare")
    future = series[series["statistical"].notna()]
    assert len(future) == len(cube.base.weeks) and future["week"].is_monotonic_increasing
    forecast = scalar(
        forecast_db,
        "SELECT sum(forecast) FROM forecast_rows JOIN products USING (sku) "
        "WHERE family = 'haircare' AND run_id = (SELECT max(run_id) FROM forecast_runs)",
    )
    assert future["statistical"].sum() == pytest.approx(forecast)
    assert np.allclose(future["consensus"], future["statistical"])  # no overrides yet
    assert (future["lower_95"] <= future["lower_80"]).all()
    assert (future["lower_80"] <= future["statistical"] + 1e-6).all()
    assert (future["upper_80"] <= future["upper_95"]).all()
    last = series[series["actual"].notna()].iloc[-1]
    sold = scalar(
        forecast_db,
        "SELECT sum(units) FROM sales_history JOIN products USING (sku) "
        "WHERE family = 'haircare' AND week = ?",
        last["week"].date(),
    )
    assert last["actual"] == pytest.approx(sold)


def test_a_channel_scope_and_revenue(cube, forecast_db):
    channel = cube.choices("channel")[0]
    units = cube.series("channel", channel)
    money = cube.series("channel", channel, "revenue")
    total = cube.series("total", None)
    assert 0 < units["statistical"].sum() < total["statistical"].sum()
    revenue = scalar(
        forecast_db,
        "SELECT sum(units * net_price) FROM sales_history WHERE channel = ? AND week = ?",
        channel,
        units["week"][units["actual"].notna()].iloc[-1].date(),
    )
    assert money["actual"].dropna().iloc[-1] == pytest.approx(revenue)
    # Narrowing to one family by the sidebar leaves a part of the channel.
    narrowed = cube.series("channel", channel, families=("makeup",))
    assert 0 < narrowed["statistical"].sum() < units["statistical"].sum()


def test_promotion_weeks_and_the_13_week_table(cube, forecast_db):
    sku = scalar(
        forecast_db,
        "SELECT sku FROM promotions WHERE status = 'planned' ORDER BY start_week LIMIT 1",
    )
    series = cube.series("sku", sku)
    assert series["promoted"].any()
    table = next_weeks(series)
    assert len(table) == 13
    year_ago = series.set_index("week")["actual"]
    first = table.iloc[0]
    assert first["last_year"] == year_ago[first["week"] - np.timedelta64(52 * 7, "D")]
    figure = charts.demand_chart(series, "x")
    names = [trace.name for trace in figure.data]
    assert "promotion week" in names and "actual" in names
    assert len(figure.layout.shapes) == int(series["promoted"].sum()) + 1  # and the now-line
