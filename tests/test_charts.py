from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from sop_core import charts
from sop_core.charts.style import PALETTE, WEEK_HOVER, WEEK_X, week_ticks
from sop_core.data import formats
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
    figure = charts.utilisation_heatmap(load, "Demand load of past sales", "Demand load")
    heat = figure.data[0]
    assert len(heat.z) == load["line"].nunique() and len(heat.z[0]) == 52


def _forecast_load(weeks: int = 26) -> pd.DataFrame:
    """Two lines' load from the week of 23 Nov 2026 (a Monday); S1 is shut the third week."""
    week = pd.date_range("2026-11-23", periods=weeks, freq="7D")
    rows = []
    for line, name, needed in (("N1", "Cream filling", 45.6), ("S1", "Fragrance filling", 20.0)):
        for t, monday in enumerate(week):
            available = 0.0 if line == "S1" and t == 2 else 40.0
            rows.append((line, name, monday, needed, available))
    load = pd.DataFrame(
        rows, columns=["line", "line_name", "week", "needed_hours", "available_hours"]
    )
    load["utilisation"] = np.where(
        load["available_hours"] > 0, load["needed_hours"] / load["available_hours"], np.nan
    )
    return load


def test_heatmap_shows_the_load_in_each_cell_and_labels_the_weeks():
    spec = charts.utilisation_heatmap(
        _forecast_load(), "Demand load", "Demand load"
    ).to_plotly_json()
    heat = spec["data"][0]
    assert heat["texttemplate"] == "%{text}" and heat["textfont"]["size"] >= 12
    rows = list(heat["y"])
    n1, s1 = rows.index("N1  Cream filling"), rows.index("S1  Fragrance filling")
    assert heat["text"][n1][0] == "114" and heat["text"][s1][0] == "50"
    assert heat["text"][s1][2] == ""  # a shutdown has no load to show
    assert not heat["showscale"]  # the numbers say the load
    axis = spec["layout"]["xaxis"]
    assert "% of the available hours" in axis["title"]["text"]
    # Every second week of 26: "W48 / 23 Nov" a week ran into each other on a laptop.
    assert axis["tickmode"] == "array" and len(axis["tickvals"]) == 13
    assert all(pd.Timestamp(v).weekday() == 0 for v in axis["tickvals"])  # Mondays
    # The ISO week and its Monday; the year under the first label and where the year turns.
    assert axis["ticktext"][:3] == ["W48<br>23 Nov<br>2026", "W50<br>7 Dec", "W52<br>21 Dec"]
    assert axis["ticktext"][3] == "W01<br>4 Jan<br>2027"
    assert axis["tickangle"] == 0


def _many_lines(count: int = 300, weeks: int = 13) -> pd.DataFrame:
    """``count`` lines' load over ``weeks`` weeks, most of them at 20-80%; 30 overloaded in one
    week each (105% to 160%), two of them at the same peak, ranked last shown and first left
    out of a heatmap, the one with the lower code having the lower chance of overload."""
    rng = np.random.default_rng(11)
    lines = [f"L{i:03d}" for i in range(count)]
    load = rng.uniform(0.2, 0.8, (count, weeks))
    chance = rng.uniform(0.0, 0.4, (count, weeks))
    over = np.sort(rng.choice(count, 30, replace=False))
    peaks = np.linspace(1.05, 1.6, 30)
    last = 30 - charts.HEATMAP_LINES  # the last shown; the one before it, the first left out
    peaks[last] = peaks[last - 1]
    load[over, rng.integers(0, weeks, 30)] = peaks
    chance[over[last - 1]] = 0.5  # the lower code of the tied two is less likely to overload...
    chance[over[last]] = 0.7  # ...so the higher code is shown
    available = np.full((count, weeks), 40.0)
    available[5, 3] = 0.0  # a shutdown: no load that week
    week = pd.date_range("2026-11-23", periods=weeks, freq="7D")
    frame = pd.DataFrame(
        {
            "line": np.repeat(lines, weeks),
            "line_name": "Filling",
            "week": np.tile(week, count),
            "needed_hours": (load * 40.0).ravel(),
            "available_hours": available.ravel(),
            "overload_probability": chance.ravel(),
        }
    )
    frame["utilisation"] = np.where(
        frame["available_hours"] > 0, frame["needed_hours"] / frame["available_hours"], np.nan
    )
    return frame


def test_a_heatmap_of_many_lines_shows_the_most_loaded_worst_on_top():
    load = _many_lines()
    limit = charts.HEATMAP_LINES
    figure = charts.utilisation_heatmap(
        load, "Demand load by line and week: the revised targets' hours", "Demand load"
    )
    heat = figure.data[0]
    assert len(heat.y) == len(heat.z) == limit
    # The worst lines by their peak load, ties by the chance of overload, worked out here.
    peak = load.groupby("line")["utilisation"].max()
    chance = load.groupby("line")["overload_probability"].max()
    worst = sorted(peak.index, key=lambda line: (-peak[line], -chance[line]))
    assert [label.split()[0] for label in heat.y[::-1]] == worst[:limit]  # the worst on top
    assert heat.y[-1] == f"{peak.idxmax()}  Filling"
    assert figure.layout.yaxis.dtick == 1  # every line shown is named
    assert np.nanmax(heat.z[-1]) == pytest.approx(1.6)
    tied = [line for line in peak.index if peak[line] == peak[worst[limit - 1]]]
    assert len(tied) == 2 and worst[limit - 1] == tied[1]  # the likelier overload is in
    # Each row still the line's own load, week by week.
    top = load[load["line"] == worst[0]].sort_values("week")
    assert list(heat.z[-1]) == pytest.approx(list(top["utilisation"]))
    # What was left out, where the planner reads it.
    assert figure.layout.title.text.startswith(
        f"Demand load by line and week, the {limit} most loaded of 300 lines:"
    )
    rest = sorted(peak, reverse=True)[limit]
    note = figure.layout.title.subtitle.text
    assert f"the other {300 - limit} lines peak at {formats.percent(rest)} or less" in note
    assert rest == peak[tied[0]]  # the tied line left out is the highest of the rest


def test_a_heatmap_names_how_many_lines_it_leaves_out_in_thousands():
    load = _many_lines(3000, 4)
    figure = charts.utilisation_heatmap(load, "Demand load of past sales", "Demand load")
    assert figure.layout.title.text.endswith(
        f"the {charts.HEATMAP_LINES} most loaded of 3,000 lines"
    )
    assert f"the other {3000 - charts.HEATMAP_LINES:,} lines" in figure.layout.title.subtitle.text


def test_a_heatmap_of_up_to_the_limit_of_lines_is_as_it_was():
    load = _many_lines()
    load = load[load["line"].isin(load["line"].unique()[-charts.HEATMAP_LINES :])]
    figure = charts.utilisation_heatmap(load, "Demand load by line: hours", "Demand load")
    heat = figure.data[0]
    labels = sorted({f"{line}  Filling" for line in load["line"]})
    assert list(heat.y) == labels[::-1]  # every line, in code order from the top
    assert figure.layout.title.text == "Demand load by line: hours"
    assert not figure.layout.title.subtitle.text
    assert figure.layout.height == 640 and figure.layout.title.pad.b == 16


def test_lines_rank_by_peak_then_chance_of_overload_then_hours_short():
    rows = [
        # line, week, needed, available, chance
        ("A", 0, 48.0, 40.0, 0.3),
        ("B", 0, 48.0, 40.0, 0.6),
        ("C", 0, 48.0, 40.0, 0.6),
        ("C", 1, 30.0, 0.0, 0.6),  # a shutdown with hours needed: 30 h short, no load
        ("D", 0, 10.0, 0.0, 0.0),  # shut all along: no peak at all
        ("E", 0, 20.0, 40.0, 0.0),
    ]
    load = pd.DataFrame(
        rows, columns=["line", "week", "needed_hours", "available_hours", "overload_probability"]
    )
    load["utilisation"] = np.where(
        load["available_hours"] > 0, load["needed_hours"] / load["available_hours"], np.nan
    )
    ranking = charts.lines_by_load(load)
    assert list(ranking.index) == ["C", "B", "A", "E", "D"]
    assert ranking.loc["C", "short"] == pytest.approx(38.0)
    # Without chances of overload, the hours short decide between equal peaks.
    plain = charts.lines_by_load(load.drop(columns="overload_probability"))
    assert list(plain.index) == ["C", "A", "B", "E", "D"]


def test_a_years_heatmap_labels_every_eighth_week_and_keeps_its_colour_bar(con):
    load = production.line_utilisation_history(con, dt.date(2026, 11, 16), 52)
    figure = charts.utilisation_heatmap(load, "Demand load of past sales", "Demand load")
    heat = figure.data[0]
    # 52 cells across are too narrow for numbers: the colour bar and the hover say the load.
    assert heat.texttemplate is None and heat.showscale
    ticks = figure.layout.xaxis.ticktext
    # Every eighth week: every second, then every fourth, ran the months into each other on a
    # 1366 px laptop (the colour bar and long line names leave the plot about 440 px).
    assert len(ticks) == 7 and ticks[0] == "W48<br>24 Nov<br>2025"
    assert ticks[1] == "W04<br>19 Jan<br>2026"


def test_available_hours_are_steps_flat_across_each_week():
    load = _forecast_load(4)
    load = load[load["line"] == "S1"].assign(overload_probability=0.1)
    spec = charts.line_load_chart(load, 8.0, "S1").to_plotly_json()
    available = next(t for t in spec["data"] if t.get("name", "").startswith("available"))
    band = spec["data"][0]
    for trace in (available, band):
        assert trace["line"]["shape"] == "hv"
    x = pd.to_datetime(pd.Series(available["x"]))
    weeks = pd.Series(pd.to_datetime(load["week"].to_numpy()))
    half = pd.Timedelta(days=3.5)
    # Each week's step runs from half a week before its date to half a week after.
    assert list(x) == [*(weeks - half), weeks.iloc[-1] + half]
    assert list(available["y"]) == [40.0, 40.0, 0.0, 40.0, 40.0]
    assert list(band["y"]) == [48.0, 48.0, 8.0, 48.0, 48.0]
    bars = next(t for t in spec["data"] if t["type"] == "bar")
    for week, hours in zip(pd.to_datetime(pd.Series(bars["x"])), [40, 40, 0, 40], strict=True):
        step = np.searchsorted(x, week, side="right") - 1  # hv: the value until the next x
        assert available["y"][step] == hours


def test_a_line_by_month_has_its_available_hours_and_overtime_band_per_month():
    """Per period (``export.bucketed_frame``): one step per month, centred on its bar, the
    overtime band the week's times the weeks the month holds, the chance of overload the
    riskiest week's."""
    from sop_core.charts.style import period_axis
    from sop_core.data.export import bucketed_frame
    from sop_core.data.fiscal import FiscalCalendar

    calendar = FiscalCalendar()
    load = _forecast_load(13)
    load = load[load["line"] == "S1"].assign(overload_probability=np.linspace(0, 0.6, 13))
    months = bucketed_frame(load, "month", calendar, rules={"overload_probability": "max"})
    months = months.rename(columns={"period_start": "week"})
    spec = charts.line_load_chart(months, 8.0, "S1", period="month")
    figure = period_axis(spec, lambda day: calendar.period_label(day, "month"))
    band, available, bars = figure.data
    assert available.line.shape == band.line.shape == "hvh"
    assert list(available.x) == list(bars.x) == list(months["month"])
    assert list(band.y) == pytest.approx(list(months["available_hours"] + 8.0 * months["weeks"]))
    assert sum(bars.y) == pytest.approx(load["needed_hours"].sum())
    assert bars.customdata[-1] == pytest.approx(0.6)  # the last week's, not a sum of chances
    assert figure.layout.yaxis.title.text == "Hours per month"


def test_cover_chart_marks_the_safety_level(con):
    figure = charts.cover_chart(production.inventory_cover(con, Scope()), 2.0, limit=10)
    assert len(figure.data[0].x) == 10
    assert figure.layout.shapes[0].x0 == 2.0
    assert figure.layout.annotations[0].text == "safety stock: 2 weeks"
    # Red exactly for the SKUs below it.
    below = [x < 2.0 for x in figure.data[0].x]
    assert [c == PALETTE[5] for c in figure.data[0].marker.color] == below


def test_the_heatmap_names_the_measure_its_title_names():
    spec = charts.utilisation_heatmap(
        _forecast_load(52), "Planned load by line and week", "Planned load", hours="planned"
    ).to_plotly_json()
    heat = spec["data"][0]
    assert heat["colorbar"]["title"]["text"] == "Planned load"
    assert "planned load %{z:.0%}" in heat["hovertemplate"]
    assert "h planned of" in heat["hovertemplate"] and "<br>load " not in heat["hovertemplate"]
    short = charts.utilisation_heatmap(_forecast_load(), "Demand load", "Demand load")
    assert "in each cell the demand load" in short.layout.xaxis.title.text


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


def test_a_long_title_takes_two_lines_and_the_legend_sits_under_the_plot():
    """Plotly never wraps a title, and a legend above the plot ran over the title on a
    half-width chart of a 1366 px laptop."""
    from sop_core.charts.style import figure

    trace = {"type": "scatter", "x": [1], "y": [1], "name": "units"}
    long = figure([trace], "Hours needed against available hours: N1  Cream filling 1", "h")
    assert long.layout.title.text == "Hours needed against available hours:<br>N1  Cream filling 1"
    by_comma = figure([trace], "Demand load of past sales by line and week, last 52 weeks", "")
    assert by_comma.layout.title.text.endswith("week,<br>last 52 weeks")
    short = figure([trace], "Total: weekly units", "Units")
    assert short.layout.title.text == "Total: weekly units"
    assert short.layout.title.automargin
    legend = short.layout.legend
    assert (legend.yref, legend.y, legend.yanchor) == ("container", 0, "bottom")
    # The axes make room for their labels, so the legend under them cannot cover them.
    assert short.layout.xaxis.automargin and short.layout.yaxis.automargin


def test_names_people_typed_show_as_text_in_charts():
    """Plotly renders links and tags in titles, legends and hover labels: typed names are
    escaped (issue 24)."""
    from sop_core.charts.style import figure

    hostile = '<a href="http://evil.example">Log in</a>'
    spec = figure([{"type": "scatter", "x": [1], "y": [1], "name": hostile}], hostile, "units")
    assert "<a" not in spec.layout.title.text and "&lt;a href" in spec.layout.title.text
    assert "<a" not in spec.data[0].name and "&lt;a href" in spec.data[0].name


def test_plan_chart_draws_the_safety_stock_beside_the_stock():
    weekly = pd.DataFrame(
        {
            "week": pd.date_range("2026-11-23", periods=3, freq="7D"),
            "demand": [10.0, 10.0, 10.0],
            "production": [12.0, 12.0, 12.0],
            "unmet": [0.0, 0.0, 0.0],
            "inventory": [2.0, 4.0, 6.0],
            "safety_stock": [10.0, 10.0, 10.0],
            "below_safety": [8.0, 6.0, 4.0],
        }
    )
    figure = charts.plan_chart(weekly)
    safety = next(t for t in figure.data if t.name == "safety stock (right)")
    assert safety.yaxis == "y2" and list(safety.y) == [10.0, 10.0, 10.0]
    assert list(safety.customdata) == [8.0, 6.0, 4.0] and "short" in safety.hovertemplate
    without = charts.plan_chart(weekly.drop(columns=["safety_stock", "below_safety"]))
    assert "safety stock (right)" not in {t.name for t in without.data}


def _mondays(weeks: int, start: str = "2026-11-23") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=weeks, freq="W-MON")


def _week_axis_reads_iso_weeks_on_mondays(axis: dict) -> None:
    """Every tick on a week's Monday, none between weeks, labelled "W" + its ISO week."""
    assert axis["tickmode"] == "array" and axis["tickvals"]
    for value, text in zip(axis["tickvals"], axis["ticktext"], strict=True):
        day = pd.Timestamp(value)
        assert day.weekday() == 0, day
        assert text.startswith(f"W{day.isocalendar().week:02d}<br>{day.day} {day:%b}"), text
    assert axis["hoverformat"] == WEEK_HOVER


def _plan_weekly(weeks: int = 13) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "week": _mondays(weeks),
            "demand": rng.uniform(80_000, 120_000, weeks),
            "production": rng.uniform(80_000, 120_000, weeks),
            "unmet": np.zeros(weeks),
            "inventory": rng.uniform(250_000, 381_234, weeks),
        }
    )


WEEKLY_CHARTS = {
    "plan": lambda: charts.plan_chart(_plan_weekly()),
    "scenario": lambda: charts.scenario_chart(
        _plan_weekly().assign(baseline=1e5, revised=1.1e5, lower_80=0.9e5, upper_80=1.3e5)
    ),
    "comparison": lambda: charts.comparison_chart(
        pd.DataFrame({"week": _mondays(13), "scenario": "Baseline", "volume": 1e5})
    ),
    "history": lambda: charts.weekly_history_chart(
        pd.DataFrame({"week": _mondays(26), "family": "skincare", "units": 5e4})
    ),
    "heatmap": lambda: charts.utilisation_heatmap(_forecast_load(), "Load", "Demand load"),
    "line load": lambda: charts.line_load_chart(
        _forecast_load(13).query("line == 'N1'").assign(overload_probability=0.2), 8.0, "N1"
    ),
}


@pytest.mark.parametrize("name", WEEKLY_CHARTS)
def test_a_weekly_chart_labels_its_weeks_on_mondays_with_the_iso_week(name):
    spec = WEEKLY_CHARTS[name]().to_plotly_json()
    axis = spec["layout"]["xaxis"]
    _week_axis_reads_iso_weeks_on_mondays(axis)
    assert len(axis["tickvals"]) <= 13  # a laptop's half-width chart has room for these
    for trace in spec["data"]:
        template = trace.get("hovertemplate", "")
        assert "%d %b" not in template  # a week reads "W48 · 23 Nov 2026", not a day
        if "%{x|" in template:
            assert WEEK_X in template


def test_the_week_hover_format_is_the_formats_week():
    """Plotly reads ``WEEK_HOVER`` with d3, which reads %V and %-d as Python's strftime does:
    the hover says what ``formats.week`` says, across the turn of a year and a 53-week year."""
    for day in [*_mondays(60, "2025-12-01"), pd.Timestamp("2026-12-28")]:
        assert day.strftime(WEEK_HOVER) == formats.week(day, year=True)


def test_week_ticks_thin_out_and_turn_to_months_for_a_history_of_years():
    assert len(week_ticks(_mondays(13))["tickvals"]) == 13  # every week
    assert len(week_ticks(_mondays(52))["tickvals"]) == 13  # every fourth
    years = week_ticks(_mondays(160, "2026-01-05"))
    assert all(pd.Timestamp(v).weekday() == 0 for v in years["tickvals"])
    assert all(pd.Timestamp(v).day <= 7 for v in years["tickvals"])  # a month's first Monday
    assert years["ticktext"][:3] == ["Jan<br>2026", "Apr", "Jul"]
    assert len(years["tickvals"]) <= 13
    # The demand picture opens on a window of its weeks: the density suits the window.
    long = week_ticks(_mondays(200, "2023-01-02"), window=78)
    _week_axis_reads_iso_weeks_on_mondays(long)
    opens = _mondays(200, "2023-01-02")[-78]
    first = next(i for i, v in enumerate(long["tickvals"]) if pd.Timestamp(v) >= opens)
    assert long["ticktext"][first].endswith(f"<br>{pd.Timestamp(long['tickvals'][first]):%Y}")
    assert sum(pd.Timestamp(v) >= opens for v in long["tickvals"]) <= 13


def test_the_demand_picture_labels_iso_weeks():
    series = pd.DataFrame({"week": _mondays(30, "2026-06-01")})
    series = series.assign(
        actual=np.where(series.index < 20, 100.0, np.nan),
        promoted=False,
        promoted_share=0.0,
        holiday="",
    )
    for column in ("statistical", "lower_80", "upper_80", "lower_95", "upper_95"):
        series[column] = np.where(series.index >= 20, 120.0, np.nan)
    series["consensus"], series["approved"] = series["statistical"], np.nan
    spec = charts.demand_chart(series, "Total demand").to_plotly_json()
    _week_axis_reads_iso_weeks_on_mondays(spec["layout"]["xaxis"])


def test_the_demand_picture_by_month_lands_the_month_the_history_ends_in():
    from sop_core.data.fiscal import FiscalCalendar
    from sop_core.demand.by_period import series_by_period

    # 20 weeks sold (1 Jun - 12 Oct 2026), 10 forecast (19 Oct - 21 Dec), 100 and 120 a week.
    series = pd.DataFrame({"week": pd.to_datetime(_mondays(30, "2026-06-01"))})
    series = series.assign(
        actual=np.where(series.index < 20, 100.0, np.nan),
        promoted=series.index.isin([23, 24, 25]),
        promoted_share=np.where(series.index.isin([23, 24, 25]), 0.3, 0.0),
        holiday=np.where(series.index == 29, "Christmas", ""),
    )
    series["statistical"] = np.where(series.index >= 20, 120.0, np.nan)
    for level, spread in (("80", 10.0), ("95", 20.0)):
        series[f"lower_{level}"] = series["statistical"] - spread
        series[f"upper_{level}"] = series["statistical"] + spread
    series["consensus"], series["approved"] = series["statistical"], np.nan
    monthly = series_by_period(series, "month", FiscalCalendar(1, "calendar")).set_index("period")
    assert list(monthly.index) == [
        "Jun 2026", "Jul 2026", "Aug 2026", "Sep 2026", "Oct 2026", "Nov 2026", "Dec 2026"
    ]  # fmt: skip
    # October: 18 of its days sold before the forecast starts on 19 Oct (1 - 4 Oct of the
    # week of 28 Sep, the weeks of 5 and 12 Oct), the rest forecast (the week of 19 Oct and
    # 26 - 31 Oct): the month lands at both.
    october = monthly.loc["Oct 2026"]
    sold = 100.0 * (4 / 7 + 2)
    assert np.isnan(october["actual"])
    assert october["consensus"] == pytest.approx(sold + 120.0 * (1 + 6 / 7))
    # The bands around the open weeks only, combined as independent errors.
    assert october["upper_80"] - october["statistical"] == pytest.approx(10 * np.sqrt(1 + 6 / 7))
    assert monthly.loc["Sep 2026", "actual"] == pytest.approx(100.0 * 30 / 7)
    # Actuals plus consensus add up as by week.
    total = monthly["actual"].sum() + monthly["consensus"].sum()
    assert total == pytest.approx(series["actual"].sum() + series["consensus"].sum())
    # November: 3 of its 4.3 weeks on promotion (9, 16 and 23 Nov).
    assert monthly["promoted"].tolist() == [False] * 5 + [True, False]
    assert monthly.loc["Dec 2026", "holiday"] == "Christmas"

    spec = charts.demand_chart(monthly.reset_index(), "Total demand").to_plotly_json()
    axis = spec["layout"]["xaxis"]
    assert axis["type"] == "category" and axis["categoryarray"][0] == "Jun 2026"
    actual = next(t for t in spec["data"] if t["name"] == "actual")
    assert list(actual["x"]) == ["Jun 2026", "Jul 2026", "Aug 2026", "Sep 2026"]
    # The forecast starts before October (position 4), a vertical line; November is shaded.
    start, promotion = spec["layout"]["shapes"][-1], spec["layout"]["shapes"][0]
    assert start["x0"] == start["x1"] == 3.5
    assert (promotion["x0"], promotion["x1"]) == (4.5, 5.5)
    assert all(WEEK_X not in t.get("hovertemplate", "") for t in spec["data"])


def test_the_stock_axis_has_round_ticks():
    """Plotly's own steps written "~s" ("250k", "300k"): not synced to the left axis, which
    gave "69.314k", "138.628k"; a small stock keeps plain numbers, not "500m"."""
    layout = charts.plan_chart(_plan_weekly()).to_plotly_json()["layout"]
    assert layout["yaxis2"]["tickformat"] == "~s"
    # Not synced to the units axis' grid (plotly.js' default for an overlaying axis).
    assert layout["yaxis2"]["tickmode"] == "auto" and "dtick" not in layout["yaxis2"]
    assert layout["yaxis"]["tickformat"] == "~s"
    small = _plan_weekly().assign(inventory=[2.0] * 13)
    assert "tickformat" not in charts.plan_chart(small).to_plotly_json()["layout"]["yaxis2"]


def test_the_waterfall_labels_its_bars_as_the_formatting_module_writes():
    changes = pd.DataFrame(
        {
            "cause": ["Plan of record", "Overrides", "Levers", "Plan now"],
            "volume": [1_234_567.0, 12_345.0, -830.0, 1_246_082.0],
            "revenue": [0.0, 0.0, 0.0, 0.0],
        }
    )
    figure = charts.waterfall_chart(changes, "volume", "Volume", "Units")
    assert list(figure.data[0].text) == ["1.2M", "+12.3k", "-830", "1.2M"]


def test_charts_drawn_in_a_page_column_label_few_enough_weeks_to_read():
    """The scenario chart (two thirds of the page) and the scenario comparison (half) keep
    their two-line week labels apart at 1366 px: at most ``COLUMN_TICKS`` over 26 weeks."""
    from sop_core.charts.meeting import comparison_chart
    from sop_core.charts.promotions import scenario_chart
    from sop_core.charts.style import COLUMN_TICKS

    weeks = pd.date_range("2026-11-23", periods=26, freq="7D")
    weekly = pd.DataFrame(
        {"week": weeks, "baseline": 1.0, "revised": 1.0, "lower_80": 0.5, "upper_80": 1.5}
    )
    compared = pd.DataFrame({"week": weeks, "scenario": "Baseline", "volume": 1.0})
    for chart in (scenario_chart(weekly), comparison_chart(compared)):
        labels = chart.layout.xaxis.ticktext
        assert 4 <= len(labels) <= COLUMN_TICKS
