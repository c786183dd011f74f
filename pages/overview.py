"""Overview: the projector's first screen - where demand and supply stand, what needs a
decision, and the meeting's agenda."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

import sop_ui
from sop_core import charts
from sop_core.data.stores import sales

sop_ui.require_shell()
facts = sop_ui.facts()
scope = sop_ui.scope()
last_week = facts["history_last_week"]
currency = facts["currency"]
run = sop_ui.latest_run()
scenario_name = sop_ui.selected_scenario()

st.title("Overview")


def agenda() -> None:
    st.subheader("Agenda")
    steps = st.columns(4)
    steps[0].page_link("pages/demand.py", label="1. Demand review", icon=":material/trending_up:")
    steps[1].page_link("pages/supply.py", label="2. Supply review", icon=":material/factory:")
    steps[2].page_link(
        "pages/promotions.py",
        label="3. Reconciliation: promotions & pricing",
        icon=":material/sell:",
    )
    steps[3].page_link("pages/plan.py", label="4. Decisions", icon=":material/task_alt:")


def sales_history() -> None:
    totals = sop_ui.load("period_totals", scope, last_week, 13).set_index("period")
    current, last_year = totals.loc["current"], totals.loc["last_year"]
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
        ]
    )
    weekly = sop_ui.load("weekly_sales_by_family", scope)
    sop_ui.chart(
        charts.weekly_history_chart(weekly, title="Weekly units sold by family"), key="history"
    )


if run is None:
    st.caption(f"{facts['company_name']} - sales to the week of {last_week:%d %b %Y}.")
    st.info(
        "There is no demand forecast yet, so this screen shows the sales history. Make the "
        "forecast to see demand against supply and what needs a decision.",
        icon=":material/info:",
    )
    if st.button("Make the forecast now", type="primary", key="make_forecast"):
        sop_ui.refresh_forecast_with_progress("Making the forecast")
    sales_history()
    agenda()
    st.stop()

figures = sop_ui.overview(run["run_id"], scenario_name)
kpis = figures.kpis
base = sop_ui.plan_base(run["run_id"])
first, last = base.weeks[0].astype(object), base.weeks[figures.weeks - 1].astype(object)
year_ago = sop_ui.load("period_totals", sales.Scope(), last - dt.timedelta(days=364), 13).set_index(
    "period"
)
approved = sop_ui.load("plan_of_record_totals", first, last)
st.caption(
    f"{facts['company_name']} · next {figures.weeks} weeks from {first:%d %b %Y} · "
    f"{scenario_name or 'baseline (no levers)'} on forecast run {run['run_id']}"
    + (
        f" · plan of record v{approved['plan_version']} ({approved['scenario']})"
        if approved
        else " · no plan of record approved yet"
    )
)

demand = kpis["target"]
tiles = [
    sop_ui.Kpi(
        "Demand, next 13 weeks",
        sop_ui.units(demand),
        sop_ui.change(demand, year_ago.loc["current", "units"]),
        help="The consensus with the scenario's levers, against the same weeks a year earlier.",
    ),
    sop_ui.Kpi(
        "Consensus vs statistical",
        sop_ui.change(kpis["consensus"], kpis["statistical"]) or "0%",
        note="the team's overrides",
    ),
    sop_ui.Kpi(
        "Peak line load",
        f"{kpis['peak_utilisation']:.0%}" if kpis["peak_week"] is not None else "n/a",
        note=f"{kpis['peak_line']}, week of {kpis['peak_week']:%d %b}"
        if kpis["peak_week"] is not None
        else "no production plan",
    ),
    sop_ui.Kpi(
        "Unmet demand",
        sop_ui.units(kpis["unmet_units"]) if kpis["peak_week"] is not None else "n/a",
        note=f"{kpis['unmet_units'] / demand:.1%} of demand"
        if demand and kpis["peak_week"] is not None
        else None,
    ),
]
if approved and approved["revenue"]:
    # Like for like: today's plan over the weeks the plan of record covers.
    common = figures.money[
        (figures.money["week"] >= pd.Timestamp(approved["first_week"]))
        & (figures.money["week"] <= pd.Timestamp(approved["last_week"]))
    ]
    against = f"vs plan of record v{approved['plan_version']}"
    if approved["weeks"] < figures.weeks:
        against += f", {approved['weeks']} weeks in common"
    tiles += [
        sop_ui.Kpi(
            f"Revenue ({currency})",
            sop_ui.units(kpis["revenue"]),
            sop_ui.change(common["revenue"].sum(), approved["revenue"]),
            change_label=against,
        ),
        sop_ui.Kpi(
            f"Margin ({currency})",
            sop_ui.units(kpis["margin"]),
            sop_ui.change(common["margin"].sum(), approved["margin"]),
            change_label=against,
        ),
    ]
else:
    tiles.append(
        sop_ui.Kpi(
            f"Revenue ({currency})", sop_ui.units(kpis["revenue"]), note="no plan of record yet"
        )
    )
sop_ui.kpi_row(tiles)
for note in figures.notes:
    st.warning(note, icon=":material/warning:")

left, right = st.columns([3, 2])
with left:
    sop_ui.chart(
        charts.plan_chart(figures.weekly, title="Demand and what the lines can make"),
        key="overview_supply",
    )
with right:
    st.subheader("What needs a decision")
    if figures.exceptions.empty:
        st.success("Nothing: the lines make all demand and no forecast missed badly.")
    else:
        top = figures.exceptions.head(8)
        st.table(
            top.assign(impact=top["impact"].map(lambda v: sop_ui.money(v, currency))).rename(
                columns={"kind": "Side", "item": "SKU", "detail": "What", "impact": "At stake"}
            ),
            hide_index=True,
        )
        st.caption(
            "Supply: margin of the demand the plan cannot meet. "
            "Demand: past forecast error x price."
        )

agenda()
st.page_link(
    "pages/present.py",
    label="Present the agenda: one chart per screen, large type",
    icon=":material/slideshow:",
)
