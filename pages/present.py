"""Presentation mode: the agenda on the projector, one key chart per screen, large type.

The step and the scenario are in the URL (``/present?step=...&scenario=...``), so a link
reopens the same screen. Previous and Next step through the agenda, and so do the keys a
presentation clicker sends: Right, Down, Page Down and Space go on; Left, Up and Page Up go
back; Home and End jump to the first and last step; Esc leaves for the Overview. Every slide
opens with one headline sentence (``sop_core.meeting.headlines``); type, charts and colours
are sized and chosen for the back of a room (``sop_core.charts.style.for_room``).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from sop_core import charts
from sop_core.charts.style import (
    COLUMN_TICKS,
    ROOM_COLOURS,
    ROOM_TEXT_PX,
    for_room,
    title_text,
)
from sop_core.data import formats
from sop_core.demand.by_period import series_by_period
from sop_core.demand.cube import next_weeks
from sop_core.meeting import headlines
from sop_core.meeting.comparison import side_by_side
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.model import Scenario
from sop_core.supply import capacity, loads
from sop_ui import filters, loaders, periods, shell, widgets
from sop_ui.formatting import change, money, plain, units

STEPS = headlines.AGENDA  # the agenda above and each slide's title: one list
WEEKS = loads.KPI_WEEKS
OPTIONS = 4  # the baseline and up to three saved scenarios, side by side
C = ROOM_COLOURS
# The keys click the agenda's steps, not Previous and Next: the agenda shows the new step at
# once, so a second press before the page has rerun goes one step further (two presses of
# the same button while the page reruns count once).
NEXT = ".st-key-step [aria-checked='true'] + [role='radio']"
PREVIOUS = ".st-key-step [role='radio']:has(+ [aria-checked='true'])"

shell.require_shell()
# Nothing but the content: no sidebar, no navigation bar, larger type, and colours that read
# at least 4.5:1 on white (ROOM_COLOURS; tests/test_present.py checks them in the browser).
st.html(
    f"""<style>
    [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
    header[data-testid="stHeader"] {{display: none;}}
    .stApp, .stMainBlockContainer {{background: {C["background"]}; color: {C["text"]};}}
    .stMainBlockContainer {{padding-top: 1rem; padding-bottom: 1rem; max-width: 100%;}}
    .stMainBlockContainer p, .stMainBlockContainer li {{
        font-size: {ROOM_TEXT_PX / 16}rem; color: {C["text"]};}}
    .stMainBlockContainer h1 {{color: {C["text"]}; padding: 0;}}
    [data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p {{
        color: {C["muted"]}; font-size: 1.25rem; opacity: 1;}}
    .stMainBlockContainer h3 {{color: {C["text"]}; padding: 0.25rem 0;}}
    [data-testid="stMetricDelta"] ~ *, [data-testid="stMetric"] * {{opacity: 1;}}
    .st-key-headline p {{font-size: 2rem; font-weight: 600; line-height: 1.3;}}
    [data-testid="stMetricValue"], [data-testid="stMetricValue"] * {{
        font-size: 3rem !important; line-height: 1.2; color: {C["text"]};}}
    [data-testid="stMetricLabel"], [data-testid="stMetricLabel"] * {{
        font-size: 1.4rem; color: {C["text"]}; white-space: normal !important;
        overflow: visible !important; text-overflow: clip !important;}}
    [data-testid="stMetricDelta"] {{background: {C["surface"]} !important;}}
    [data-testid="stMetricDelta"], [data-testid="stMetricDelta"] * {{
        color: {C["text"]} !important; font-size: 1.3rem !important;}}
    [data-testid="stMetricDelta"]:has([data-testid="stMetricDeltaIcon-Up"]) * {{
        color: {C["up"]} !important;}}
    [data-testid="stMetricDelta"]:has([data-testid="stMetricDeltaIcon-Down"]) * {{
        color: {C["down"]} !important;}}
    .stMainBlockContainer button, .stMainBlockContainer button p {{
        color: {C["text"]}; border-color: {C["muted"]};}}
    .stMainBlockContainer button:disabled, .stMainBlockContainer button:disabled p {{
        color: {C["disabled"]};}}
    .st-key-step [aria-checked="true"], .st-key-step [aria-checked="true"] p {{
        color: {C["background"]} !important; background: {C["accent"]} !important;}}
    [data-testid="stTable"] th, [data-testid="stTable"] td {{
        font-size: 1.35rem; color: {C["text"]};}}
    [data-testid="stTable"] th *, [data-testid="stTable"] td * {{
        font-size: 1.35rem; color: inherit;}}
    [data-testid="stPageLink"] a, [data-testid="stPageLink"] a * {{color: {C["accent"]};}}
    [data-testid="stAlertContainer"], [data-testid="stAlertContainer"] * {{
        color: {C["text"]};}}
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
    # Once Previous or Next has set the step, the widget takes it from there: a default as
    # well would make Streamlit warn in the server log (the widget's identity is its key).
    default=None if "step" in st.session_state else 0,
    required=True,
    key="step",
    bind="query-params",
    label_visibility="collapsed",
)


def go(by: int) -> None:
    """Previous or Next, from the step shown now (not the one the buttons were drawn on)."""
    st.session_state["step"] = min(max(st.session_state["step"] + by, 0), len(STEPS) - 1)


# The buttons' columns wide enough for their labels on a 1366 px laptop.
back, title, forward = st.columns([1, 4, 1], vertical_alignment="center")
back.button("◀ Previous", disabled=step == 0, on_click=go, args=(-1,), key="previous")
forward.button("Next ▶", disabled=step == len(STEPS) - 1, on_click=go, args=(1,), key="next")
title.title(STEPS[step])
st.caption(
    f"{plain(facts.company_name)} · "
    f"{plain(scenario_name) if scenario_name else 'baseline (no levers)'} · "
    f"forecast run {run.run_id} · ← → Page Up/Down move, Home/End first/last, Esc leaves"
)
headline = st.container(key="headline")


def chart(figure, key: str, height: int, week_labels: int = COLUMN_TICKS) -> None:
    """A figure for the room, its title written above it in the page's type (see
    ``for_room``; ``week_labels`` the most a week axis names), in a bordered box; by month or
    quarter, a week axis names the periods (``widgets.by_period``)."""
    figure = widgets.by_period(figure)
    with st.container(border=True):
        st.subheader(plain(title_text(figure)))
        if figure.layout.title.subtitle.text:  # e.g. the lines a heatmap leaves out
            st.caption(plain(figure.layout.title.subtitle.text))
        st.plotly_chart(
            for_room(figure, height=height, title=False, week_labels=week_labels),
            key=key,
            theme=None,
            config={"displaylogo": False},
        )


def options() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The baseline and the saved scenarios (the sidebar's first), planned side by side: the
    metrics and the volumes by week (``sop_core.meeting.comparison.compare``)."""
    names = loaders.scenario_names()
    if scenario_name in names:
        names = [scenario_name, *(name for name in names if name != scenario_name)]
    return loaders.comparison(run.run_id, [filters.BASELINE, *names[: OPTIONS - 1]], WEEKS)


def scenario() -> Scenario:
    if scenario_name:
        return loaders.stored_scenario(scenario_name).scenario
    return Scenario(filters.BASELINE)


base = loaders.plan_base(run.run_id)
if step == 0:
    figures = loaders.overview(run.run_id, scenario_name)
    kpis = figures.kpis
    headline.markdown(plain(headlines.where_we_stand(kpis, figures.peaks, WEEKS, currency)))
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
    chart(
        charts.plan_chart(
            periods.frame(figures.weekly, **periods.PLAN),
            title="Revised target and what the lines can make",
            period=periods.bucket(),
        ),
        "present_overview",
        440,
    )
elif step == 1:
    cube = loaders.demand_cube(run.run_id)
    series = cube.series("total", None)
    table = next_weeks(series, WEEKS)
    headline.markdown(plain(headlines.demand_review(table)))
    widgets.kpi_row(
        [
            widgets.Kpi(
                f"Consensus, next {WEEKS} weeks",
                units(table["consensus"].sum()),
                change(table["consensus"].sum(), table["last_year"].sum()),
            ),
            widgets.Kpi(
                "Consensus vs statistical",
                change(table["consensus"].sum(), table["statistical"].sum()) or "0%",
            ),
        ]
    )
    chart(
        charts.demand_chart(
            series_by_period(series, periods.bucket(), periods.calendar()),
            "Total demand",
            f"Units per {periods.bucket()}",
            approved_name=cube.approved_name,
        ),
        "present_demand",
        450,
    )
elif step == 2:
    chosen = scenario()
    load = capacity.load_view(apply_scenario(base, chosen)).frame()
    fixes = loaders.recommended_actions(run.run_id, chosen.to_json(), WEEKS)
    headline.markdown(plain(headlines.supply_review(load, fixes, currency, WEEKS)))
    chart(
        charts.utilisation_heatmap(
            periods.frame(load, **periods.LOAD),
            f"{loads.DEMAND_LOAD}: the revised targets' hours against the available hours",
            loads.DEMAND_LOAD,
            period=periods.bucket(),
        ),
        "present_supply",
        640,
    )
elif step == 3:
    table, weekly = options()
    changes = loaders.what_changed(run.run_id, scenario_name)
    headline.markdown(plain(headlines.reconciliation(table, changes, currency, WEEKS)))
    left, right = st.columns([3, 2])
    with left:
        st.subheader(f"The options side by side, next {WEEKS} weeks")
        shown = side_by_side(table, currency, WEEKS)
        shown.columns = [plain(name) for name in shown.columns]
        st.table(shown)
        for note in table.attrs.get("notes", []):
            st.caption(plain(note))
    with right:
        if changes is None:
            chart(
                charts.comparison_chart(periods.frame(weekly), period=periods.bucket()),
                "present_options",
                560,
                # Two fifths of the page: on a 1366 px laptop, four labels in 22 px type.
                week_labels=4,
            )
        else:
            chart(
                charts.waterfall_chart(
                    changes,
                    "volume",
                    f"Volume: plan of record v{changes.attrs['version']} to now",
                    "Units",
                ),
                "present_changes",
                560,
            )
else:
    log = loaders.decision_log(dt.date.today())
    headline.markdown(plain(headlines.decisions(log)))
    table, _ = options()
    if len(table) > 1:
        st.subheader("To decide: which option becomes the plan of record")
        reference = table.iloc[0]
        widgets.kpi_row(
            [
                widgets.Kpi(
                    f"{plain(option.scenario)}: gross margin",
                    money(option.margin, currency),
                    change(option.margin, reference["margin"]) if position else None,
                    change_label=f"vs {plain(reference['scenario'])}",
                    note=None if position else "the reference",
                )
                for position, option in enumerate(table.itertuples(index=False))
            ]
        )
    open_items = log[log["status"] == "open"].reset_index(drop=True)
    if open_items.empty:
        st.info("No open decisions or assumptions.")
    else:
        late = open_items["state"].isin(["overdue", "expired"]).to_numpy()
        shown = pd.DataFrame(
            {
                "Kind": open_items["kind"].str.capitalize(),
                "What": open_items["text"].map(plain),
                "Owner": open_items["owner"].map(plain),
                "Due": open_items["due_date"].map(formats.date),
                "State": [
                    f"⚠ {s.upper()}" if s in ("overdue", "expired") else s
                    for s in open_items["state"]
                ],
            }
        )
        st.subheader("Open decisions and assumptions")
        st.table(
            shown.style.apply(
                lambda row: (
                    [
                        f"background-color: {C['alert_background']}; color: {C['alert']}; "
                        "font-weight: 600"
                        if late[row.name]
                        else ""
                    ]
                    * len(row)
                ),
                axis=1,
            ).hide(axis="index")
        )
with st.container(key="leave_present"):
    st.page_link(
        "pages/overview.py", label="Leave presentation mode (Esc)", icon=":material/close:"
    )
widgets.keyboard(
    {
        **dict.fromkeys(("ArrowRight", "ArrowDown", "PageDown", "Space"), NEXT),
        **dict.fromkeys(("ArrowLeft", "ArrowUp", "PageUp"), PREVIOUS),
        "Home": ".st-key-step [role='radio']:first-child",
        "End": ".st-key-step [role='radio']:last-child",
        "Escape": ".st-key-leave_present a",
    },
    scope=".st-key-leave_present",
)
