"""Supply & capacity: the lines, their hours, and how hard they ran to meet past demand."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import sop_ui
from sop_core import charts, queries

sop_ui.require_shell()
facts = sop_ui.facts()
scope = sop_ui.scope()
last_week = facts["history_last_week"]
next_week = last_week + dt.timedelta(weeks=1)

st.title("Supply & capacity")
st.caption(
    f"{sop_ui.scope_caption(scope, channels=False)} Lines make for every channel, so the "
    "channel filter does not apply here."
)

lines = sop_ui.load("line_overview", next_week, 13, scope)
history = sop_ui.load("line_utilisation_history", last_week, 52, scope)
used = sop_ui.load("hours_used", last_week, 52, scope)
over = history[history["utilisation"] > 1.0]
peak = queries.busiest(history)
actual = used["hours_used"].sum() / max(used["available_hours"].sum(), 1e-9)

sop_ui.kpi_row(
    [
        sop_ui.Kpi("Production lines", f"{len(lines)}", note=f"{lines['plant'].nunique()} plants"),
        sop_ui.Kpi(
            "Hours used, last 52 weeks",
            f"{actual:.0%}",
            note="of available hours",
            help="Line hours recorded in production actuals, changeovers included, over "
            "standard hours plus the capacity calendar.",
        ),
        sop_ui.Kpi(
            "Overloaded weeks, last 52 weeks",
            f"{len(over)}",
            note=f"line-weeks on {over['line'].nunique()} lines" if len(over) else None,
            help="Line-weeks where making what was sold would have needed more hours than "
            "were available.",
        ),
        sop_ui.Kpi(
            "Peak load from sales, 52 weeks",
            f"{peak['utilisation']:.0%}" if peak is not None else "n/a",
            note=f"line {peak['line']}, week of {peak['week']:%d %b %Y}"
            if peak is not None
            else None,
            help="Hours needed to make one week's sales over that week's available hours. "
            "Above 100% the plant built ahead or worked overtime.",
        ),
    ]
)

sop_ui.chart(
    charts.utilisation_heatmap(history, "Load from sales by line and week, last 52 weeks"),
    key="supply_heatmap",
)
st.caption(
    "Hours needed to make what was sold (units / units per hour / OEE on the default line) "
    "over available hours (standard hours plus shutdowns and extra shifts). Red is over 100%; "
    "grey marks a week with no hours at all (a shutdown)."
)

left, right = st.columns([3, 2])
with left:
    st.subheader("Lines")
    sop_ui.table(
        lines,
        line="Line",
        plant="Plant",
        name="Name",
        standard_hours_per_week=st.column_config.NumberColumn("Standard h/week", format="%d"),
        oee=st.column_config.NumberColumn("OEE", format="percent"),
        changeover_hours=st.column_config.NumberColumn("Changeover h", format="%.1f"),
        skus="SKUs",
        available_hours_next_13_weeks=st.column_config.NumberColumn(
            "Available h, next 13 weeks", format="localized"
        ),
    )
with right:
    st.subheader("Capacity calendar, next 26 weeks")
    sop_ui.table(
        sop_ui.load("capacity_exceptions_after", last_week, 26),
        week=st.column_config.DateColumn("Week", format="DD MMM YYYY"),
        line="Line",
        line_name="Name",
        hours_delta=st.column_config.NumberColumn("Hours", format="%+.0f"),
        reason="Reason",
    )

sop_ui.not_built_yet(
    "Load against capacity for the forecast and the chosen scenario, the probability of "
    "overload from the forecast's uncertainty, batch economics, and a capacity-constrained "
    "production plan. Today the load shown is what past sales would have needed."
)
