"""Demand review charts: the demand picture (actuals, statistical forecast with its bands,
consensus, plan of record) and forecast accuracy by lag."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from sop_core.charts.style import (
    FONT_SIZE,
    PALETTE,
    WEEK_X,
    band,
    figure,
    unit_ticks,
    week_ticks,
    weekly_line,
)


def demand_chart(
    series: pd.DataFrame,
    title: str,
    y_title: str = "Units per week",
    approved_name: str | None = None,
    history_weeks: int = 52,
) -> go.Figure:
    """Actuals, the statistical forecast with its 80% and 95% bands, the consensus and the
    plan of record (``approved_name``, e.g. ``plan of record v2 (Q1 push)``), with promotion
    weeks shaded and holidays marked along the top.

    ``series`` is ``DemandCube.series``: ``week, actual, statistical, lower_80, upper_80,
    lower_95, upper_95, consensus, approved, promoted, promoted_share, holiday``. The view
    opens on the last ``history_weeks`` of history and the whole horizon (zoom out for more).

    ``series`` per fiscal month or quarter (``sop_core.demand.by_period.series_by_period``,
    with a ``period`` column of names) draws one point per period on a category axis of their
    names, a promotion shading and a holiday marking their period, the forecast starting
    before the first period that has not closed.
    """
    by_period = "period" in series.columns
    x_of = "period" if by_period else "week"
    future = series[series["statistical"].notna()]
    past = series[series["actual"].notna()]
    week = future[x_of]

    traces = [
        *band(week, future["upper_95"], future["lower_95"], "95%", 0.10),
        *band(week, future["upper_80"], future["lower_80"], "80%", 0.20),
        weekly_line(past[x_of], past["actual"], "actual", "#111111"),
        weekly_line(week, future["statistical"], "statistical", PALETTE[0], dash="dash"),
        weekly_line(week, future["consensus"], "consensus", PALETTE[5], width=4, markers=True),
    ]
    if approved_name and future["approved"].notna().any():
        traces.append(
            weekly_line(
                week,
                future["approved"],
                approved_name,
                PALETTE[2],
                dash="dot",
                label="plan of record",
            )
        )
    top = float(
        np.nanmax(series[["actual", "upper_80", "consensus"]].to_numpy(dtype=float), initial=0)
    )
    promoted = series[series["promoted"]]
    half_week = pd.Timedelta(days=3.5)
    # On a category axis of periods a shape's x is the period's position, a period 1 wide.
    position = {name: i for i, name in enumerate(series[x_of])} if by_period else None
    half = 0.5 if by_period else half_week

    def at(x: object) -> object:
        return position[x] if position is not None else x

    shapes = [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": at(w) - half,
            "x1": at(w) + half,
            "y0": 0,
            "y1": 1,
            "fillcolor": "rgba(204, 121, 167, 0.18)",
            "line": {"width": 0},
            "layer": "below",
        }
        for w in promoted[x_of]
    ]
    if len(promoted):
        traces.append(
            {
                "type": "scatter",
                "x": promoted[x_of],
                "y": np.zeros(len(promoted)),
                "mode": "markers",
                "name": "promotion " + ("period" if by_period else "week"),
                "marker": {"symbol": "square", "size": 12, "color": "rgba(204, 121, 167, 0.5)"},
                "customdata": promoted["promoted_share"],
                "hovertemplate": "promotion: %{customdata:.0%} of volume<extra>"
                + WEEK_X
                + "</extra>",
            }
        )
    holidays = series[series["holiday"] != ""]
    if len(holidays):
        traces.append(
            {
                "type": "scatter",
                "x": holidays[x_of],
                "y": np.full(len(holidays), top * 1.06),
                "mode": "markers",
                "name": "holiday",
                "marker": {"symbol": "triangle-down", "size": 13, "color": "#444444"},
                "text": holidays["holiday"],
                "hovertemplate": "%{text}<extra>" + WEEK_X + "</extra>",
            }
        )
    start = at(week.iloc[0] if len(week) else series[x_of].iloc[-1])
    shapes.append(
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": start - half,
            "x1": start - half,
            "y0": 0,
            "y1": 1,
            "line": {"color": "#444444", "width": 2, "dash": "dot"},
        }
    )
    if by_period:
        # The hovers name the period, as the axis does.
        for trace in traces:
            if "hovertemplate" in trace:
                trace["hovertemplate"] = trace["hovertemplate"].replace(WEEK_X, "%{x}")
        # Opening on the periods of the last ``history_weeks`` (by their first days).
        opens_on = series["week"].iloc[min(int(start), len(series) - 1)] - pd.Timedelta(
            weeks=history_weeks
        )
        # From the period holding that day.
        first = max(int((series["week"] <= opens_on).sum()) - 1, 0) - 0.5
        x_axis = {
            "type": "category",
            "categoryorder": "array",
            "categoryarray": list(series[x_of]),
            "automargin": True,
            "range": [first, len(series) - 0.5],
        }
    else:
        x_axis = {
            # Labelled for the weeks it opens on; zoomed out, the labels run on.
            **week_ticks(series["week"], window=history_weeks + len(future)),
            "range": [
                start - pd.Timedelta(weeks=history_weeks),
                series["week"].iloc[-1] + half_week,
            ],
        }
    return figure(
        traces,
        title,
        y_title,
        height=520,
        layout={
            "shapes": shapes,
            "annotations": [
                {
                    "x": start - half,
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
            "xaxis": x_axis,
            "yaxis": {
                "rangemode": "tozero",
                "range": [0, top * 1.12] if top > 0 else None,
                **unit_ticks([top]),
            },
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
    return figure(
        traces,
        title,
        "WAPE (lower is better)",
        height=380,
        layout={
            "xaxis": {"title": {"text": "Weeks ahead the forecast was made (lag)"}, "dtick": 1},
            "yaxis": {"tickformat": ".0%", "rangemode": "tozero"},
        },
    )
