"""Supply charts: line load (heatmap and one line's hours), the batch-size cost curve, the
production plan against the revised target, and stock cover."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from sop_core.charts.style import (
    COLUMN_TICKS,
    FONT_SIZE,
    PALETTE,
    WEEK_X,
    figure,
    unit_ticks,
    week_ticks,
)
from sop_core.data import formats
from sop_core.data.calendar import weeks_text

# Load above this share of the available hours shows amber; above 100%, red.
UTILISATION_WARNING = 0.85
# Up to this many weeks a heatmap cell has room for its load ("114", in % of the available
# hours) on a page-wide chart; the numbers then replace the colour bar. Beyond it the cells
# are too narrow to read, so they keep the colour bar and the hover alone.
CELL_TEXT_WEEKS = 26
# The most lines a heatmap draws: beyond it, the most loaded, and a note on how high the
# others go. 16 rows get 30 px each for their 16 px labels in the page's 640 px chart (one
# screen of a 1366 x 768 laptop), and about 30 px for their 22 px labels in Present mode's
# 640 px chart on a 1920 x 1080 projector. At 20, Present mode's rows were too low for its
# labels: plotly left every second line unnamed.
HEATMAP_LINES = 16
WEEK = pd.Timedelta(days=7)


def lines_by_load(utilisation: pd.DataFrame) -> pd.DataFrame:
    """The lines of a load frame (``line``, ``utilisation``, ``needed_hours``,
    ``available_hours``, optionally ``overload_probability``), most loaded first: by their
    peak load over the frame's weeks or periods, then their highest chance of overload (where
    the frame has it), then their hours short (needed beyond available, summed), then by
    code. Indexed by line, with ``peak``, ``probability`` (NaN without it) and ``short``;
    a line with no hours in any period has no peak and comes after those that have one."""
    load = utilisation["utilisation"].astype(float)
    frame = pd.DataFrame(
        {
            "line": utilisation["line"],
            "peak": load.where(np.isfinite(load)),
            "probability": utilisation["overload_probability"].astype(float)
            if "overload_probability" in utilisation
            else np.nan,
            "short": (utilisation["needed_hours"] - utilisation["available_hours"]).clip(lower=0),
        }
    )
    ranking = frame.groupby("line", sort=True).agg(
        peak=("peak", "max"), probability=("probability", "max"), short=("short", "sum")
    )
    order = np.lexsort(
        (
            np.arange(len(ranking)),  # the code (the index is sorted): the last tie-break
            -ranking["short"].fillna(0).to_numpy(),
            -ranking["probability"].fillna(-1).to_numpy(),
            -ranking["peak"].fillna(-np.inf).to_numpy(),
        )
    )
    return ranking.iloc[order]


def utilisation_heatmap(
    utilisation: pd.DataFrame,
    title: str,
    measure: str,
    hours: str = "needed",
    *,
    period: str = "week",
) -> go.Figure:
    """Line x week heatmap of one load measure (``line``, ``week``, ``utilisation``,
    ``needed_hours``, ``available_hours``); red above 100%, amber above 85%. ``measure`` is
    the label of the measure the title names (``loads.DEMAND_LOAD`` or
    ``loads.PLANNED_LOAD``): the colour bar, the hover and the cells' caption say it; the
    hover calls ``needed_hours`` "h {hours}" (``planned`` for a production plan's hours).
    ``period`` "month" or "quarter": the rows are per period (``week`` its first day, the
    load its hours over its available hours, the chance of overload its riskiest week's).

    More than ``HEATMAP_LINES`` lines and it draws the most loaded of them (``lines_by_load``),
    the worst on top: the title says so ("..., the 16 most loaded of 3,000 lines: ...",
    before its first colon, else at its end) and its subtitle how high the others go."""
    total = utilisation["line"].nunique()
    note = ""
    ranked = None
    if total > HEATMAP_LINES:
        ranking = lines_by_load(utilisation)
        ranked = ranking.index[:HEATMAP_LINES]
        utilisation = utilisation[utilisation["line"].isin(ranked)]
        title, note = _most_loaded(title, measure, ranking, total, period)
    utilisation = utilisation.assign(
        label=utilisation["line"] + "  " + utilisation.get("line_name", "")
    )
    grid = utilisation.pivot(index="label", columns="week", values="utilisation")
    if ranked is None:
        grid = grid.sort_index(ascending=False)
    else:
        # plotly draws a category axis' first row at the bottom: the worst line last, on top.
        label = utilisation.drop_duplicates("line").set_index("line")["label"]
        grid = grid.reindex(label.reindex(ranked[::-1]).to_numpy())
    needed = utilisation.pivot(index="label", columns="week", values="needed_hours")
    available = utilisation.pivot(index="label", columns="week", values="available_hours")
    needed, available = needed.reindex_like(grid), available.reindex_like(grid)
    probability = None
    if "overload_probability" in utilisation:
        probability = utilisation.pivot(
            index="label", columns="week", values="overload_probability"
        ).reindex_like(grid)
    z = grid.to_numpy(dtype=float)
    numbers = grid.shape[1] <= CELL_TEXT_WEEKS
    cells = {}
    if numbers:
        # The measure in each cell; none where the line has no hours (a shutdown, shown grey).
        # No colour: plotly picks dark or light type against each cell's colour.
        cells = {
            "text": np.where(np.isfinite(z), np.char.mod("%.0f", np.nan_to_num(z) * 100), ""),
            "texttemplate": "%{text}",
            "textfont": {"size": 12},
        }
    heatmap = {
        "type": "heatmap",
        "z": z,
        "x": grid.columns,
        "y": grid.index,
        **cells,
        "showscale": not numbers,
        "zmin": 0,
        "zmax": 1.5,
        "colorscale": [
            [0.0, "#f7fbff"],
            [0.5, "#6baed6"],
            [UTILISATION_WARNING / 1.5, "#2171b5"],
            [UTILISATION_WARNING / 1.5 + 0.001, "#ff9f1c"],
            [1.0 / 1.5, "#ff9f1c"],
            [1.0 / 1.5 + 0.001, "#d73027"],
            [1.0, "#7f0000"],
        ],
        "colorbar": {
            "title": {"text": measure},
            "tickformat": ".0%",
            "tickvals": [0, 0.5, UTILISATION_WARNING, 1.0, 1.5],
        },
        "customdata": np.dstack(
            [needed.to_numpy(), available.to_numpy()]
            + ([probability.to_numpy()] if probability is not None else [])
        ),
        "hovertemplate": f"%{{y}}, {WEEK_X}<br>{measure.lower()} %{{z:.0%}}<br>"
        f"%{{customdata[0]:,.0f}} h {hours} of %{{customdata[1]:,.0f}} h available"
        + (
            "<br>%{customdata[2]:.0%} chance of overload"
            + ("" if period == "week" else " in its riskiest week")
            if probability is not None
            else ""
        )
        + "<extra></extra>",
        "xgap": 1,
        "ygap": 2,
    }
    starting = "Week starting" if period == "week" else period.capitalize()
    # Rows shrink as lines are added, so a plant with many lines still fits on one screen.
    row = 60 if len(grid) <= 8 else max(14, 480 // len(grid))
    # The note on the lines left out: a subtitle, a line of its own under the title (plotly
    # draws it in the title's pad: the pad grows by its line, or it touches the top row).
    subtitle = (
        {"title": {"subtitle": {"text": note, "font": {"size": FONT_SIZE}}, "pad": {"b": 44}}}
        if note
        else {}
    )
    return figure(
        [heatmap],
        title,
        "",
        height=min(900, max(320, row * len(grid) + 160)) + (40 if note else 0),
        # Weeks with no hours at all (a shutdown) have no utilisation: they show as grey.
        layout={
            **subtitle,
            "plot_bgcolor": "#BDBDBD",
            "yaxis": {
                "type": "category",
                "automargin": True,
                # The most loaded lines each named: plotly's own ticks may skip every second.
                **({"tickmode": "linear", "dtick": 1} if note else {}),
            },
            "xaxis": {
                # A label every week up to 13 weeks and every second of 26, so that "W48 /
                # 23 Nov" labels do not run into each other on a laptop; past that (52 weeks
                # of history) the colour bar and long line names leave the plot about 440 px
                # of a 1366 px screen: at most COLUMN_TICKS labels, every eighth week.
                **week_ticks(grid.columns, most=13 if numbers else COLUMN_TICKS),
                "title": {
                    "text": f"{starting}; in each cell the {measure.lower()}, % of the "
                    "available hours"
                    if numbers
                    else starting
                },
            },
        },
    )


def _most_loaded(
    title: str, measure: str, ranking: pd.DataFrame, total: int, period: str
) -> tuple[str, str]:
    """The heatmap's title naming the lines it shows, and the note on those it leaves out."""
    shown = f"the {HEATMAP_LINES} most loaded of {formats.units(total)} lines"
    head, colon, tail = title.partition(": ")
    title = f"{head}, {shown}: {tail}" if colon else f"{title}, {shown}"
    rest = ranking.iloc[HEATMAP_LINES:]
    others = f"the other {formats.units(len(rest))} lines"
    peak = rest["peak"].max()
    if pd.isna(peak):
        left = f"{others} have no available hours in these {period}s"
    else:
        left = f"{others} peak at {formats.percent(peak)} or less"
    return title, f"Worst on top, by peak {measure.lower()}; {left}."


def week_steps(weeks: pd.Series, values: pd.Series) -> tuple[list, list, list]:
    """A weekly value as steps flat across each week's bar: x at the edges between the bars
    (half a week either side of each week's date), the last value repeated at the right edge,
    and each point's week for the hover. Draw with ``line_shape="hv"``."""
    weeks = pd.to_datetime(pd.Series(weeks)).reset_index(drop=True)
    values = pd.Series(values).reset_index(drop=True)
    if weeks.empty:
        return [], [], []
    half = (weeks.diff().median() if len(weeks) > 1 else WEEK) / 2
    last = len(weeks) - 1
    x = [*(weeks - half), weeks.iloc[last] + half]
    return x, [*values, values.iloc[last]], [*weeks, weeks.iloc[last]]


def line_load_chart(
    load: pd.DataFrame, overtime_hours: float, title: str, *, period: str = "week"
) -> go.Figure:
    """One line's weekly hours needed (bars, red where they exceed the available hours)
    against its available hours (steps: each week's hours flat across its bar) and the
    overtime band above them (``overtime_hours`` a week). ``load`` has ``week``,
    ``needed_hours``, ``available_hours`` and ``overload_probability``. With ``period``
    "month" or "quarter" its rows are per period (``week`` the first day, ``weeks`` the weeks
    it holds: the band is ``overtime_hours`` times those, the chance of overload its
    riskiest week's), and the steps are centred on each period's bar (a category axis)."""
    over = load["needed_hours"] > load["available_hours"] + 1e-9
    if period == "week":
        x, available, week_of = week_steps(load["week"], load["available_hours"])
        band = [overtime_hours] * len(available)
        steps = {"type": "scatter", "x": x, "mode": "lines"}
        shape = "hv"
        available_hover = {
            "customdata": [formats.week(week, year=True) for week in week_of],
            "hovertemplate": "%{y:,.0f} h available<extra>%{customdata}</extra>",
        }
        chance = "chance of overload"
    else:
        # Drawn on the periods themselves: period_axis names each x, so an edge between two
        # periods has no name; "hvh" steps change half-way between the periods' bars.
        available = list(load["available_hours"])
        weeks = load["weeks"] if "weeks" in load else pd.Series(1.0, index=load.index)
        band = list(overtime_hours * weeks)
        steps = {"type": "scatter", "x": list(load["week"]), "mode": "lines"}
        shape = "hvh"
        available_hover = {"hovertemplate": f"%{{y:,.0f}} h available<extra>{WEEK_X}</extra>"}
        chance = "chance of overload in its riskiest week"
    traces = [
        {
            **steps,
            "y": [hours + extra for hours, extra in zip(available, band, strict=True)],
            "line": {"width": 0, "shape": shape},
            "showlegend": False,
            "hoverinfo": "skip",
        },
        {
            **steps,
            "y": available,
            "fill": "tonexty",
            "fillcolor": "rgba(230, 159, 0, 0.25)",
            "line": {"color": "#111111", "width": 3, "shape": shape},
            "name": "available hours (overtime band above)",
            **available_hover,
        },
        {
            "type": "bar",
            "x": load["week"],
            "y": load["needed_hours"],
            "name": "hours needed",
            "marker": {"color": [PALETTE[5] if o else PALETTE[0] for o in over]},
            "customdata": load["overload_probability"],
            "hovertemplate": f"%{{y:,.0f}} h needed, %{{customdata:.0%}} {chance}"
            f"<extra>{WEEK_X}</extra>",
        },
    ]
    return figure(
        traces,
        title,
        f"Hours per {period}",
        height=420,
        # Half the page wide: a label every second week of a 26-week horizon.
        layout={
            "yaxis": {"rangemode": "tozero"},
            "xaxis": week_ticks(load["week"]),
        },
    )


def batch_cost_chart(curve: pd.DataFrame, points: pd.DataFrame, title: str) -> go.Figure:
    """Unit cost against batch size (``curve``: batch_size, unit_cost) with the baseline and
    scenario batches marked (``points``: label, batch_size, unit_cost)."""
    traces = [
        {
            "type": "scatter",
            "x": curve["batch_size"],
            "y": curve["unit_cost"],
            "mode": "lines",
            "name": "unit cost",
            "line": {"color": "#7f7f7f", "width": 3},
            "hovertemplate": "batch %{x:,.0f}: %{y:.3f} per unit<extra></extra>",
        }
    ]
    for index, row in enumerate(points.itertuples(index=False)):
        traces.append(
            {
                "type": "scatter",
                "x": [row.batch_size],
                "y": [row.unit_cost],
                "mode": "markers+text",
                "name": row.label,
                "text": [f"{row.label}: {row.unit_cost:.2f}"],
                "textposition": "top right",
                "marker": {"size": 16, "color": PALETTE[index]},
                "hovertemplate": "%{x:,.0f} units a batch: %{y:.3f} per unit<extra></extra>",
            }
        )
    return figure(
        traces,
        title,
        "Unit cost",
        height=400,
        layout={"xaxis": {"title": {"text": "Units per batch"}, "rangemode": "tozero"}},
    )


def plan_chart(
    weekly: pd.DataFrame,
    title: str = "Production plan against the revised target",
    *,
    period: str = "week",
    week_labels: int = 13,
) -> go.Figure:
    """Weekly production (bars) against the revised target (line, the ``demand`` column), unmet
    demand in red and the projected stock on a second axis. ``weekly`` has week, demand,
    production, unmet, inventory, and optionally ``safety_stock`` (drawn on the stock axis)
    and ``below_safety`` (the units short of it, in the hover). With ``period`` "month" or
    "quarter" its rows are per period, the stocks (and the units short) at its end.
    ``week_labels``: the most weeks its axis names (``COLUMN_TICKS`` in a page column)."""
    week = weekly["week"]
    at_end = "" if period == "week" else f" at the {period}'s end"
    traces = [
        {
            "type": "bar",
            "x": week,
            "y": weekly["production"],
            "name": "production",
            "marker": {"color": PALETTE[0]},
            "hovertemplate": "made %{y:,.0f}<extra>" + WEEK_X + "</extra>",
        },
        {
            "type": "bar",
            "x": week,
            "y": weekly["unmet"],
            "name": "unmet demand",
            "marker": {"color": PALETTE[5]},
            "hovertemplate": "unmet %{y:,.0f}<extra>" + WEEK_X + "</extra>",
        },
        {
            "type": "scatter",
            "x": week,
            "y": weekly["demand"],
            "name": "revised target",
            "mode": "lines+markers",
            "line": {"color": "#111111", "width": 3},
            "hovertemplate": "revised target %{y:,.0f}<extra>" + WEEK_X + "</extra>",
        },
        {
            "type": "scatter",
            "x": week,
            "y": weekly["inventory"],
            "name": "stock (right)",
            "mode": "lines",
            "yaxis": "y2",
            "line": {"color": PALETTE[2], "width": 3, "dash": "dot"},
            "hovertemplate": f"stock{at_end} %{{y:,.0f}}<extra>{WEEK_X}</extra>",
        },
    ]
    if "safety_stock" in weekly:
        short = weekly.get("below_safety", pd.Series(0.0, index=weekly.index))
        traces.append(
            {
                "type": "scatter",
                "x": week,
                "y": weekly["safety_stock"],
                "name": "safety stock (right)",
                "mode": "lines",
                "yaxis": "y2",
                "line": {"color": "#444444", "width": 2, "dash": "dash"},
                "customdata": short,
                "hovertemplate": "safety stock %{y:,.0f}, %{customdata:,.0f} short"
                f"{at_end}<extra>{WEEK_X}</extra>",
            }
        )
    return figure(
        traces,
        title,
        f"Units per {period}",
        height=440,
        layout={
            "barmode": "stack",
            "xaxis": week_ticks(week, most=week_labels),
            "yaxis": unit_ticks(weekly["production"] + weekly["unmet"], weekly["demand"]),
            "yaxis2": {
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
                "title": {"text": "Stock"},
                # Its own round steps: plotly.js syncs an overlaying axis' ticks to the left
                # axis' grid by default, which gave ticks at 69.314k, 138.628k...
                "tickmode": "auto",
                **unit_ticks(weekly["inventory"], weekly.get("safety_stock", [])),
                "automargin": True,
            },
        },
    )


def cover_chart(cover: pd.DataFrame, safety_weeks: float, limit: int = 15) -> go.Figure:
    """Horizontal bars of the SKUs with the fewest weeks of cover (``sku``, ``product``,
    ``weeks_of_cover``), red below the safety stock, which is marked at ``safety_weeks`` (the
    production plan's, ``PlanSettings.safety_weeks``: pass it, there is no second default)."""
    rows = cover.dropna(subset=["weeks_of_cover"]).nsmallest(limit, "weeks_of_cover")
    rows = rows.iloc[::-1]
    colours = [PALETTE[5] if w < safety_weeks else PALETTE[0] for w in rows["weeks_of_cover"]]
    bars = {
        "type": "bar",
        "x": rows["weeks_of_cover"],
        "y": rows["sku"] + "  " + rows["product"],
        "orientation": "h",
        "marker": {"color": colours},
        "text": [f"{w:.1f}" for w in rows["weeks_of_cover"]],
        "textposition": "outside",
        "hovertemplate": "%{y}: %{x:.1f} weeks of cover<extra></extra>",
    }
    top = float(rows["weeks_of_cover"].max()) if len(rows) else safety_weeks
    safety = {"x0": safety_weeks, "x1": safety_weeks, "xref": "x", "yref": "paper"}
    return figure(
        [bars],
        f"Lowest stock cover ({len(rows)} SKUs)",
        "",
        height=max(360, 34 * len(rows) + 150),
        layout={
            "yaxis": {"automargin": True},
            "xaxis": {
                "title": {"text": "Weeks of cover at recent sales"},
                "range": [0, max(top, safety_weeks) * 1.15],
            },
            "shapes": [
                {
                    "type": "line",
                    **safety,
                    "y0": 0,
                    "y1": 1,
                    "line": {"dash": "dash", "color": "#444444"},
                }
            ],
            "annotations": [
                {
                    "x": safety_weeks,
                    "xref": "x",
                    "y": 1,
                    "yref": "paper",
                    "yanchor": "bottom",
                    "text": f"safety stock: {weeks_text(safety_weeks)}",
                    "showarrow": False,
                }
            ],
        },
    )
