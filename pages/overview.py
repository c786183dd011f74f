"""Overview: the projector's first screen - where demand and supply stand, what needs a
decision, and the meeting's agenda."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from sop_core import charts
from sop_core.charts.style import COLUMN_TICKS
from sop_core.data.stores import sales
from sop_core.meeting.headlines import AGENDA
from sop_core.supply import loads
from sop_ui import filters, identity, jobs, loaders, periods, shell, widgets
from sop_ui.formatting import change, money, plain, plain_frame, units

shell.require_shell()
facts = loaders.facts()
scope = filters.scope()
last_week = facts.history_last_week
currency = facts.currency
run = loaders.latest_run()
scenario_name = filters.selected_scenario()

st.title("Overview")


def agenda() -> None:
    st.subheader("Agenda")
    # The steps' names are Present mode's slide titles (one list: headlines.AGENDA); one row
    # that wraps: four equal columns would cut the longer steps on a laptop.
    steps = st.container(horizontal=True)
    steps.page_link("pages/demand.py", label=AGENDA[1], icon=":material/trending_up:")
    steps.page_link("pages/supply.py", label=AGENDA[2], icon=":material/factory:")
    steps.page_link("pages/promotions.py", label=AGENDA[3], icon=":material/sell:")
    steps.page_link("pages/plan.py", label=AGENDA[4], icon=":material/task_alt:")


def sales_history() -> None:
    totals = loaders.period_totals(scope, last_week, 13).set_index("period")
    current, last_year = totals.loc["current"], totals.loc["last_year"]
    widgets.kpi_row(
        [
            widgets.Kpi(
                "Units sold, last 13 weeks",
                units(current["units"]),
                change(current["units"], last_year["units"]),
            ),
            widgets.Kpi(
                "Revenue, last 13 weeks",
                money(current["revenue"], currency),
                change(current["revenue"], last_year["revenue"]),
            ),
            widgets.Kpi(
                "Sold on promotion",
                f"{current['promoted_share']:.0%}",
                note=f"{last_year['promoted_share']:.0%} a year earlier",
            ),
        ]
    )
    history = periods.frame(loaders.weekly_sales_by_family(scope))
    widgets.chart(
        charts.weekly_history_chart(
            history, title="Weekly units sold by family", families=facts.families
        ),
        key="history",
    )


if run is None:
    st.caption(f"{plain(facts.company_name)} - sales to the week of {last_week:%d %b %Y}.")
    being_made = jobs.preparing()
    if being_made:
        st.info(
            plain(
                f"The meeting is being prepared: {being_made}. Meanwhile, the sales history; "
                "demand against supply and what needs a decision follow when it is ready."
            ),
            icon=":material/hourglass_top:",
        )
    else:
        st.info(
            "There is no demand forecast yet, so this screen shows the sales history. Make "
            "the forecast to see demand against supply and what needs a decision.",
            icon=":material/info:",
        )
        if st.button(
            "Make the forecast now",
            type="primary",
            key="make_forecast",
            **identity.disabled("forecast"),
        ):
            widgets.refresh_forecast_with_progress("Making the forecast")
    sales_history()
    agenda()
    st.stop()

figures = loaders.overview(run.run_id, scenario_name)
kpis = figures.kpis
base = loaders.plan_base(run.run_id)
first, last = base.weeks[0].astype(object), base.weeks[figures.weeks - 1].astype(object)
year_ago = loaders.period_totals(sales.Scope(), last - dt.timedelta(days=364), 13).set_index(
    "period"
)
approved = loaders.plan_of_record_totals(first, last)
st.caption(
    f"{plain(facts.company_name)} · next {figures.weeks} weeks from {first:%d %b %Y} · "
    f"{plain(scenario_name) if scenario_name else 'baseline (no levers)'} on forecast run "
    f"{run.run_id}"
    + (
        f" · plan of record v{approved.plan_version} ({plain(approved.scenario)})"
        if approved
        else " · no plan of record approved yet"
    )
)


def figure(value: str, amount: float, *, signed: bool = False) -> str:
    return (
        units(amount, signed=signed) if value == "units" else money(amount, currency, signed=signed)
    )


def budget_gap() -> None:
    """The gap to budget of the current fiscal quarter and year, and what the scenario closes."""
    gaps, notes = loaders.budget_gaps(run.run_id, scenario_name, scope.families)
    if not gaps:
        st.caption(
            "No budget in this scope: import one on the Data page (table budget) to see the "
            "gap to budget here."
        )
        return
    what = plain(scenario_name) if scenario_name else None
    tiles = []
    for gap in gaps:
        ahead = f"{1 - gap.covered:.0%} of it beyond the plan" if gap.covered < 0.999 else ""
        for value, label in (("units", "units"), ("revenue", currency), ("margin", currency)):
            closed = gap.closed[value]
            share = gap.closed_share(value)
            tiles.append(
                widgets.Kpi(
                    f"{gap.label} vs budget: {value}",
                    figure(value, gap.baseline_gap[value], signed=True),
                    figure(value, closed, signed=True) if what else None,
                    change_label=f"closed by {what}"
                    + (f" ({share:.0%} of the gap)" if share is not None else ""),
                    note=None if what else f"budget {figure(value, gap.budget[value])}",
                    help=f"Baseline outturn less budget for {gap.label} ({label}): weeks "
                    "already past count their actual sales, the weeks ahead the baseline plan"
                    + (f"; {ahead}, counted as the same share of the budget" if ahead else "")
                    + ". Below zero: short of budget.",
                )
            )
    widgets.kpi_row(tiles)
    if scope.channels:
        notes = [*notes, "The budget has no channel split: the gap is for every channel."]
    for note in notes:
        st.caption(plain(note))


budget_gap()

demand = kpis["target"]
demand_load, planned_load = figures.peaks["demand_load"], figures.peaks["planned_load"]
tiles = [
    widgets.Kpi(
        "Revised target",
        units(demand),
        change(demand, year_ago.loc["current", "units"]),
        help="The revised target over the next 13 weeks: the consensus with the scenario's "
        "levers, against the units sold in the same weeks a year earlier.",
    ),
    widgets.Kpi(
        "Consensus vs statistical",
        change(kpis["consensus"], kpis["statistical"]) or "0%",
        note="the team's overrides",
    ),
    widgets.Kpi(
        demand_load.label,
        demand_load.shown,
        note=plain(demand_load.where) or None,
        help=loads.HELP[loads.DEMAND_LOAD],
    ),
    widgets.Kpi(
        planned_load.label,
        planned_load.shown,
        note=f"{plain(planned_load.where)}; {planned_load.overtime_hours:,.0f} h overtime"
        if planned_load.week is not None
        else "no production plan",
        help=loads.HELP[loads.PLANNED_LOAD],
    ),
    widgets.Kpi(
        "Unmet demand",
        units(kpis["unmet_units"]) if kpis["peak_week"] is not None else "n/a",
        note=f"{kpis['unmet_units'] / demand:.1%} of the revised target"
        if demand and kpis["peak_week"] is not None
        else None,
    ),
]
if approved and approved.revenue:
    # Like for like: today's plan over the weeks the plan of record covers.
    common = figures.money[
        (figures.money["week"] >= pd.Timestamp(approved.first_week))
        & (figures.money["week"] <= pd.Timestamp(approved.last_week))
    ]
    against = f"vs plan of record v{approved.plan_version}"
    if approved.weeks < figures.weeks:
        against += f", {approved.weeks} weeks in common"
    tiles += [
        widgets.Kpi(
            f"Revenue ({currency})",
            units(kpis["revenue"]),
            change(common["revenue"].sum(), approved.revenue),
            change_label=against,
        ),
        widgets.Kpi(
            f"Gross margin ({currency})",
            units(kpis["margin"]),
            change(common["margin"].sum(), approved.margin),
            change_label=against,
        ),
    ]
else:
    tiles.append(
        widgets.Kpi(f"Revenue ({currency})", units(kpis["revenue"]), note="no plan of record yet")
    )
widgets.kpi_row(tiles)
for note in figures.notes:
    st.warning(plain(note), icon=":material/warning:")

left, right = st.columns([3, 2])
with left:
    widgets.chart(
        charts.plan_chart(
            periods.frame(figures.weekly, **periods.PLAN),
            title="Revised target and what the lines can make",
            period=periods.bucket(),
            # Three fifths of the page: 13 weeks named ran into each other at 1366 px.
            week_labels=COLUMN_TICKS,
        ),
        key="overview_supply",
    )
with right:
    st.subheader("What needs a decision")
    if figures.exceptions.empty:
        st.success("Nothing: the lines make the whole revised target and no forecast missed badly.")
    else:
        top = figures.exceptions.head(8)
        st.table(
            plain_frame(top)
            .assign(impact=top["impact"].map(lambda v: money(v, currency)))
            .rename(columns={"kind": "Side", "item": "SKU", "detail": "What", "impact": "Impact"}),
            hide_index=True,
        )
        st.caption(
            "Impact of a supply item: the gross margin of its unmet demand, or the cost of "
            "its overtime; of a demand item: past forecast error x price."
        )

agenda()
st.page_link(
    "pages/present.py",
    label="Present the agenda: one chart per screen, large type",
    icon=":material/slideshow:",
)
