"""Supply & capacity: can we make the plan, where are the gaps, and what does it cost?

Everything follows the scenario chosen in the sidebar (the baseline, the consensus without
levers, when none): its revised targets load the lines, its capacity changes add or remove
hours.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import streamlit as st

from sop_core import charts
from sop_core.data import formats
from sop_core.data.calendar import weeks_text
from sop_core.data.errors import SopError
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.model import CapacityChange
from sop_core.supply import actions, capacity, loads
from sop_core.supply.planning import PlanSettings, chase_plan
from sop_ui import columns, drafts, filters, identity, jobs, loaders, periods, shell, widgets
from sop_ui.formatting import money, plain, scope_caption, units

BUILD_PLAN_NOW = "supply_build_plan_now"  # an action the plan takes was chosen: build it

shell.require_shell()
facts = loaders.facts()
scope = filters.scope()
last_week = facts.history_last_week

st.title("Supply & capacity")
run = widgets.require_forecast()
base = loaders.plan_base(run.run_id)
current = drafts.current()
name = current.name or "the baseline"
scenario = current.edited(current.name or "baseline")
try:
    result = apply_scenario(base, scenario)
except SopError as error:
    st.error(plain(error), icon=":material/error:")
    st.stop()
view = capacity.load_view(result)
load = view.frame()
if scope.families:
    # The lines that make the chosen families (their load still counts every SKU on them).
    keep = set(
        base.lines[
            np.unique(
                base.line_index[np.isin(base.families, scope.families) & (base.line_index >= 0)]
            )
        ]
    )
    load = load[load["line"].isin(keep)]
exceptions = capacity.exceptions(view)
exceptions = exceptions[exceptions["line"].isin(set(load["line"]))]
WEEK_LABELS = [f"{pd.Timestamp(w):%d %b %Y}" for w in base.weeks]
# Charts and tables by the sidebar's bucket: a period's load is its hours over its available
# hours, its chance of overload its riskiest week's. The KPIs stay on the weeks (a peak is a
# week's; the gap in hours is the same total in every bucket).
BUCKET = periods.bucket()
load_by_period = periods.frame(load, **periods.LOAD)

st.caption(
    f"Revised targets of {plain(name)} (forecast run {run.run_id}, {len(base.weeks)} weeks from "
    f"{WEEK_LABELS[0]}). {scope_caption(scope, channels=False)} Lines make for every "
    "channel, so the channel filter does not apply here."
)
# The demand load (sop_core.supply.loads): the next 13 weeks as on the Overview, and the horizon.
peaks = [
    loads.peak_in_frame(load, loads.DEMAND_LOAD, weeks)
    for weeks in sorted({min(loads.KPI_WEEKS, len(base.weeks)), len(base.weeks)})
]
over = load[load["gap_hours"] > 1e-6]
likely = load[(load["overload_probability"] >= 0.5)]
widgets.kpi_row(
    [
        *(
            widgets.Kpi(
                peak.label,
                peak.shown,
                note=plain(peak.where) or None,
                help=loads.HELP[loads.DEMAND_LOAD],
            )
            for peak in peaks
        ),
        widgets.Kpi(
            "Overloaded line-weeks",
            f"{len(over)}",
            note=f"gap of {over['gap_hours'].sum():,.0f} h" if len(over) else "none",
        ),
        widgets.Kpi(
            "At least even odds of overload",
            f"{len(likely)}",
            note="line-weeks",
            help="Line-weeks whose hours needed exceed the available "
            "hours with a probability of 50% or more, from the forecast's uncertainty.",
        ),
        widgets.Kpi(
            "Idle lines",
            f"{int((exceptions['kind'] == 'idle line').sum())}",
            note=f"below {capacity.IDLE_LOAD:.0%} {loads.DEMAND_LOAD.lower()} on average",
        ),
    ]
)

widgets.chart(
    charts.utilisation_heatmap(
        load_by_period,
        f"{loads.DEMAND_LOAD} by line and {BUCKET}: the revised targets' hours against the "
        "available hours",
        loads.DEMAND_LOAD,
        period=BUCKET,
    ),
    key="capacity_heatmap",
)
st.caption(
    "Red: over 100% of the available hours; amber: above 85%; grey: no hours (a "
    "shutdown). Hover for the hours and the chance of an overload."
)

# Side by side on a large screen; one under the other where the table's columns would be cut.
left, right = widgets.side_by_side("line_and_exceptions", 36, 40)
with left:
    loaded = set(load["line"])
    labels = {
        line: f"{line}  {nm}"
        for line, nm in zip(base.lines, base.line_names, strict=True)
        if line in loaded
    }
    # The most loaded first, as the heatmap ranks them: the default is the worst line.
    ranked = [line for line in charts.lines_by_load(load_by_period).index if line in labels]
    chosen = widgets.long_select(
        "Line", ranked, key="supply_line", format_func=labels.get, what="lines"
    )
    if chosen is not None:
        line_index = list(base.lines).index(chosen)
        overtime = float(PlanSettings().overtime_share * base.available_hours[line_index].max())
        widgets.chart(
            charts.line_load_chart(
                load_by_period[load_by_period["line"] == chosen],
                overtime,
                f"Hours needed against available hours: {labels[chosen]}",
                period=BUCKET,
            ),
            key="line_load",
        )
with right:
    st.subheader("Exceptions")
    widgets.table(
        exceptions[["kind", "line", "first_week", "last_week", "detail"]]
        .assign(
            first_week=lambda f: f["first_week"].dt.date, last_week=lambda f: f["last_week"].dt.date
        )
        .head(40),
        kind=columns.text("What"),
        line=columns.text("Line"),
        first_week=columns.week("From"),
        last_week=columns.week("To"),
        detail=columns.text("Detail"),
    )

st.subheader("What would fix the overloads, next 13 weeks")
fixes = loaders.recommended_actions(run.run_id, scenario.to_json(), 13)
if not fixes:
    st.caption("No line-week needs more hours than it has in the next 13 weeks.")
else:
    st.caption(
        "For each overloaded line-week (demand load above 100%), the biggest first: what "
        "recovers its missing hours, what it costs, and what it saves the production plan "
        "(the plan solved with and without it). Cheapest net cost first. Overtime, a Saturday "
        "shift and a trimmed or moved promotion go into the scenario with one click; building "
        "earlier and alternate lines are what the production plan does by itself when they pay."
    )
    table = actions.frame(fixes).head(30)
    widgets.table(
        table.assign(
            cost=table["cost"].round(0),
            plan_saving=table["plan_saving"].round(0),
            net_cost=table["net_cost"].round(0),
            covers=[
                f"{got:,.0f} of {short:,.0f}" + (" ✓" if closes else "")
                for got, short, closes in zip(
                    table["hours"], table["gap_hours"], table["closes_gap"], strict=True
                )
            ],
            closes_gap=table["closes_gap"].map({True: "yes", False: "partly"}),
        )[
            [
                "line_name",
                "week",
                "action",
                "covers",
                "cost",
                "plan_saving",
                "net_cost",
                "gap_hours",
                "hours",
                "closes_gap",
                "kind",
            ]
        ],
        line_name=columns.text("Line", width=120),
        week=columns.week("Week"),
        action=columns.text("Action", width=290),
        covers=columns.text(
            "Hours it gets",
            help="The hours the action gets the line that week, of the hours it is short; "
            "✓ where that covers the shortfall.",
        ),
        cost=columns.money("Cost", facts.currency),
        plan_saving=columns.money(
            "Plan saves",
            facts.currency,
            help="What the production plan costs less with the action (holding, overtime, "
            "unmet demand, stock below safety): the plan solved with and without it.",
        ),
        net_cost=columns.money(
            "Net cost", facts.currency, help="Cost less what it saves the plan."
        ),
        gap_hours=None,  # in "Hours it gets"
        hours=None,
        closes_gap=None,
        kind=None,  # in the action's words already
    )
    dearest = max(fixes, key=lambda fix: np.nan_to_num(fix.hour_value))
    if dearest.hour_value > 0:
        st.caption(
            f"An hour is worth most on {dearest.line_name} in "
            f"{formats.week(dearest.week)}: one more would save the plan "
            f"{money(dearest.hour_value, facts.currency)} (its shadow price)."
        )
    shown = fixes[:30]
    # The choice takes the page's width (an action reads long), the button under it.
    chosen_fix = st.selectbox(
        "Take an action",
        range(len(shown)),
        format_func=lambda i: (
            f"{shown[i].line_name}, {formats.week(shown[i].week)}: {shown[i].action} "
            + (
                f"(net {money(shown[i].net_cost, facts.currency)})"
                if shown[i].holdable
                else "(the plan's move: builds the plan)"
            )
        ),
        key="fix_choice",
        help="Overtime, a Saturday shift or a changed promotion goes into the scenario; "
        "building earlier and alternate lines are the production plan's own moves, so taking "
        "one builds the plan below.",
    )
    fix = shown[chosen_fix]
    # Overtime or a shift is a capacity change, a changed promotion a lever of the scenario,
    # the plan's own moves a production plan: each asks for its own role.
    needs = (
        "capacity"
        if fix.capacity is not None
        else "scenario"
        if fix.lever is not None
        else "production_plan"
    )
    if st.button("Add", type="primary", key="fix_add", **identity.disabled(needs)):
        if fix.capacity is not None:
            current.capacity.append(fix.capacity)
            current.dirty = True
        elif fix.lever is not None:
            current.levers[:] = [
                fix.lever if lever == fix.replaces else lever for lever in current.levers
            ]
            current.dirty = True
        else:
            st.session_state[BUILD_PLAN_NOW] = True
        st.rerun()

st.subheader("Capacity changes in this scenario")
changes, editor = st.columns([3, 2], gap="large")
with changes:
    if not current.capacity:
        st.caption("None yet: the hours are the lines' standard hours and the calendar.")
    for index, change in enumerate(current.capacity):
        row = st.columns([6, 1])
        row[0].markdown(f"{index + 1}. {plain(change.describe())}")
        if row[1].button(
            "",
            icon=":material/close:",
            key=f"remove_capacity_{index}",
            help=identity.may("capacity") or "Remove this change",
            disabled=bool(identity.may("capacity")),
        ):
            current.capacity.pop(index)
            current.dirty = True
            st.rerun()
    drafts.scenario_bar(run.run_id)
# Someone who may not change capacity reads the changes, without a form to add one.
if capacity_refused := identity.may("capacity"):
    editor.info(plain(capacity_refused), icon=":material/lock:")
else:
    with editor.form("capacity_change", border=True):
        # Worst first, as the Line picker above (the box finds a line as one types), opening
        # on the line looked at there.
        line_label = dict(zip(base.lines, base.line_names, strict=True))
        form_lines = ranked + [line for line in base.lines if line not in labels]
        line = st.selectbox(
            "Line",
            form_lines,
            index=form_lines.index(chosen) if chosen in line_label else 0,
            key="capacity_line",
            format_func=lambda x: f"{x}  {line_label[x]}",
        )
        first, last = st.select_slider(
            "Weeks",
            WEEK_LABELS,
            value=(WEEK_LABELS[0], WEEK_LABELS[min(3, len(WEEK_LABELS) - 1)]),
            key="capacity_weeks",
        )
        # Starts at no change: the plan only moves when someone enters hours.
        hours = st.number_input(
            "Hours a week (+ an extra shift, - a shutdown)",
            -168.0,
            168.0,
            0.0,
            8.0,
            key="capacity_hours",
        )
        reason = st.text_input(
            "Reason", key="capacity_reason", max_chars=60, placeholder="e.g. Saturday shift"
        )
        submitted = st.form_submit_button("Add to the scenario", type="primary")
        if submitted and not hours:
            st.error(
                "Enter the hours a week to add (an extra shift, e.g. +16) or to remove (a "
                "shutdown, e.g. -40): 0 h changes nothing, so nothing was added.",
                icon=":material/error:",
            )
        elif submitted:
            try:
                change = CapacityChange(
                    line,
                    base.weeks[WEEK_LABELS.index(first)].astype(dt.date),
                    base.weeks[WEEK_LABELS.index(last)].astype(dt.date),
                    float(hours),
                    reason.strip(),
                ).validated()
            except SopError as error:
                st.error(plain(error), icon=":material/error:")
            else:
                current.capacity.append(change)
                current.dirty = True
                st.rerun()

st.header("Batch economics")
batches = capacity.batch_economics(result)
if scope.families:
    batches = batches[batches["family"].isin(scope.families)]
left, right = widgets.side_by_side("batch_economics", 30, 44)
with left:
    options = batches.sort_values("setup_saving", ascending=False)["sku"].tolist()
    names = dict(zip(base.skus, base.names, strict=True))
    sku = widgets.long_select(
        "SKU", options, key="batch_sku", format_func=lambda s: f"{s}  {names[s]}"
    )
    if sku is None:
        st.stop()
    row = batches.set_index("sku").loc[sku]
    points = pd.DataFrame(
        {
            "label": ["baseline", name if current.name else "scenario"],
            "batch_size": [row["batch_size_base"], row["batch_size"]],
            "unit_cost": [row["unit_cost_base"], row["unit_cost"]],
        }
    )
    widgets.chart(
        charts.batch_cost_chart(
            capacity.unit_cost_curve(base, sku), points, f"Unit cost against batch size: {sku}"
        ),
        key="batch_chart",
    )
with right:
    st.caption(
        "The plant keeps its batch cadence, so more volume means bigger batches and the setup "
        "cost is spread over more units. Saving: setup cost per unit saved, times the volume."
    )
    widgets.kpi_row(
        [
            widgets.Kpi(
                "Setup cost saved by bigger batches",
                money(batches["setup_saving"].sum(), facts.currency),
            ),
            widgets.Kpi("Changeovers per week", f"{batches['changeovers_per_week'].sum():,.1f}"),
        ]
    )
    widgets.table(
        batches.sort_values("setup_saving", ascending=False)[
            [
                "sku",
                "weekly_units_base",
                "weekly_units",
                "batch_size_base",
                "batch_size",
                "unit_cost_base",
                "unit_cost",
                "setup_saving",
            ]
        ].head(15),
        sku=columns.text("SKU"),
        weekly_units_base=columns.units("Units/week, base"),
        weekly_units=columns.units("Units/week"),
        batch_size_base=columns.units("Batch, base"),
        batch_size=columns.units("Batch"),
        unit_cost_base=columns.price(f"Unit cost, base ({facts.currency})", decimals=3),
        unit_cost=columns.price(f"Unit cost ({facts.currency})", decimals=3),
        setup_saving=columns.money("Saving", facts.currency),
    )

st.header("Constrained production plan")
SETTINGS = PlanSettings()
st.caption(
    "A linear program over the horizon: make the revised targets at the least cost within "
    f"each line's hours plus up to {SETTINGS.overtime_share:.0%} overtime, building stock "
    "ahead of peaks, using alternate lines, keeping a safety stock of "
    f"{weeks_text(SETTINGS.safety_weeks)} of average demand, starting from today's stock."
)
plan_weeks = len(base.weeks)
pressed = st.button(
    "Build the production plan",
    type="primary",
    key="build_plan",
    **identity.disabled("production_plan"),
)
if pressed or st.session_state.pop(BUILD_PLAN_NOW, False):
    # A job: it goes on if the page is left, and what it stores is shown below from then on.
    try:
        jobs.run_with_progress(
            "plan",
            {
                "scenario": current.name,
                "scenario_json": scenario.to_json(),
                "run_id": run.run_id,
                "horizon": plan_weeks,
            },
            "Production plan",
        )
    except SopError as error:
        st.error(plain(error), icon=":material/error:")
stored_plan = loaders.stored_plan(run.run_id, scenario, plan_weeks)
if stored_plan is not None:
    peer = chase_plan(result, loaders.supply_data(run.run_id), SETTINGS, plan_weeks).summary(
        result.available[:, :plan_weeks]
    )
    planned = loads.peaks(result, stored_plan.hours, stored_plan.overtime, loads.KPI_WEEKS)[
        "planned_load"
    ]
    widgets.kpi_row(
        [
            widgets.Kpi(
                "Plan cost",
                money(stored_plan.total_cost, facts.currency),
                note=f"chase plan {money(peer['total_cost'], facts.currency)}",
            ),
            widgets.Kpi(
                "Unmet demand",
                units(stored_plan.unmet_units),
                note=f"chase plan {units(peer['unmet_units'])}",
            ),
            widgets.Kpi(
                "Overtime hours",
                f"{stored_plan.overtime_hours:,.0f}",
                note=f"chase plan {peer['overtime_hours']:,.0f}",
            ),
            widgets.Kpi(
                planned.label,
                planned.shown,
                note=f"{plain(planned.where)}; {planned.overtime_hours:,.0f} h overtime"
                if planned.week is not None
                else None,
                help=loads.HELP[loads.PLANNED_LOAD],
            ),
            widgets.Kpi(
                "Solved in",
                f"{stored_plan.seconds:.2f} s",
                note=f"plan {stored_plan.plan_id}, {stored_plan.created_at:%d %b %H:%M}",
            ),
        ]
    )
    plan_by_period = periods.frame(stored_plan.frames["weekly"], **periods.PLAN)
    widgets.chart(charts.plan_chart(plan_by_period, period=BUCKET), key="plan_chart")
    lines_frame = periods.frame(stored_plan.frames["lines"])
    busy = lines_frame[lines_frame["overtime_hours"] > 0.01]
    if not busy.empty:
        st.subheader("Overtime the plan uses")
        widgets.table(
            busy.assign(week=busy["week"].dt.date),
            line=columns.text("Line"),
            line_name=columns.text("Name"),
            week=columns.week("Week"),
            hours=columns.hours("Hours"),
            available_hours=columns.hours("Available"),
            overtime_hours=columns.hours("Overtime", decimals=1),
        )
else:
    st.caption(
        "Not built yet for this scenario on this forecast: press the button (it runs as a job "
        "and is kept, so it is shown here from then on, for everyone)."
    )

st.divider()
st.header("What the lines did")
history = loaders.line_utilisation_history(last_week, 52, scope)
used = loaders.hours_used(last_week, 52, scope)
actual = used["hours_used"].sum() / max(used["available_hours"].sum(), 1e-9)
widgets.kpi_row(
    [
        widgets.Kpi(
            "Share of available hours used, last 52 weeks",
            f"{actual:.0%}",
            note="hours run, from the production actuals",
            help="Line hours recorded in production actuals, changeovers included, over "
            "standard hours plus the capacity calendar.",
        ),
        widgets.Kpi(
            "Weeks sales overloaded a line",
            f"{int((history['utilisation'] > 1).sum())}",
            note=f"line-weeks above 100% {loads.DEMAND_LOAD.lower()}, last 52 weeks",
        ),
    ]
)
widgets.chart(
    charts.utilisation_heatmap(
        periods.frame(history, ratios=periods.LOAD["ratios"]),
        f"{loads.DEMAND_LOAD} of past sales by line and {BUCKET}, last 52 weeks",
        loads.DEMAND_LOAD,
        period=BUCKET,
    ),
    key="supply_heatmap",
)
st.subheader("Capacity calendar, next 26 weeks")
widgets.table(
    periods.frame(loaders.capacity_exceptions_after(last_week, 26)),
    week=columns.week("Week"),
    line=columns.text("Line"),
    line_name=columns.text("Name"),
    hours_delta=columns.hours("Hours", signed=True),
    reason=columns.text("Reason"),
)
