"""The sales history chart: weekly units or revenue stacked by family, holidays marked."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import plotly.graph_objects as go

from sop_core.charts.style import WEEK_X, family_colours, figure, plain, unit_ticks, week_ticks
from sop_core.data.calendar import holiday_weeks


def weekly_history_chart(
    weekly: pd.DataFrame,
    value: str = "units",
    title: str = "Weekly sales by family",
    currency: str = "EUR",
    families: Iterable[str] | None = None,
) -> go.Figure:
    """Stacked weekly history by family, with the retail holidays marked along the top.

    ``weekly`` has columns ``week``, ``family`` and ``value``. ``families`` is the company's
    whole list of families (``company_facts()["families"]``): with it a family keeps its
    colour when the filter hides others. Without it, the families in ``weekly`` are used.
    """
    # A family in the data but not in the list (a stale list) still gets a colour.
    colours = family_colours([*(families if families is not None else ()), *weekly["family"]])
    traces = [
        {
            "type": "scatter",
            "x": rows["week"],
            "y": rows[value],
            "name": family,
            "mode": "lines",
            "stackgroup": "history",
            "line": {"width": 1, "color": colours[family]},
            "hovertemplate": f"{plain(family)}<br>{WEEK_X}: %{{y:,.0f}}<extra></extra>",
        }
        for family, rows in weekly.groupby("family", sort=True)
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
                    "hovertemplate": "%{text}, " + WEEK_X + "<extra></extra>",
                }
            )
    label = "Units" if value == "units" else f"{value.replace('_', ' ').capitalize()} ({currency})"
    totals = weekly.groupby("week")[value].sum() if not weekly.empty else []
    return figure(
        traces,
        title,
        label,
        layout={"xaxis": week_ticks(weekly["week"]), "yaxis": unit_ticks(totals)},
    )
