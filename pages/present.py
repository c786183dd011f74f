"""Presentation mode: the agenda on the projector, one key chart per screen, large type.

The step and the scenario are in the URL (``/present?step=3&scenario=...``), so a link
reopens the same screen; Previous and Next step through the agenda.
"""

from __future__ import annotations

import streamlit as st

from sop_core import charts
from sop_core.demand.cube import next_weeks
from sop_core.scenario.levers import Scenario, apply_scenario
from sop_core.supply import capacity, loads
from sop_ui import filters, loaders, shell, widgets
from sop_ui.formatting import change, money, plain, plain_frame, units

STEPS = (
    "Where we stand",
    "1. Demand review",
    "2. Supply review",
    "3. Reconciliation: what changed",
    "4. Decisions",
)

shell.require_shell()
# Nothing but the content: no sidebar, no navigation bar, larger type.
st.html(
    """<style>
    [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
    header[data-testid="stHeader"] {display: none;}
    .stMainBlockContainer {padding-top: 1.5rem; max-width: 100%;}
    .stMainBlockContainer p, .stMainBlockContainer li {font-size: 1.5rem;}
    [data-testid="stMetricValue"], [data-testid="stMetricValue"] * {
        font-size: 3.2rem !important; line-height: 1.2;}
    [data-testid="stMetricLabel"] p {font-size: 1.4rem;}
    </style>"""
)
facts = loaders.facts()
currency = facts.currency
run = widgets.require_forecast()
scenario_name = filters.selected_scenario()
step = st.segmented_control(
    "Agenda",
    list(range(len(STEPS))),
    format_func=lambda i: STEPS[i],
    # Previous and Next set the step through Session State: a default as well would make
    # Streamlit warn in the server's log.
    default=None if "step" in st.session_state else 0,
    required=True,
    key="step",
    bind="query-params",
    label_visibility="collapsed",
)


def go(to: int) -> None:
    st.session_state["step"] = to


# The buttons' columns wide enough for their labels on a 1366 px laptop.
back, title, forward = st.columns([1, 4, 1], vertical_alignment="center")
back.button("◀ Previous", disabled=step == 0, on_click=go, args=(step - 1,), key="previous")
forward.button("Next ▶", disabled=step == len(STEPS) - 1, on_click=go, args=(step + 1,), key="next")
title.title(STEPS[step])
st.caption(
    f"{plain(facts.company_name)} · "
    f"{plain(scenario_name) if scenario_name else 'baseline (no levers)'} · "
    f"forecast run {run.run_id}"
)

base = loaders.plan_base(run.run_id)
if step == 0:
    figures = loaders.overview(run.run_id, scenario_name)
    kpis = figures.kpis
    widgets.kpi_row(
        [
            widgets.Kpi("Revised target", units(kpis["target"])),
            *(
                widgets.Kpi(peak.label, peak.shown, note=plain(peak.where) or None)
                for peak in figures.peaks.values()
            ),
            widgets.Kpi("Unmet demand", units(kpis["unmet_units"])),
            widgets.Kpi("Revenue", money(kpis["revenue"], currency)),
        ]
    )
    widgets.chart(
        charts.plan_chart(figures.weekly, title="Revised target and what the lines can make"),
        key="present_overview",
    )
elif step == 1:
    cube = loaders.demand_cube(run.run_id)
    series = cube.series("total", None)
    table = next_weeks(series)
    widgets.kpi_row(
        [
            widgets.Kpi(
                "Consensus, next 13 weeks",
                units(table["consensus"].sum()),
                change(table["consensus"].sum(), table["last_year"].sum()),
            ),
            widgets.Kpi(
                "Consensus vs statistical",
                change(table["consensus"].sum(), table["statistical"].sum()) or "0%",
            ),
        ]
    )
    widgets.chart(
        charts.demand_chart(series, "Total demand", approved_name=cube.approved_name),
        key="present_demand",
    )
elif step == 2:
    scenario = (
        loaders.stored_scenario(scenario_name).scenario if scenario_name else Scenario("baseline")
    )
    view = capacity.load_view(apply_scenario(base, scenario))
    widgets.chart(
        charts.utilisation_heatmap(
            view.frame(),
            f"{loads.DEMAND_LOAD}: the revised targets' hours against the available hours",
            loads.DEMAND_LOAD,
        ),
        key="present_supply",
    )
elif step == 3:
    changes = loaders.what_changed(run.run_id, scenario_name)
    if changes is None:
        st.info("No plan of record has been approved yet: nothing to compare with.")
    else:
        widgets.chart(
            charts.waterfall_chart(
                changes,
                "volume",
                f"Volume: plan of record v{changes.attrs['version']} to now",
                "Units",
            ),
            key="present_changes",
        )
else:
    import datetime as dt

    log = loaders.decision_log(dt.date.today())
    open_items = log[log["status"] == "open"]
    if open_items.empty:
        st.info("No open decisions or assumptions.")
    else:
        st.table(
            plain_frame(open_items[["kind", "text", "owner", "due_date", "state"]]).rename(
                columns={
                    "kind": "Kind",
                    "text": "What",
                    "owner": "Owner",
                    "due_date": "Due",
                    "state": "State",
                }
            ),
            hide_index=True,
        )
st.page_link("pages/overview.py", label="Leave presentation mode", icon=":material/close:")
