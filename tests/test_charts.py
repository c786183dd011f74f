from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from sop_core import charts
from sop_core.data.stores import production, sales
from sop_core.data.stores.sales import Scope


@pytest.fixture(scope="module")
def con(sample_db_master: Path):
    connection = duckdb.connect(str(sample_db_master))
    yield connection
    connection.close()


def test_history_chart_has_one_trace_per_family_and_holiday_marks(con):
    figure = charts.weekly_history_chart(sales.weekly_sales_by_family(con, Scope()))
    names = [trace.name for trace in figure.data]
    assert names[:5] == ["body care", "fragrance", "haircare", "makeup", "skincare"]
    assert names[-1] == "holiday"
    holidays = figure.data[-1]
    assert "Black Friday" in set(holidays.text) and "Christmas" in set(holidays.text)
    assert figure.layout.font.size >= 16


def test_history_chart_follows_the_filter(con):
    figure = charts.weekly_history_chart(
        sales.weekly_sales_by_family(con, Scope(families=("fragrance",)))
    )
    assert [t.name for t in figure.data] == ["fragrance", "holiday"]


def test_heatmap_grid_is_lines_by_weeks(con):
    load = production.line_utilisation_history(con, dt.date(2026, 11, 16), 52)
    figure = charts.utilisation_heatmap(load, "Utilisation")
    heat = figure.data[0]
    assert len(heat.z) == load["line"].nunique() and len(heat.z[0]) == 52


def test_cover_chart_marks_the_safety_level(con):
    figure = charts.cover_chart(production.inventory_cover(con, Scope()), limit=10)
    assert len(figure.data[0].x) == 10
    assert figure.layout.shapes[0].x0 == 2.0


def test_lift_chart_labels_each_depth(con):
    figure = charts.lift_by_depth_chart(sales.promotion_lift_by_depth(con, Scope()))
    assert figure.data[0].x[0] == "10%"


def _weekly(families: list[str]) -> pd.DataFrame:
    weeks = pd.date_range("2026-01-05", periods=4, freq="7D")
    return pd.DataFrame(
        [(week, family, 10.0) for week in weeks for family in families],
        columns=["week", "family", "units"],
    )


def _line_colours(figure) -> dict[str, str]:
    return {t.name: t.line.color for t in figure.data if t.name != "holiday"}


def test_family_colours_come_from_the_palette_by_sorted_position():
    company = ["Zeta drinks", "alpha snacks", "Mu frozen", "Beta dairy", "Kappa bakery"]
    colours = charts.family_colours(company)
    assert len(set(colours.values())) == len(company)
    assert set(colours.values()) <= set(charts.PALETTE)
    assert [colours[f] for f in sorted(company)] == list(charts.PALETTE[: len(company)])


def test_a_family_keeps_its_colour_when_the_filter_hides_others():
    company = ["Zeta drinks", "alpha snacks", "Mu frozen", "Beta dairy", "Kappa bakery"]
    everything = _line_colours(charts.weekly_history_chart(_weekly(company), families=company))
    assert len(set(everything.values())) == len(company)
    shown = ["Mu frozen", "Zeta drinks"]
    filtered = _line_colours(charts.weekly_history_chart(_weekly(shown), families=company))
    assert filtered == {family: everything[family] for family in shown}
    # One mechanism: the chart's colours are exactly family_colours of the company's list.
    assert everything == charts.family_colours(company)


def test_names_people_typed_show_as_text_in_charts():
    """Plotly renders links and tags in titles, legends and hover labels: typed names are
    escaped (issue 24)."""
    from sop_core.charts.style import figure

    hostile = '<a href="http://evil.example">Log in</a>'
    spec = figure([{"type": "scatter", "x": [1], "y": [1], "name": hostile}], hostile, "units")
    assert "<a" not in spec.layout.title.text and "&lt;a href" in spec.layout.title.text
    assert "<a" not in spec.data[0].name and "&lt;a href" in spec.data[0].name
