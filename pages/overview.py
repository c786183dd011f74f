"""Overview: the projector's first screen - where sales stand and the meeting's agenda."""

from __future__ import annotations

import streamlit as st

import sop_ui
from sop_core import charts, queries

sop_ui.require_shell()
facts = sop_ui.facts()
scope = sop_ui.scope()
last_week = facts["history_last_week"]
currency = facts["currency"]

st.title("Overview")
st.caption(
    f"{facts['company_name']} - sales to the week of {last_week:%d %b %Y}. "
    f"{sop_ui.scope_caption(scope)}"
)

totals = sop_ui.load("period_totals", scope, last_week, 13).set_index("period")
current, last_year = totals.loc["current"], totals.loc["last_year"]
load = sop_ui.load("line_utilisation_history", last_week, 13, scope)
peak = queries.busiest(load)

sop_ui.kpi_row(
    [
        sop_ui.Kpi(
            "Units sold, last 13 weeks",
            sop_ui.units(current["units"]),
            sop_ui.change(current["units"], last_year["units"]),
        ),
        sop_ui.Kpi(
            "Revenue, last 13 weeks",
            sop_ui.money(current["revenue"], currency),
            sop_ui.change(current["revenue"], last_year["revenue"]),
        ),
        sop_ui.Kpi(
            "Sold on promotion",
            f"{current['promoted_share']:.0%}",
            note=f"{last_year['promoted_share']:.0%} a year earlier",
        ),
        sop_ui.Kpi(
            "Peak load from sales, 13 weeks",
            f"{peak['utilisation']:.0%}" if peak is not None else "n/a",
            note=f"line {peak['line']}, week of {peak['week']:%d %b}" if peak is not None else None,
            help="Hours needed to make one week's sales over that week's available hours, on "
            "the busiest line (lines making the chosen families).",
        ),
    ]
)

weekly = sop_ui.load("weekly_sales_by_family", scope)
sop_ui.chart(charts.weekly_history_chart(weekly, title="Weekly units sold by family"))

st.subheader("Agenda")
agenda = st.columns(4)
agenda[0].page_link("pages/demand.py", label="1. Demand review", icon=":material/trending_up:")
agenda[1].page_link("pages/supply.py", label="2. Supply review", icon=":material/factory:")
agenda[2].page_link(
    "pages/promotions.py", label="3. Reconciliation: promotions & pricing", icon=":material/sell:"
)
agenda[3].page_link("pages/plan.py", label="4. Decisions", icon=":material/task_alt:")

sop_ui.not_built_yet(
    "This screen shows the sales history only. The forecast KPIs (consensus vs statistical "
    "forecast, unmet demand, revenue and margin against the last approved plan), demand vs "
    "supply over the planning horizon and the exceptions ranked by business impact come with "
    "the forecast, scenario and plan work."
)
