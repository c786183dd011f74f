"""Demand review: is the history understood, and (later) is the forecast believable?"""

from __future__ import annotations

import streamlit as st

import sop_ui
from sop_core import charts

sop_ui.require_shell()
facts = sop_ui.facts()
scope = sop_ui.scope()
last_week = facts["history_last_week"]

st.title("Demand review")
st.caption(sop_ui.scope_caption(scope))

year = sop_ui.load("period_totals", scope, last_week, 52).set_index("period")
quarter = sop_ui.load("period_totals", scope, last_week, 13).set_index("period")
sop_ui.kpi_row(
    [
        sop_ui.Kpi(
            "Units, last 52 weeks",
            sop_ui.units(year.loc["current", "units"]),
            sop_ui.change(year.loc["current", "units"], year.loc["last_year", "units"]),
        ),
        sop_ui.Kpi(
            "Revenue, last 52 weeks",
            sop_ui.money(year.loc["current", "revenue"], facts["currency"]),
            sop_ui.change(year.loc["current", "revenue"], year.loc["last_year", "revenue"]),
        ),
        sop_ui.Kpi(
            "Units per week, last 13 weeks",
            sop_ui.units(quarter.loc["current", "units"] / 13),
            sop_ui.change(quarter.loc["current", "units"], quarter.loc["last_year", "units"]),
        ),
        sop_ui.Kpi(
            "Sold on promotion, last 52 weeks", f"{year.loc['current', 'promoted_share']:.0%}"
        ),
    ]
)

measure = st.segmented_control(
    "Measure",
    ["units", "revenue"],
    default="units",
    key="demand_measure",
    format_func=lambda m: "Units" if m == "units" else f"Revenue ({facts['currency']})",
    required=True,
)
weekly = sop_ui.load("weekly_sales_by_family", scope)
sop_ui.chart(
    charts.weekly_history_chart(
        weekly, value=measure, title=f"Weekly {measure} by family", currency=facts["currency"]
    ),
    key="demand_history",
)

st.subheader("Last 52 weeks by family and channel")
by_channel = sop_ui.load("totals_by_family_channel", scope, last_week, 52)
sop_ui.table(
    by_channel,
    family="Family",
    channel="Channel",
    units=st.column_config.NumberColumn("Units", format="localized"),
    revenue=st.column_config.NumberColumn(f"Revenue ({facts['currency']})", format="localized"),
    units_last_year=st.column_config.NumberColumn("Units a year earlier", format="localized"),
    units_vs_last_year=st.column_config.NumberColumn("Change", format="percent"),
)

sop_ui.not_built_yet(
    "The statistical forecast with its 80%/95% bands, accuracy by forecast lag (WAPE, bias, "
    "MASE), consensus overrides with reasons and history, and forecast value added. Today "
    "this page shows the sales history those will be built on."
)
