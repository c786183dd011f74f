"""The figures pages show agree with the raw tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from sop_core.data.stores import master, production, sales
from sop_core.data.stores.sales import Scope

LAST = dt.date(2026, 11, 16)


@pytest.fixture(scope="module")
def con(sample_db_master: Path):
    connection = duckdb.connect(str(sample_db_master))
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def raw(con) -> pd.DataFrame:
    return con.execute("SELECT s.*, p.family FROM sales_history s JOIN products p USING (sku)").df()


def test_row_counts_match_the_tables(con):
    counts = master.table_row_counts(con).set_index("table")["rows"]
    assert counts["products"] == 40
    rows = con.execute("SELECT count(*) FROM sales_history").fetchone()[0]
    assert counts["sales_history"] == rows
    assert counts.index[0] == "schema_version"


def test_period_totals_match_a_direct_sum(con, raw):
    totals = sales.period_totals(con, Scope(), LAST, 13).set_index("period")
    window = raw[
        (raw["week"] > pd.Timestamp(LAST) - pd.Timedelta(weeks=13))
        & (raw["week"] <= pd.Timestamp(LAST))
    ]
    assert totals.loc["current", "units"] == pytest.approx(window["units"].sum())
    assert totals.loc["current", "revenue"] == pytest.approx(
        (window["units"] * window["net_price"]).sum()
    )
    year_ago = raw[
        (raw["week"] > pd.Timestamp(LAST) - pd.Timedelta(weeks=65))
        & (raw["week"] <= pd.Timestamp(LAST) - pd.Timedelta(weeks=52))
    ]
    assert totals.loc["last_year", "units"] == pytest.approx(year_ago["units"].sum())


def test_filters_narrow_the_figures(con, raw):
    everything = sales.weekly_sales_by_family(con, Scope())
    fragrance_online = sales.weekly_sales_by_family(con, Scope(("fragrance",), ("ecommerce",)))
    assert set(fragrance_online["family"]) == {"fragrance"}
    expected = raw[(raw["family"] == "fragrance") & (raw["channel"] == "ecommerce")]["units"].sum()
    assert fragrance_online["units"].sum() == pytest.approx(expected)
    assert everything["units"].sum() == pytest.approx(raw["units"].sum())


def test_family_channel_table_has_year_on_year_change(con):
    table = sales.totals_by_family_channel(con, Scope(), LAST, 52)
    assert len(table) == 15
    row = table.iloc[0]
    assert row["units_vs_last_year"] == pytest.approx(row["units"] / row["units_last_year"] - 1)


def test_available_hours_include_the_capacity_calendar(con):
    christmas = dt.date(2026, 12, 21)
    hours = production.available_hours(con, christmas, 1).set_index("line")
    lines = con.execute("SELECT line, standard_hours_per_week FROM production_lines").df()
    for line, standard in lines.itertuples(index=False):
        assert hours.loc[line, "available_hours"] == pytest.approx(0.4 * standard)


def test_utilisation_is_needed_over_available(con):
    load = production.line_utilisation_history(con, LAST, 52)
    assert load["week"].nunique() == 52
    ok = load[load["available_hours"] > 0]
    assert (ok["utilisation"] == ok["needed_hours"] / ok["available_hours"]).all()
    assert load.loc[load["available_hours"] == 0, "utilisation"].isna().all()


def test_promotion_lift_grows_with_depth(con):
    lift = sales.promotion_lift_by_depth(con, Scope())
    assert lift["median_lift"].iloc[-1] > lift["median_lift"].iloc[0] > 0


def test_planned_promotions_and_announced_prices_are_in_the_future(con):
    planned = sales.promotions_between(
        con, Scope(), LAST + dt.timedelta(weeks=1), LAST + dt.timedelta(weeks=13)
    )
    starts_later = planned["start_week"] > pd.Timestamp(LAST)
    assert starts_later.sum() > 0
    assert (planned.loc[starts_later, "status"] == "planned").all()
    assert (planned.loc[~starts_later, "end_week"] > pd.Timestamp(LAST)).all()  # still running
    prices = sales.price_changes_after(con, Scope(families=("skincare",)), LAST)
    assert len(prices) > 0 and set(prices["family"]) == {"skincare"}
    assert (prices["change"] > 0).all()


def test_inventory_cover_uses_latest_stock(con):
    cover = production.inventory_cover(con, Scope(), 13)
    assert len(cover) == 40
    row = cover.dropna(subset=["weeks_of_cover"]).iloc[0]
    expected = row["units_on_hand"] / row["average_weekly_units"]
    assert row["weeks_of_cover"] == pytest.approx(expected)


def test_company_facts(con):
    facts = master.company_facts(con)
    assert facts["company_name"] == "Aurora Cosmetics"
    assert facts["history_last_week"] == LAST
    assert facts["history_weeks"] == 160 and facts["skus"] == 40


def test_production_vs_sales_by_family(con):
    made = production.production_vs_sales(con, Scope(), LAST, 13)
    assert len(made) == 5
    assert (made["units_produced"] > 0).all() and (made["units_sold"] > 0).all()


def test_a_filter_matching_nothing_gives_zero_not_a_missing_period(con):
    totals = sales.period_totals(con, Scope(families=("no such family",)), LAST, 13)
    assert list(totals["period"]) == ["current", "last_year"]
    assert (totals["units"] == 0).all()


def test_family_filter_limits_lines_and_their_load(con):
    everything = production.line_utilisation_history(con, LAST, 13)
    fragrance = production.line_utilisation_history(con, LAST, 13, Scope(families=("fragrance",)))
    assert set(fragrance["line"]) < set(everything["line"])
    lines = production.line_overview(con, LAST, 13, Scope(families=("fragrance",)))
    assert set(lines["line"]) == set(fragrance["line"])
    used = production.hours_used(con, LAST, 52)
    assert (used["utilisation"] > 0.3).all() and (used["utilisation"] < 1.3).all()
