"""Plan & decisions: stock position and production against sales, ahead of the decisions."""

from __future__ import annotations

import streamlit as st

import sop_ui
from sop_core import charts

sop_ui.require_shell()
facts = sop_ui.facts()
scope = sop_ui.scope()
last_week = facts["history_last_week"]

st.title("Plan & decisions")
st.caption("Stock and production have no channel; the family filter applies.")

cover = sop_ui.load("inventory_cover", scope, 13)
made = sop_ui.load("production_vs_sales", scope, last_week, 13)
low = cover[cover["weeks_of_cover"] < 2]

produced_share = made["units_produced"].sum() / max(made["units_sold"].sum(), 1)
sop_ui.kpi_row(
    [
        sop_ui.Kpi("Stock on hand (units)", sop_ui.units(cover["units_on_hand"].sum())),
        sop_ui.Kpi(
            "Stock value at variable cost",
            sop_ui.money(cover["stock_value"].sum(), facts["currency"]),
        ),
        sop_ui.Kpi("SKUs under 2 weeks of cover", f"{len(low)}"),
        sop_ui.Kpi("Produced vs sold, last 13 weeks", f"{produced_share:.0%}"),
    ]
)

left, right = st.columns([3, 2])
with left:
    sop_ui.chart(charts.cover_chart(cover), key="plan_cover")
with right:
    st.subheader("Last 13 weeks by family")
    sop_ui.table(
        made,
        family="Family",
        units_produced=st.column_config.NumberColumn("Produced", format="localized"),
        units_sold=st.column_config.NumberColumn("Sold", format="localized"),
        hours_used=st.column_config.NumberColumn("Line hours", format="%.0f"),
    )

sop_ui.not_built_yet(
    "Scenario comparison, approval of the plan of record as a frozen snapshot, what changed "
    "since the last approved plan, the decisions and assumptions log, and the meeting pack "
    "(Excel and HTML). Today this page shows the stock and production position."
)
