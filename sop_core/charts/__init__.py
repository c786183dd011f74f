"""Plotly figure builders for the meeting screen. They take frames and return figures.

Everything here is sized for a projector at the back of a room: large type, few colours that
stay apart for colour-blind viewers (Okabe-Ito), thresholds drawn as lines and labelled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from sop_core.data.calendar import holiday_weeks

# Okabe-Ito, colour-blind safe; families keep their colour on every chart.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
FAMILY_COLOURS = {
    "skincare": "#0072B2",
    "haircare": "#E69F00",
    "fragrance": "#CC79A7",
    "makeup": "#D55E00",
    "body care": "#009E73",
}
FONT_SIZE = 16
UTILISATION_WARNING = 0.85


def colour_for(name: str, index: int = 0) -> str:
    """The family's colour, or a palette colour for anything else."""
    return FAMILY_COLOURS.get(name, PALETTE[index % len(PALETTE)])


def _merge(base: dict, extra: dict) -> dict:
    """``base`` with ``extra`` laid over it, nested dicts merged key by key."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _figure(
    traces: list[dict],
    title: str,
    y_title: str,
    height: int = 460,
    layout: dict | None = None,
) -> go.Figure:
    """A figure with the projector styling, built in one go from plain dicts.

    Every builder describes its traces and layout as dicts and constructs the figure once:
    plotly validates a whole spec in a few milliseconds, while ``add_trace`` and
    ``update_layout`` calls (and its default template) cost tens of milliseconds per figure,
    which a live lever move would feel. ``layout`` is merged over the common styling.
    """
    common = {
        "template": "none",
        "title": {"text": title, "font": {"size": FONT_SIZE + 4}},
        "paper_bgcolor": "#FFFFFF",
        "plot_bgcolor": "#FFFFFF",
        "font": {"size": FONT_SIZE, "color": "#111111"},
        "height": height,
        "margin": {"l": 70, "r": 30, "t": 90, "b": 50},
        "legend": {
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.0,
            "xanchor": "left",
            "x": 0,
            "traceorder": "normal",
        },
        "hoverlabel": {"font": {"size": FONT_SIZE}},
        "xaxis": {"showgrid": False, "linecolor": "#444444", "ticks": "outside"},
        "yaxis": {
            "title": {"text": y_title},
            "gridcolor": "#E5E5E5",
            "zerolinecolor": "#BBBBBB",
            "separatethousands": True,
        },
    }
    return go.Figure({"data": traces, "layout": _merge(common, layout or {})})


def _weekly_line(
    x: pd.Series,
    y: pd.Series,
    name: str,
    colour: str,
    *,
    width: int = 3,
    dash: str = "solid",
    markers: bool = False,
    label: str | None = None,
) -> dict:
    """A weekly series as a line trace whose hover says ``label 12,345`` and the week."""
    trace = {
        "type": "scatter",
        "x": x,
        "y": y,
        "mode": "lines+markers" if markers else "lines",
        "name": name,
        "line": {"color": colour, "width": width, "dash": dash},
        "hovertemplate": f"{label or name} %{{y:,.0f}}<extra>%{{x|%d %b %Y}}</extra>",
    }
    if markers:
        trace["marker"] = {"size": 6}
    return trace


def _band(x: pd.Series, upper: pd.Series, lower: pd.Series, name: str, alpha: float) -> list[dict]:
    """A shaded band between ``lower`` and ``upper`` (two traces: the upper edge, then the lower
    one filled up to it), in the forecast's blue at opacity ``alpha``."""
    edge = {"type": "scatter", "x": x, "mode": "lines", "line": {"width": 0}, "hoverinfo": "skip"}
    return [
        {**edge, "y": upper, "showlegend": False, "name": f"upper {name}"},
        {
            **edge,
            "y": lower,
            "fill": "tonexty",
            "fillcolor": f"rgba(0, 114, 178, {alpha})",
            "name": f"{name} band",
        },
    ]


def weekly_history_chart(
    weekly: pd.DataFrame,
    value: str = "units",
    title: str = "Weekly sales by family",
    currency: str = "EUR",
) -> go.Figure:
    """Stacked weekly history by family, with the retail holidays marked along the top.

    ``weekly`` has columns ``week``, ``family`` and ``value``.
    """
    traces = [
        {
            "type": "scatter",
            "x": rows["week"],
            "y": rows[value],
            "name": family,
            "mode": "lines",
            "stackgroup": "history",
            "line": {"width": 1, "color": colour_for(family, index)},
            "hovertemplate": f"{family}<br>%{{x|%d %b %Y}}: %{{y:,.0f}}<extra></extra>",
        }
        for index, (family, rows) in enumerate(weekly.groupby("family", sort=True))
    ]
    if not weekly.empty:
        weeks = pd.DatetimeIndex(sorted(weekly["week"].unique()))
        marks = holiday_weeks(weeks)
        totals = weekly.groupby("week")[value].sum()
        if not marks.empty:
            traces.append(
                {
                    "type": "scatter",
                    "x": marks["week"],
                    "y": totals.reindex(marks["week"]).to_numpy() * 1.04,
                    "mode": "markers",
                    "name": "holiday",
                    "marker": {"symbol": "triangle-down", "size": 12, "color": "#444444"},
                    "text": marks["holiday"],
                    "hovertemplate": "%{text}, week of %{x|%d %b %Y}<extra></extra>",
                }
            )
    label = "Units" if value == "units" else f"{value.replace('_', ' ').capitalize()} ({currency})"
    return _figure(traces, title, label)


def lift_by_depth_chart(lift: pd.DataFrame) -> go.Figure:
    """Bars of the median observed lift by discount depth (``depth_percent``, ``median_lift``,
    ``promoted_weeks``)."""
    bars = {
        "type": "bar",
        "x": lift["depth_percent"].astype(str) + "%",
        "y": lift["median_lift"],
        "text": [f"{v:+.0%}" for v in lift["median_lift"]],
        "textposition": "outside",
        "marker": {"color": PALETTE[0]},
        "customdata": lift["promoted_weeks"],
        "hovertemplate": "%{x} off: median lift %{y:.0%} over %{customdata} promoted "
        "weeks<extra></extra>",
    }
    return _figure(
        [bars],
        "Observed sales lift by discount depth",
        "Lift vs unpromoted weeks",
        layout={
            "yaxis": {"tickformat": ".0%", "rangemode": "tozero"},
            "xaxis": {"title": {"text": "Discount depth"}},
        },
    )


def utilisation_heatmap(utilisation: pd.DataFrame, title: str) -> go.Figure:
    """Line x week heatmap of utilisation (``line``, ``week``, ``utilisation``,
    ``needed_hours``, ``available_hours``); red above 100%, amber above 85%."""
    utilisation = utilisation.assign(
        label=utilisation["line"] + "  " + utilisation.get("line_name", "")
    )
    grid = utilisation.pivot(index="label", columns="week", values="utilisation").sort_index(
        ascending=False
    )
    needed = utilisation.pivot(index="label", columns="week", values="needed_hours")
    available = utilisation.pivot(index="label", columns="week", values="available_hours")
    needed, available = needed.reindex_like(grid), available.reindex_like(grid)
    probability = None
    if "overload_probability" in utilisation:
        probability = utilisation.pivot(
            index="label", columns="week", values="overload_probability"
        ).reindex_like(grid)
    heatmap = {
        "type": "heatmap",
        "z": grid.to_numpy(),
        "x": grid.columns,
        "y": grid.index,
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
            "title": {"text": "Load"},
            "tickformat": ".0%",
            "tickvals": [0, 0.5, UTILISATION_WARNING, 1.0, 1.5],
        },
        "customdata": np.dstack(
            [needed.to_numpy(), available.to_numpy()]
            + ([probability.to_numpy()] if probability is not None else [])
        ),
        "hovertemplate": "%{y}, week of %{x|%d %b %Y}<br>load %{z:.0%}<br>"
        "%{customdata[0]:,.0f} h needed of %{customdata[1]:,.0f} h available"
        + ("<br>%{customdata[2]:.0%} chance of overload" if probability is not None else "")
        + "<extra></extra>",
        "xgap": 1,
        "ygap": 2,
    }
    # Rows shrink as lines are added, so a plant with many lines still fits on one screen.
    row = 60 if len(grid) <= 8 else max(14, 480 // len(grid))
    return _figure(
        [heatmap],
        title,
        "",
        height=min(900, max(320, row * len(grid) + 160)),
        # Weeks with no hours at all (a shutdown) have no utilisation: they show as grey.
        layout={"plot_bgcolor": "#BDBDBD", "yaxis": {"type": "category", "automargin": True}},
    )


def cover_chart(cover: pd.DataFrame, limit: int = 15, safety_weeks: float = 2.0) -> go.Figure:
    """Horizontal bars of the SKUs with the fewest weeks of cover (``sku``, ``product``,
    ``weeks_of_cover``), with the safety level marked."""
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
    return _figure(
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
                    "text": f"{safety_weeks:g} weeks",
                    "showarrow": False,
                }
            ],
        },
    )


def scenario_chart(weekly: pd.DataFrame, title: str = "Baseline and revised volume") -> go.Figure:
    """Weekly baseline (grey) and revised target (blue) with the revised 80% band.

    ``weekly`` has ``week``, ``baseline``, ``revised``, ``lower_80`` and ``upper_80``.
    """
    week = weekly["week"]
    traces = [
        *_band(week, weekly["upper_80"], weekly["lower_80"], "80%", 0.15),
        _weekly_line(week, weekly["baseline"], "baseline", "#7f7f7f", dash="dot"),
        _weekly_line(
            week,
            weekly["revised"],
            "revised target",
            PALETTE[0],
            width=4,
            markers=True,
            label="revised",
        ),
    ]
    return _figure(
        traces, title, "Units per week", height=430, layout={"yaxis": {"rangemode": "tozero"}}
    )


def line_load_chart(load: pd.DataFrame, overtime_hours: float, title: str) -> go.Figure:
    """One line's weekly hours needed (bars, red above capacity) against its available hours
    (a line) and the overtime band above it. ``load`` has ``week``, ``needed_hours``,
    ``available_hours`` and ``overload_probability``."""
    over = load["needed_hours"] > load["available_hours"] + 1e-9
    traces = [
        {
            "type": "scatter",
            "x": load["week"],
            "y": load["available_hours"] + overtime_hours,
            "mode": "lines",
            "line": {"width": 0},
            "showlegend": False,
            "hoverinfo": "skip",
        },
        {
            "type": "scatter",
            "x": load["week"],
            "y": load["available_hours"],
            "mode": "lines",
            "fill": "tonexty",
            "fillcolor": "rgba(230, 159, 0, 0.25)",
            "line": {"color": "#111111", "width": 3},
            "name": "capacity (overtime band above)",
            "hovertemplate": "%{y:,.0f} h available<extra>%{x|%d %b %Y}</extra>",
        },
        {
            "type": "bar",
            "x": load["week"],
            "y": load["needed_hours"],
            "name": "hours needed",
            "marker": {"color": [PALETTE[5] if o else PALETTE[0] for o in over]},
            "customdata": load["overload_probability"],
            "hovertemplate": "%{y:,.0f} h needed, %{customdata:.0%} chance of overload"
            "<extra>%{x|%d %b %Y}</extra>",
        },
    ]
    return _figure(
        traces, title, "Hours per week", height=420, layout={"yaxis": {"rangemode": "tozero"}}
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
    return _figure(
        traces,
        title,
        "Unit cost",
        height=400,
        layout={"xaxis": {"title": {"text": "Units per batch"}, "rangemode": "tozero"}},
    )


def plan_chart(weekly: pd.DataFrame, title: str = "Production plan against demand") -> go.Figure:
    """Weekly production (bars) against demand (line), unmet demand in red and the projected
    stock on a second axis. ``weekly`` has week, demand, production, unmet, inventory."""
    week = weekly["week"]
    traces = [
        {
            "type": "bar",
            "x": week,
            "y": weekly["production"],
            "name": "production",
            "marker": {"color": PALETTE[0]},
            "hovertemplate": "made %{y:,.0f}<extra>%{x|%d %b %Y}</extra>",
        },
        {
            "type": "bar",
            "x": week,
            "y": weekly["unmet"],
            "name": "unmet demand",
            "marker": {"color": PALETTE[5]},
            "hovertemplate": "unmet %{y:,.0f}<extra>%{x|%d %b %Y}</extra>",
        },
        {
            "type": "scatter",
            "x": week,
            "y": weekly["demand"],
            "name": "demand",
            "mode": "lines+markers",
            "line": {"color": "#111111", "width": 3},
            "hovertemplate": "demand %{y:,.0f}<extra>%{x|%d %b %Y}</extra>",
        },
        {
            "type": "scatter",
            "x": week,
            "y": weekly["inventory"],
            "name": "stock (right)",
            "mode": "lines",
            "yaxis": "y2",
            "line": {"color": PALETTE[2], "width": 3, "dash": "dot"},
            "hovertemplate": "stock %{y:,.0f}<extra>%{x|%d %b %Y}</extra>",
        },
    ]
    return _figure(
        traces,
        title,
        "Units per week",
        height=440,
        layout={
            "barmode": "stack",
            "yaxis2": {
                "overlaying": "y",
                "side": "right",
                "rangemode": "tozero",
                "showgrid": False,
                "title": {"text": "Stock"},
                "tickformat": "~s",
                "automargin": True,
            },
        },
    )


def demand_chart(
    series: pd.DataFrame,
    title: str,
    y_title: str = "Units per week",
    approved_name: str | None = None,
    history_weeks: int = 52,
) -> go.Figure:
    """Actuals, the statistical forecast with its 80% and 95% bands, the consensus and the
    approved plan, with promotion weeks shaded and holidays marked along the top.

    ``series`` is ``DemandCube.series``: ``week, actual, statistical, lower_80, upper_80,
    lower_95, upper_95, consensus, approved, promoted, promoted_share, holiday``. The view
    opens on the last ``history_weeks`` of history and the whole horizon (zoom out for more).
    """
    future = series[series["statistical"].notna()]
    past = series[series["actual"].notna()]
    week = future["week"]

    traces = [
        *_band(week, future["upper_95"], future["lower_95"], "95%", 0.10),
        *_band(week, future["upper_80"], future["lower_80"], "80%", 0.20),
        _weekly_line(past["week"], past["actual"], "actual", "#111111"),
        _weekly_line(week, future["statistical"], "statistical", PALETTE[0], dash="dash"),
        _weekly_line(week, future["consensus"], "consensus", PALETTE[5], width=4, markers=True),
    ]
    if approved_name and future["approved"].notna().any():
        traces.append(
            _weekly_line(
                week,
                future["approved"],
                f"approved: {approved_name}",
                PALETTE[2],
                dash="dot",
                label="approved",
            )
        )
    top = float(
        np.nanmax(series[["actual", "upper_80", "consensus"]].to_numpy(dtype=float), initial=0)
    )
    promoted = series[series["promoted"]]
    half_week = pd.Timedelta(days=3.5)
    shapes = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": w - half_week,
            "x1": w + half_week,
            "y0": 0,
            "y1": 1,
            "fillcolor": "rgba(204, 121, 167, 0.18)",
            "line": {"width": 0},
            "layer": "below",
        }
        for w in promoted["week"]
    ]
    if len(promoted):
        traces.append(
            {
                "type": "scatter",
                "x": promoted["week"],
                "y": np.zeros(len(promoted)),
                "mode": "markers",
                "name": "promotion week",
                "marker": {"symbol": "square", "size": 12, "color": "rgba(204, 121, 167, 0.5)"},
                "customdata": promoted["promoted_share"],
                "hovertemplate": "promotion: %{customdata:.0%} of volume<extra>"
                "%{x|%d %b %Y}</extra>",
            }
        )
    holidays = series[series["holiday"] != ""]
    if len(holidays):
        traces.append(
            {
                "type": "scatter",
                "x": holidays["week"],
                "y": np.full(len(holidays), top * 1.06),
                "mode": "markers",
                "name": "holiday",
                "marker": {"symbol": "triangle-down", "size": 13, "color": "#444444"},
                "text": holidays["holiday"],
                "hovertemplate": "%{text}<extra>%{x|%d %b %Y}</extra>",
            }
        )
    start = week.iloc[0] if len(week) else series["week"].iloc[-1]
    shapes.append(
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": start - half_week,
            "x1": start - half_week,
            "y0": 0,
            "y1": 1,
            "line": {"color": "#444444", "width": 2, "dash": "dot"},
        }
    )
    first = start - pd.Timedelta(weeks=history_weeks)
    return _figure(
        traces,
        title,
        y_title,
        height=520,
        layout={
            "shapes": shapes,
            "annotations": [
                {
                    "x": start - half_week,
                    "y": 0.02,
                    "xref": "x",
                    "yref": "paper",
                    "text": " forecast →",
                    "showarrow": False,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "font": {"size": FONT_SIZE},
                }
            ],
            "xaxis": {"range": [first, series["week"].iloc[-1] + half_week]},
            "yaxis": {"rangemode": "tozero", "range": [0, top * 1.12] if top > 0 else None},
            "hovermode": "x unified",
        },
    )


def accuracy_chart(by_lag: pd.DataFrame, title: str) -> go.Figure:
    """WAPE by forecast lag: the statistical forecast against seasonal naive (and the
    consensus where the team overrode it). ``by_lag`` is ``accuracy.accuracy_by_lag`` output,
    with ``consensus_wape`` when there is a consensus to show."""
    lines = [
        ("wape", "statistical", PALETTE[0], "solid"),
        ("naive_wape", "seasonal naive", "#7f7f7f", "dot"),
    ]
    if "consensus_wape" in by_lag:
        lines.append(("consensus_wape", "consensus", PALETTE[5], "solid"))
    traces = [
        {
            "type": "scatter",
            "x": by_lag["lag"],
            "y": by_lag[column],
            "mode": "lines+markers",
            "name": name,
            "line": {"color": colour, "width": 4, "dash": dash},
            "marker": {"size": 10},
            "hovertemplate": f"{name}: %{{y:.1%}}<extra>lag %{{x}} weeks</extra>",
        }
        for column, name, colour, dash in lines
    ]
    return _figure(
        traces,
        title,
        "WAPE (lower is better)",
        height=380,
        layout={
            "xaxis": {"title": {"text": "Weeks ahead the forecast was made (lag)"}, "dtick": 1},
            "yaxis": {"tickformat": ".0%", "rangemode": "tozero"},
        },
    )


def comparison_chart(weekly: pd.DataFrame, title: str = "Weekly volume by scenario") -> go.Figure:
    """One line per scenario (``weekly``: ``week, scenario, volume``); the first is drawn
    thickest, as the reference the others are compared with."""
    traces = [
        _weekly_line(
            rows["week"],
            rows["volume"],
            name,
            PALETTE[index % len(PALETTE)],
            width=5 if index == 0 else 3,
            dash="solid" if index == 0 else ("dash", "dot", "dashdot")[(index - 1) % 3],
            markers=index == 0,
        )
        for index, (name, rows) in enumerate(weekly.groupby("scenario", sort=False))
    ]
    return _figure(
        traces, title, "Units per week", height=420, layout={"yaxis": {"rangemode": "tozero"}}
    )


def waterfall_chart(changes: pd.DataFrame, value: str, title: str, y_title: str) -> go.Figure:
    """From the approved plan to the plan now, one bar per cause (``changes``:
    ``cause, volume, revenue``; first row the approved plan, last row the plan now)."""
    shown = changes[(changes[value].abs() > 1e-6) | changes.index.isin([0, len(changes) - 1])]
    measure = ["absolute", *["relative"] * (len(shown) - 2), "total"]
    trace = {
        "type": "waterfall",
        "x": shown["cause"],
        "y": shown[value],
        "measure": measure,
        "connector": {"line": {"color": "#999999"}},
        "increasing": {"marker": {"color": PALETTE[2]}},
        "decreasing": {"marker": {"color": PALETTE[5]}},
        "totals": {"marker": {"color": PALETTE[0]}},
        "texttemplate": "%{delta:+,.3s}",
        "textposition": "outside",
        "hovertemplate": "%{x}: %{y:,.0f}<extra></extra>",
        "showlegend": False,
    }
    low = float(changes[value].iloc[[0, -1]].min())
    return _figure(
        [trace],
        title,
        y_title,
        height=440,
        layout={"yaxis": {"range": [low * 0.9, None] if low > 0 else None}},
    )
