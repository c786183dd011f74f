"""Plan & decisions: compare scenarios, approve the plan of record, log decisions."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import streamlit as st

from sop_core import charts
from sop_core.data.calendar import weeks_text
from sop_core.data.errors import SopError
from sop_core.meeting import decisions
from sop_core.meeting.comparison import METRICS
from sop_core.meeting.pack import packs_folder
from sop_core.meeting.plan_of_record import approve
from sop_core.scenario.targets import compute_targets, targets_bytes, targets_file_name
from sop_core.supply import loads
from sop_core.supply.planning import PlanSettings
from sop_ui import columns, drafts, filters, identity, jobs, loaders, periods, shell, widgets
from sop_ui.formatting import change, money, plain, units

shell.require_shell()
facts = loaders.facts()
scope = filters.scope()
currency = facts.currency
SAFETY_WEEKS = PlanSettings().safety_weeks  # the production plan's safety stock


def plan_of_record_targets(version: int) -> bytes:
    """The frozen targets of plan of record ``version`` as a CSV file."""
    frozen = compute_targets(loaders.database_path(), plan_of_record=version)
    return targets_bytes(frozen.frame, "csv")


st.title("Plan & decisions")
run = widgets.require_forecast()
st.caption(
    f"Forecast run {run.run_id}, history end: the week of {run.history_end:%d %b %Y}; "
    "every scenario starts from the consensus."
)

# --- Scenario comparison -------------------------------------------------------------------
st.subheader("Compare scenarios")
names = [filters.BASELINE, *loaders.scenario_names()]
chosen_now = filters.selected_scenario()
default = [filters.BASELINE] + ([chosen_now] if chosen_now else names[1:2])
picked = st.multiselect(
    "Scenarios (the first is the reference)",
    names,
    default=default,
    max_selections=4,
    key="compare",
)
horizon = st.select_slider("Weeks compared", [4, 8, 13, 26], value=13, key="compare_weeks")
if len(picked) < 2:
    st.info("Choose two to four scenarios to compare.", icon=":material/compare_arrows:")
else:
    with st.spinner("Planning each scenario on the same lines and stock..."):
        table, weekly = loaders.comparison(run.run_id, picked, horizon)
    for note in table.attrs.get("notes", []):
        st.warning(plain(note), icon=":material/warning:")
    reference = table.iloc[0]
    tiles = []
    for other in table.iloc[1:].itertuples():
        tiles.append(
            widgets.Kpi(
                f"{plain(other.scenario)}: revenue",
                money(other.revenue, currency),
                change(other.revenue, reference["revenue"]),
                change_label=f"vs {plain(reference['scenario'])}",
            )
        )
        tiles.append(
            widgets.Kpi(
                f"{plain(other.scenario)}: unmet demand",
                units(other.unmet_units),
                note=f"{plain(reference['scenario'])}: {units(reference['unmet_units'])}",
            )
        )
    widgets.kpi_row(tiles[:4])
    left, right = st.columns([3, 2])
    with left:
        # By the sidebar's bucket, the scenarios in their order (the first is the reference,
        # drawn thickest); the table's figures are the same totals in every bucket.
        by_period = periods.frame(weekly)
        widgets.chart(
            charts.comparison_chart(
                by_period,
                f"{periods.bucket().capitalize()}ly revised target by scenario",
                period=periods.bucket(),
            ),
            key="compare_chart",
        )
    with right:
        # The load rows name their measure and weeks, as every page does.
        names = {
            **METRICS,
            "peak_demand_load": loads.peak_label(loads.DEMAND_LOAD, horizon),
            "peak_utilisation": loads.peak_label(loads.PLANNED_LOAD, horizon),
        }
        shown = table.set_index("scenario")[list(METRICS)].T
        shown.index = [names[m] for m in shown.index]
        differs = table.set_index("scenario")[[f"{m}_change" for m in METRICS]].T
        differs.index = shown.index

        def highlight(column):
            # The differences from the reference, green up and red down (for unmet demand,
            # overtime and utilisation, up is worse).
            worse_up = {
                names[m]
                for m in ("unmet_units", "overtime_hours", "peak_demand_load", "peak_utilisation")
            }
            styles = []
            for metric, delta in differs[column.name].items():
                if abs(delta) < 1e-6:
                    styles.append("")
                elif (delta > 0) != (metric in worse_up):
                    styles.append("background-color: #d8f0e3")
                else:
                    styles.append("background-color: #f8d9d6")
            return styles

        percent = {names["peak_demand_load"], names["peak_utilisation"]}
        text = shown.apply(
            lambda row: row.map(
                (lambda v: f"{v:.0%}") if row.name in percent else (lambda v: f"{v:,.0f}")
            ),
            axis=1,
        )
        styled = text.style.apply(highlight)
        # Text cells (a row is a measure, its own kind of figure), coloured by the Styler; the
        # headers through column configs as every table's, the figures aligned right.
        st.dataframe(
            styled,
            column_config={
                "_index": columns.text("Measure"),
                **{name: columns.text(name, alignment="right") for name in text.columns},
            },
        )
        st.caption(
            f"Same forecast run ({run.run_id}), the next {horizon} weeks (each production plan "
            f"over {loads.plan_weeks(horizon, len(loaders.plan_base(run.run_id).weeks))} weeks); "
            "cells differing from the reference shaded."
        )


# --- Against the budget ----------------------------------------------------------------------
def against_budget() -> None:
    """The sidebar's scenario per fiscal month or quarter (months when the figures are by week:
    the budget is monthly) against the budget, the same period last year and the plan of
    record."""
    bucket = "month" if periods.weekly() else periods.bucket()
    scenario_name = filters.selected_scenario()
    table, notes = loaders.period_comparison(run.run_id, scenario_name, scope.families, bucket)
    st.subheader(f"Against the budget, last year and the plan of record, by {bucket}")
    if table.empty:
        st.caption("No plan to compare yet.")
        return
    value = st.segmented_control(
        "Figures",
        ["units", "revenue", "margin"],
        default="units",
        required=True,
        key="budget_value",
        format_func=str.capitalize,
    )
    widgets.chart(charts.budget_chart(table, bucket, value, currency), key="budget_chart")
    money_or_units = (
        (lambda label: columns.units(label, signed=True))
        if value == "units"
        else (lambda label: columns.money(label, currency, signed=True))
    )
    plain_figure = (
        columns.units if value == "units" else (lambda label: columns.money(label, currency))
    )
    shown = table[
        [
            bucket,
            "covered",
            f"plan_{value}",
            f"budget_{value}",
            f"gap_budget_{value}",
            f"last_year_{value}",
            f"plan_of_record_{value}",
            f"gap_plan_of_record_{value}",
        ]
    ].assign(vs_last_year=table[f"plan_{value}"] / table[f"last_year_{value}"] - 1)
    widgets.table(
        shown,
        fit=True,
        **{bucket: columns.text(bucket.capitalize())},
        covered=columns.share("Planned", help="Share of the period the plan covers"),
        **{
            f"plan_{value}": plain_figure(plain(scenario_name) if scenario_name else "Baseline"),
            f"budget_{value}": plain_figure("Budget"),
            f"gap_budget_{value}": money_or_units("vs budget"),
            f"last_year_{value}": plain_figure("Last year"),
            f"plan_of_record_{value}": plain_figure("Plan of record"),
            f"gap_plan_of_record_{value}": money_or_units("vs plan of record"),
        },
        vs_last_year=columns.change("vs last year"),
    )
    st.caption(
        "A period the plan covers in part is compared with the same share of its budget and "
        "of last year's sales; the plan of record over the weeks it froze. "
        + " ".join(plain(note) for note in notes)
    )


if run is not None:
    against_budget()

# --- Approval ------------------------------------------------------------------------------
st.subheader("Approve the plan of record")
to_approve = chosen_now or filters.BASELINE
approve_refused = identity.may("approve")
with st.form("approve_form", border=True):
    st.markdown(
        f"Freeze **{plain(to_approve)}** (the sidebar's scenario) as the next plan of record: "
        "its revised targets by SKU and week, the production plan by line and its planned load. "
        "Later edits never change an approved version."
    )
    if approve_refused:
        st.caption(plain(approve_refused))
    elif loaders.four_eyes():
        st.caption(
            "Four eyes: the scenario's author alone may not approve it; someone else with the "
            "S&OP lead role does."
        )
    weeks = st.select_slider(
        "Weeks to freeze",
        [13, 26, 52],
        value=26,
        key="approve_weeks",
        disabled=bool(approve_refused),
    )
    note = st.text_input("Note", key="approve_note", max_chars=200, disabled=bool(approve_refused))
    go = st.form_submit_button(
        "Approve", type="primary", icon=":material/verified:", **identity.disabled("approve")
    )
draft = drafts.current()
if go and draft.dirty:
    st.error(
        f"{plain(to_approve)} has changes that are not saved: save them (or reload the saved "
        "version) on Promotions & pricing, then approve. Only a saved scenario can become the "
        "plan of record.",
        icon=":material/error:",
    )
elif go:
    # The version this session opened: a save by someone else since then stops the approval.
    stored = draft.stored
    try:
        with st.spinner("Planning production and freezing the plan..."):
            done = approve(
                loaders.database_path(),
                chosen_now,
                identity.who(),
                note=note,
                weeks=weeks,
                expected_version=stored.version if stored else None,
            )
    except SopError as error:
        st.error(plain(error), icon=":material/error:")
    else:
        drafts.reload()  # the scenario is now approved, a new version
        st.session_state["approved"] = (
            f"Plan of record version {done.plan_version} approved: {plain(done.scenario)}, "
            f"{done.weeks} weeks, {units(done.volume)} units, "
            f"{money(done.revenue, currency)} revenue."
        )
        st.rerun()
if "approved" in st.session_state:
    st.success(st.session_state.pop("approved"), icon=":material/verified:")
versions = loaders.plans_of_record()
if versions.empty:
    st.caption("No plan of record yet.")
else:
    widgets.table(
        versions,
        plan_version=columns.number("Version"),
        approved_at=columns.moment("Approved"),
        approved_by=columns.text("By"),
        scenario=columns.text("Scenario"),
        run_id=columns.number("Forecast run"),
        history_end=columns.week("History end"),
        weeks=columns.number("Weeks"),
        volume=columns.units("Revised target"),
        revenue=columns.money("Revenue", currency),
        margin=columns.money("Gross margin", currency),
        unmet_units=columns.units("Unmet"),
        overtime_hours=columns.hours("Overtime hours"),
        max_utilisation=columns.share(
            f"Peak {loads.PLANNED_LOAD.lower()}",
            help="The highest line-week of the plan's hours (overtime included) over the "
            "available hours, over the weeks frozen.",
        ),
        note=columns.text("Note"),
    )
    latest = int(versions["plan_version"].max())
    newest = versions.loc[versions["plan_version"] == latest].iloc[0]
    st.download_button(
        f"Download the targets of version {latest} (CSV) for scheduling and finance",
        data=functools.partial(plan_of_record_targets, latest),
        # Named as the CLI names it: what the targets are and their first week.
        file_name=targets_file_name(
            f"plan of record v{latest}", newest["history_end"] + dt.timedelta(days=7)
        ),
        mime="text/csv",
        on_click="ignore",
        key="plan_of_record_targets",
        icon=":material/download:",
        help="sku, week, baseline, revised, lower_80, upper_80, name, family, brand, revenue, "
        "margin exactly as frozen (the same file as "
        "`python -m sop_core targets --plan-of-record`).",
    )

# --- Decisions and assumptions -------------------------------------------------------------
st.subheader("Decisions and assumptions")
today = dt.date.today()
record = False
if decision_refused := identity.may("decision"):
    # The log below stays for everyone to read.
    st.info(plain(decision_refused), icon=":material/lock:")
else:
    with st.form("decision_form", clear_on_submit=True, border=True):
        kind_col, owner_col, date_col = st.columns([2, 2, 2])
        kind = kind_col.segmented_control(
            "Record",
            decisions.KINDS,
            default="decision",
            required=True,
            key="decision_kind",
            format_func=str.capitalize,
        )
        owner = owner_col.text_input("Owner", key="decision_owner", max_chars=60)
        due = date_col.date_input(
            "Due (decision) or expires (assumption)",
            value=today + dt.timedelta(days=14),
            key="decision_due",
        )
        text = st.text_input("What", key="decision_text", max_chars=500)
        record = st.form_submit_button("Record", icon=":material/add_task:")
if record:
    try:
        decisions.add_item(
            loaders.database_path(),
            kind,
            text,
            owner,
            identity.who(),
            due_date=due,
            scenario=chosen_now if kind == "assumption" else None,
        )
    except SopError as error:
        st.error(plain(error), icon=":material/error:")
    else:
        st.rerun()
log = loaders.decision_log(today)
if log.empty:
    st.caption("Nothing recorded yet.")
else:
    widgets.table(
        log[["decision_id", "kind", "text", "owner", "due_date", "scenario", "state"]],
        decision_id=columns.number("No."),
        kind=columns.text("Kind"),
        text=columns.text("What", width="large"),
        owner=columns.text("Owner"),
        due_date=columns.date("Due / expires"),
        scenario=columns.text("Scenario"),
        state=columns.text("State"),
    )
    pick_col, status_col, button_col = st.columns([4, 2, 1], vertical_alignment="bottom")
    item = pick_col.selectbox(
        "Item",
        log["decision_id"].tolist(),
        format_func=lambda i: f"{i}: {log.set_index('decision_id').loc[i, 'text'][:80]}",
        key="decision_pick",
    )
    # Starts at the picked item's current status: Update without a choice changes nothing.
    if st.session_state.get("decision_status_for") != item:
        st.session_state["decision_status_for"] = item
        st.session_state["decision_status"] = log.set_index("decision_id").loc[item, "status"]
    status = status_col.selectbox(
        "Status",
        decisions.STATUSES,
        key="decision_status",
        disabled=bool(identity.may("decision")),
    )
    if button_col.button("Update", key="decision_update", **identity.disabled("decision")):
        version = int(log.set_index("decision_id").loc[item, "version"])
        try:
            decisions.set_status(
                loaders.database_path(), int(item), status, identity.who(), version
            )
        except SopError as error:
            st.error(plain(error), icon=":material/error:")
        else:
            st.rerun()

# --- Stock and production ------------------------------------------------------------------
with st.expander("Stock and production position", expanded=False):
    st.caption("Stock and production have no channel; the family filter applies.")
    cover = loaders.inventory_cover(scope, 13)
    made = loaders.production_vs_sales(scope, facts.history_last_week, 13)
    low = cover[cover["weeks_of_cover"] < SAFETY_WEEKS]
    produced_share = made["units_produced"].sum() / max(made["units_sold"].sum(), 1)
    widgets.kpi_row(
        [
            widgets.Kpi("Stock on hand (units)", units(cover["units_on_hand"].sum())),
            widgets.Kpi(
                "Stock value at variable cost", money(cover["stock_value"].sum(), currency)
            ),
            widgets.Kpi(
                f"SKUs under {weeks_text(SAFETY_WEEKS)} of cover",
                f"{len(low)}",
                help=f"Stock on hand below the safety stock: {weeks_text(SAFETY_WEEKS)} of "
                "average weekly sales (the last 13 weeks), the level the production plan keeps "
                "in every week.",
            ),
            widgets.Kpi("Produced vs sold, last 13 weeks", f"{produced_share:.0%}"),
        ]
    )
    # Side by side on a large screen; one under the other where the chart's long SKU names
    # would leave its bars no room.
    left, right = widgets.side_by_side("stock_and_production", 36, 24)
    with left:
        widgets.chart(charts.cover_chart(cover, SAFETY_WEEKS), key="plan_cover")
    with right:
        widgets.table(
            made,
            family=columns.text("Family"),
            units_produced=columns.units("Produced"),
            units_sold=columns.units("Sold"),
            hours_used=columns.hours("Hours used"),
        )

# --- Meeting pack --------------------------------------------------------------------------
st.subheader("Meeting pack")
st.caption(
    f"For {plain(chosen_now) if chosen_now else 'the latest plan of record (or the baseline)'}: "
    "an Excel workbook "
    "(cover, summary, targets by SKU and week, production and capacity by line and week, "
    "decisions) and an HTML report with the charts that opens offline, and a PDF of it where "
    "Chromium is installed."
)
# A job writes each pack into a folder of its own next to the database: the newest one for
# this choice is offered below, after leaving the page or a restart too.
pack_parameters = {
    "packs": str(packs_folder(loaders.database_path())),
    "scenario": chosen_now,
    "weeks": 26,
}
if st.button("Build the meeting pack", key="build_pack", icon=":material/inventory_2:"):
    try:
        jobs.run_with_progress("pack", pack_parameters, "Meeting pack")
    except SopError as error:
        st.error(plain(error), icon=":material/error:")
made = jobs.latest_done("pack", pack_parameters)
pack_files = {}
if made is not None and made.result:
    pack_files = {
        kind: Path(file)
        for kind, file in made.result.get("files", {}).items()
        if Path(file).is_file()
    }
if pack_files:
    finished = dt.datetime.fromisoformat(made.finished)
    st.caption(plain(f"Made {finished:%d %b %Y %H:%M} by {made.started_by} (job {made.job_id})."))
    buttons = st.columns(len(pack_files))
    mimes = {
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "html": "text/html",
        "pdf": "application/pdf",
    }
    for column, (kind, file) in zip(buttons, pack_files.items(), strict=True):
        column.download_button(
            f"Download {kind.upper()}",
            data=file.read_bytes,
            file_name=file.name,
            mime=mimes.get(kind, "application/octet-stream"),
            on_click="ignore",
            key=f"pack_{kind}",
            icon=":material/download:",
        )

# --- What changed -------------------------------------------------------------------------
st.subheader("What changed since the plan of record")
changes = loaders.what_changed(run.run_id, chosen_now)
if changes is None:
    st.caption("No plan of record yet (or no week in common with it).")
else:
    for note in changes.attrs.get("notes", []):
        st.warning(plain(note), icon=":material/warning:")
    st.caption(
        f"Plan of record v{changes.attrs['version']} ({plain(changes.attrs['scenario'])}) against "
        f"{plain(chosen_now) if chosen_now else 'the baseline'} now, "
        f"weeks of {changes.attrs['first']:%d %b} to "
        f"{changes.attrs['last']:%d %b %Y}. Capacity changes move production, not targets."
    )
    volume_col, revenue_col = st.columns(2)
    with volume_col:
        widgets.chart(
            charts.waterfall_chart(changes, "volume", "Volume: plan of record to now", "Units"),
            key="changes_volume",
        )
    with revenue_col:
        widgets.chart(
            charts.waterfall_chart(
                changes, "revenue", "Revenue: plan of record to now", f"Revenue ({currency})"
            ),
            key="changes_revenue",
        )
