"""Plotly figure builders for the meeting screen, one module per meeting step.

Builders take frames and return figures; they never touch the database or streamlit. Callers
use ``charts.<builder>(...)``: this package re-exports every public builder. The shared look
(palette, projector styling, family colours) lives in ``style``.
"""

from __future__ import annotations

from sop_core.charts.demand import accuracy_chart, demand_chart
from sop_core.charts.history import weekly_history_chart
from sop_core.charts.meeting import budget_chart, comparison_chart, waterfall_chart
from sop_core.charts.promotions import lift_by_depth_chart, scenario_chart
from sop_core.charts.style import FONT_SIZE, PALETTE, family_colours
from sop_core.charts.supply import (
    HEATMAP_LINES,
    UTILISATION_WARNING,
    batch_cost_chart,
    cover_chart,
    line_load_chart,
    lines_by_load,
    plan_chart,
    utilisation_heatmap,
)

__all__ = [
    "FONT_SIZE",
    "HEATMAP_LINES",
    "PALETTE",
    "UTILISATION_WARNING",
    "accuracy_chart",
    "batch_cost_chart",
    "budget_chart",
    "comparison_chart",
    "cover_chart",
    "demand_chart",
    "family_colours",
    "lift_by_depth_chart",
    "line_load_chart",
    "lines_by_load",
    "plan_chart",
    "scenario_chart",
    "utilisation_heatmap",
    "waterfall_chart",
    "weekly_history_chart",
]
