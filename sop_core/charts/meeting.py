"""Meeting charts: scenarios side by side, and the walk from the plan of record to the plan
now, cause by cause."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from sop_core.charts.style import COLUMN_TICKS, PALETTE, figure, unit_ticks, week_ticks, weekly_line
from sop_core.data import formats


def comparison_chart(
    weekly: pd.DataFrame,
    title: str = "Weekly revised target by scenario",
    *,
    period: str = "week",
) -> go.Figure:
    """One line per scenario (``weekly``: ``week, scenario, volume``); the first is drawn
    thickest, as the reference the others are compared with. ``period`` names the rows' period
    on the units axis (``month`` for rows per month)."""
    traces = [
        weekly_line(
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
    return figure(
        traces,
        title,
        f"Units per {period}",
        height=420,
        layout={
            "xaxis": week_ticks(weekly["week"], most=COLUMN_TICKS),
            "yaxis": {"rangemode": "tozero", **unit_ticks(weekly["volume"])},
        },
    )


def waterfall_chart(changes: pd.DataFrame, value: str, title: str, y_title: str) -> go.Figure:
    """From the plan of record to the plan now, one bar per cause (``changes``:
    ``cause, volume, revenue``; first row the plan of record, last row the plan now)."""
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
        # As the formatting module writes figures: "1.2M" for the plans, "+12.3k" for a cause.
        "text": [
            formats.compact(amount, signed=kind == "relative")
            for amount, kind in zip(shown[value], measure, strict=True)
        ],
        "texttemplate": "%{text}",
        "textposition": "outside",
        "hovertemplate": "%{x}: %{y:,.0f}<extra></extra>",
        "showlegend": False,
    }
    low = float(changes[value].iloc[[0, -1]].min())
    return figure(
        [trace],
        title,
        y_title,
        height=440,
        layout={"yaxis": {"range": [low * 0.9, None] if low > 0 else None}},
    )


# How each comparison is drawn: the plan as bars, the others as markers over them.
_SOURCES = {
    "budget": ("budget", "#000000", "line-ew"),
    "last_year": ("same period last year", PALETTE[1], "circle"),
    "plan_of_record": ("plan of record", PALETTE[2], "diamond"),
}


def budget_chart(
    table: pd.DataFrame, bucket: str, value: str = "units", currency: str = "EUR"
) -> go.Figure:
    """The plan per fiscal month or quarter (bars) against the budget, the same period last
    year and the plan of record (markers), in ``value`` ("units", "revenue" or "margin").
    ``table`` is ``sop_core.meeting.budget.period_comparison``'s: the bars of a period the
    plan covers in part say how much (its ``covered`` share)."""
    periods = table[bucket]
    covered = ["" if share > 0.999 else f"{share:.0%} of it planned" for share in table["covered"]]
    money = value != "units"
    number = "%{y:,.0f}" + (f" {currency}" if money else "")
    traces = [
        {
            "type": "bar",
            "x": periods,
            "y": table[f"plan_{value}"],
            "name": "plan",
            "marker": {"color": PALETTE[0]},
            "customdata": covered,
            "hovertemplate": f"plan {number}<br>%{{customdata}}<extra>%{{x}}</extra>",
        }
    ]
    for source, (name, colour, symbol) in _SOURCES.items():
        figures = table[f"{source}_{value}"]
        if figures.isna().all():
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": periods,
                "y": figures,
                "name": name,
                "marker": {
                    "symbol": symbol,
                    "size": 26 if symbol == "line-ew" else 12,
                    "color": colour,
                    "line": {"width": 4 if symbol == "line-ew" else 1, "color": colour},
                },
                "hovertemplate": f"{name} {number}<extra>%{{x}}</extra>",
            }
        )
    label = value.capitalize() + (f" ({currency})" if money else "")
    return figure(
        traces,
        f"Plan against budget, last year and the plan of record, by {bucket}",
        f"{label} per {bucket}",
        height=420,
        layout={
            "xaxis": {"type": "category", "tickangle": 0, "automargin": True},
            "yaxis": {"rangemode": "tozero", **unit_ticks(table[f"plan_{value}"])},
        },
    )
