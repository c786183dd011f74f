"""Promotion and pricing charts: the scenario's revised volume against the baseline, and
the sales lift observed at each discount depth."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from sop_core.charts.style import (
    COLUMN_TICKS,
    PALETTE,
    band,
    figure,
    unit_ticks,
    week_ticks,
    weekly_line,
)


def scenario_chart(weekly: pd.DataFrame, title: str = "Baseline and revised volume") -> go.Figure:
    """Weekly baseline (grey) and revised target (blue) with the revised 80% band.

    ``weekly`` has ``week``, ``baseline``, ``revised``, ``lower_80`` and ``upper_80``.
    """
    week = weekly["week"]
    traces = [
        *band(week, weekly["upper_80"], weekly["lower_80"], "80%", 0.15),
        weekly_line(week, weekly["baseline"], "baseline", "#7f7f7f", dash="dot"),
        weekly_line(
            week,
            weekly["revised"],
            "revised target",
            PALETTE[0],
            width=4,
            markers=True,
            label="revised",
        ),
    ]
    return figure(
        traces,
        title,
        "Units per week",
        height=430,
        layout={
            "xaxis": week_ticks(week, most=COLUMN_TICKS),
            "yaxis": {"rangemode": "tozero", **unit_ticks(weekly["upper_80"], weekly["revised"])},
        },
    )


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
    return figure(
        [bars],
        "Observed sales lift by discount depth",
        "Lift vs unpromoted weeks",
        layout={
            "yaxis": {"tickformat": ".0%", "rangemode": "tozero"},
            "xaxis": {"title": {"text": "Discount depth"}},
        },
    )
