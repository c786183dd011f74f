"""Demand review: is the forecast believable, where did it miss, what does the team plan on?"""

from __future__ import annotations

import datetime as dt

import numpy as np
import streamlit as st

from sop_core import charts
from sop_core.data.errors import InputError, SopError
from sop_core.demand import consensus
from sop_core.demand.by_period import next_weeks_by_period, series_by_period
from sop_core.demand.cube import next_weeks
from sop_ui import columns, filters, identity, jobs, loaders, periods, shell, widgets
from sop_ui.formatting import (
    MODEL_LABELS,
    change,
    money,
    plain,
    plain_frame,
    scope_caption,
    units,
)

LEVEL_LABELS = dict(
    zip(consensus.LEVELS, ("Total", "Family", "Brand", "Channel", "SKU"), strict=True)
)
WHICH_WIDTH = 340  # px: the longest SKU's number and name
# The value-added steps as the glossary names them (the accuracy JSON keeps ``naive``).
STEP_LABELS = {"naive": "seasonal naive"}


def _capitalised(text: str | None) -> str:
    return (text or "")[:1].upper() + (text or "")[1:]


shell.require_shell()
facts = loaders.facts()
sidebar = filters.scope()
currency = facts.currency

st.title("Demand review")
run = widgets.require_forecast()
cube = loaders.demand_cube(run.run_id)
base = cube.base
in_force = loaders.consensus_overrides(in_force=True)  # on weeks of this forecast

st.caption(
    f"Forecast run {run.run_id}, history end: the week of {run.history_end:%d %b %Y}, "
    f"made {run.created_at:%d %b %Y %H:%M}. Consensus = statistical forecast + "
    f"{len(in_force)} override(s) in force. {scope_caption(sidebar)}"
)
with st.expander("How this forecast was made"):
    models = loaders.models_used(run.run_id)
    st.markdown(
        "Each SKU is served by the model that forecast it best in a backtest (three past "
        "origins, the next 13 weeks), or by the backtest-weighted **combination** of the "
        "models within noise of the best. Served: "
        + ", ".join(f"{plain(MODEL_LABELS.get(m, m))} {n}" for m, n in models.items())
        + "."
    )
    fallbacks = loaders.run_fallbacks(run.run_id)
    if fallbacks.empty:
        st.caption("No model failed in this run.")
    else:
        st.warning(
            f"{len(fallbacks)} SKU(s) where a model failed; another served instead.", icon="⚠️"
        )
        widgets.table(
            plain_frame(fallbacks),
            fit=True,
            sku=columns.text("SKU"),
            failed_models=columns.text("Failed"),
            failure=columns.text("Error"),
            model=columns.text("Served instead"),
        )

# One row that wraps: in fixed columns a laptop's screen cut the scope's last choices and
# the button's label.
controls = st.container(horizontal=True, vertical_alignment="bottom")
with controls:
    level = st.segmented_control(
        "Scope",
        list(LEVEL_LABELS),
        format_func=LEVEL_LABELS.get,
        default="total",
        required=True,
        key="demand_level",
        bind="query-params",
    )
    options = cube.choices(level, sidebar.families)
    if level == "channel" and sidebar.channels:
        options = [c for c in options if c in sidebar.channels]
    if level == "total":
        target = None
        st.selectbox(
            "Which", ["The total within the sidebar's filters"], disabled=True, width=WHICH_WIDTH
        )
    elif not options:
        st.warning(f"No {LEVEL_LABELS[level].lower()} in the sidebar's filters.")
        st.stop()
    else:
        labels = cube.sku_labels() if level == "sku" else {}
        target = widgets.long_select(
            LEVEL_LABELS[level],
            options,
            key=f"demand_{level}",
            what=f"{LEVEL_LABELS[level].lower()}s",
            bind="query-params",
            format_func=lambda value: labels.get(value, value),
            width=WHICH_WIDTH,
        )
        if target is None:
            st.stop()
    measure = st.segmented_control(
        "Measure",
        ["units", "revenue"],
        default="units",
        key="demand_measure",
        format_func=lambda m: "Units" if m == "units" else f"Revenue ({currency})",
        required=True,
    )
    refresh = st.button(
        "Refresh forecast",
        icon=":material/refresh:",
        help=identity.may("forecast")
        or "Refit on the latest sales (unchanged SKUs are reused; the page stays usable "
        "for everyone else meanwhile).",
        disabled=bool(identity.may("forecast")),
    )
if refresh:
    try:
        widgets.refresh_forecast_with_progress()
    except SopError as error:
        st.error(plain(error), icon=":material/error:")

scope_name = "Total" if level == "total" else f"{LEVEL_LABELS[level]} {target}"
series = cube.series(level, target, measure, sidebar.families, sidebar.channels)
table = next_weeks(series)
unit = "units" if measure == "units" else currency


# --- KPIs: the next 13 weeks -------------------------------------------------------------
planned = table["consensus"].sum()
statistical = table["statistical"].sum()
last_year = table["last_year"].sum()
fmt = units if measure == "units" else (lambda v: money(v, currency))
promoted = (table["on"].str.contains("promotion")).sum()
low, high = table["lower_80"].sum(), table["upper_80"].sum()
spread = (high - low) / 2 / statistical if statistical > 0 else 0.0
widgets.kpi_row(
    [
        widgets.Kpi(
            "Consensus, next 13 weeks",
            fmt(planned),
            change(planned, last_year),
            help="The plan the team agrees on: the statistical forecast plus overrides.",
        ),
        widgets.Kpi(
            "Consensus vs statistical",
            ("+" if planned > statistical + 0.5 else "") + fmt(planned - statistical),
            change(planned, statistical),
            change_label="vs the statistical forecast",
        ),
        widgets.Kpi(
            "Forecast uncertainty",
            f"±{spread:.0%}" if statistical > 0 else "-",
            note=f"80% band {fmt(low)} - {fmt(high)}",
            help="Half the width of the statistical forecast's 80% band over the next 13 "
            "weeks, as a share of the forecast.",
        ),
        widgets.Kpi(
            "Promotion weeks ahead",
            f"{promoted} of 13",
            note="shaded on the chart" if periods.weekly() else "shaded: periods half in promotion",
        ),
    ]
)

bucket = periods.bucket()
widgets.chart(
    charts.demand_chart(
        series_by_period(series, bucket, periods.calendar()),
        f"{scope_name}: {bucket}ly {measure}",
        f"Units per {bucket}" if measure == "units" else f"Revenue per {bucket} ({currency})",
        approved_name=cube.approved_name,
    ),
    key="demand_chart",
)
if not periods.weekly():
    st.caption(
        f"The {bucket} the history ends in is drawn as its landing: its closed weeks' actuals "
        "plus the forecast of its open weeks (the bands only around the open weeks). A "
        f"{bucket} the horizon ends in holds only the horizon's weeks."
    )
for warning in base.consensus_warnings:
    st.warning(warning, icon=":material/warning:")

st.subheader("Next 13 weeks" + ("" if periods.weekly() else f" by {bucket}"))
shown = next_weeks_by_period(table, series, bucket, periods.calendar())
shown = shown.round(
    {c: 0 for c in table.columns if c not in ("week", bucket, "vs_last_year", "on", "weeks")}
)
if cube.approved_name is None:
    shown = shown.drop(columns="approved")
widgets.table(
    shown,
    fit=True,
    week=columns.week("Week"),
    statistical=columns.units("Statistical"),
    lower_80=columns.units("Low 80%"),
    upper_80=columns.units("High 80%"),
    consensus=columns.units("Consensus"),
    override=columns.units("Overrides", signed=True),
    approved=columns.units(_capitalised(cube.approved_name)),
    last_year=columns.units("A year earlier"),
    vs_last_year=columns.change("vs a year earlier"),
    on=columns.text("What is on", width="large"),
)

# --- Accuracy ------------------------------------------------------------------------------
st.subheader("Forecast accuracy")
scope_lags = loaders.accuracy(level, target).by_lag["lag"].tolist()
being_made = jobs.preparing(("backfill",))
if not loaders.has_past_forecasts() and being_made:
    st.info(
        plain(
            f"The past forecasts accuracy by lag needs are being made: {being_made}. This "
            "section fills in when they are ready."
        ),
        icon=":material/hourglass_top:",
    )
elif not loaders.has_past_forecasts():
    st.info(
        "Accuracy by lag compares what past forecasts said with what was then sold. There "
        "are no past forecasts of closed weeks yet: a weekly forecasting routine stores them. "
        "Make them now from the history, as that routine would have (8 forecasts, two weeks "
        "apart; about a minute for the sample company).",
        icon=":material/history:",
    )
    if st.button(
        "Make past forecasts",
        key="backfill",
        icon=":material/history:",
        **identity.disabled("forecast"),
    ):
        try:
            widgets.backfill_with_progress(8)
        except SopError as error:
            st.error(plain(error), icon=":material/error:")
elif not scope_lags:
    st.info(
        f"No past forecast of {plain(scope_name.lower())} has reached a closed week yet "
        "(a new item, or one the past forecasts did not cover).",
        icon=":material/info:",
    )
else:
    lag = st.select_slider(
        "Forecast lag: how many weeks ahead the forecast was made",
        options=scope_lags,
        value=4 if 4 in scope_lags else scope_lags[0],
        key="accuracy_lag",
    )
    scores = loaders.accuracy(level, target, lag)
    at_lag = scores.by_lag.set_index("lag").loc[lag]
    steps = scores.value_added.set_index("step")
    widgets.kpi_row(
        [
            widgets.Kpi(
                f"WAPE at lag {lag}",
                f"{at_lag['wape']:.1%}",
                note=f"seasonal naive {at_lag['naive_wape']:.1%}",
                help="Weighted absolute percentage error: the sum of absolute errors over the "
                "units sold, on closed weeks.",
            ),
            widgets.Kpi(
                "Bias",
                f"{at_lag['bias']:+.1%}",
                note="over-forecast" if at_lag["bias"] > 0 else "under-forecast",
            ),
            widgets.Kpi(
                "MASE",
                f"{at_lag['mase']:.2f}",
                note=f"seasonal naive {at_lag['naive_mase']:.2f}",
                help="Mean absolute error over the seasonal naive forecast's in-sample error: "
                "below 1 beats last year's same week.",
            ),
            widgets.Kpi(
                "Value added by overrides",
                (
                    "none yet"
                    if not scores.overridden
                    else "n/a"
                    if np.isnan(steps.loc["consensus", "wape_gain_vs_previous"])
                    else f"{steps.loc['consensus', 'wape_gain_vs_previous']:+.1%}"
                ),
                note="WAPE points, consensus vs statistical",
                help="How much the team's overrides improved WAPE on closed weeks (positive: "
                "they helped). 'None yet' until overrides meet closed weeks.",
            ),
        ]
    )
    st.caption(
        f"From {scores.origins} past forecast(s) of {plain(scope_name.lower())} against the weeks "
        "that have since closed (the sidebar's filters do not apply here)."
    )
    chart_col, value_col = st.columns([3, 2])
    with chart_col:
        widgets.chart(
            charts.accuracy_chart(scores.by_lag, f"{scope_name}: accuracy by lag"),
            key="accuracy_chart",
        )
    with value_col:
        st.markdown("**Forecast value added** (closed weeks at this lag)")
        widgets.table(
            scores.value_added.assign(step=lambda f: f["step"].replace(STEP_LABELS)),
            fit=True,
            step=columns.text("Step"),
            wape=columns.share("WAPE"),
            bias=columns.share("Bias"),
            mase=columns.ratio("MASE"),
            weeks=columns.number("Weeks"),
            wape_gain_vs_previous=columns.change("Gain vs step before"),
        )
    st.markdown(
        f"**Exceptions at lag {lag}**: SKUs ranked by business impact (absolute error x price)"
    )
    widgets.table(
        scores.by_sku.head(10).round({"error_units": 0, "impact": 0}),
        fit=True,
        sku=columns.text("SKU"),
        family=columns.text("Family"),
        brand=columns.text("Brand"),
        model=columns.text("Model"),
        wape=columns.share("WAPE"),
        bias=columns.share("Bias"),
        mase=columns.ratio("MASE"),
        naive_wape=columns.share("Seasonal naive WAPE"),
        error_units=columns.units("Error (units)"),
        impact=columns.money("Impact", currency),
        weeks=columns.number("Weeks"),
    )

# --- Consensus overrides -------------------------------------------------------------------
st.subheader("Consensus overrides")
weeks = [w.astype("datetime64[D]").astype(dt.date) for w in base.weeks]
override_scope = (
    "the total" if level == "total" else f"{LEVEL_LABELS[level].lower()} {plain(target)}"
)
# Someone who may not change the consensus reads it (and the overrides below) without a form.
OVERRIDE_REFUSED = identity.may("override")
submitted, amount = False, None
if OVERRIDE_REFUSED:
    st.info(plain(OVERRIDE_REFUSED), icon=":material/lock:")
else:
    with st.form("override_form", clear_on_submit=False, border=True):
        st.markdown(
            f"Change the plan for **{override_scope}** (the scope chosen above; all its SKUs and "
            "channels: the sidebar's filters do not narrow an override). A change in units is "
            "spread over the SKUs and channels in proportion to the statistical forecast."
        )
        first_col, mode_col, amount_col = st.columns([3, 2, 2])
        with first_col:
            first, last = st.select_slider(
                "Weeks",
                options=weeks,
                value=(weeks[0], weeks[min(3, len(weeks) - 1)]),
                format_func=lambda d: f"{d:%d %b %Y}",
                key="override_weeks",
            )
        with mode_col:
            mode = st.selectbox(
                "Change",
                consensus.MODES,
                format_func=consensus.MODE_LABELS.get,
                key="override_mode",
            )
        with amount_col:
            # Starts empty: the consensus only moves when someone enters a change.
            amount = st.number_input(
                "Amount (% or units per week)",
                value=None,
                step=5.0,
                key="override_amount",
                placeholder="Enter the change",
            )
        reason = st.text_input(
            "Reason (required)",
            key="override_reason",
            placeholder="e.g. new listing at a retailer from week 50",
            max_chars=200,
        )
        submitted = st.form_submit_button("Apply consensus override", type="primary")


def save_override(override: consensus.Override) -> None:
    try:
        number_id, before, after, frozen = consensus.add_override(
            loaders.database_path(),
            base,
            base.statistical_by_channel,
            override,
            run_id=run.run_id,
            cycle=run.history_end,
        )
    except SopError as error:
        st.error(plain(error), icon=":material/error:")
    else:
        st.session_state["override_done"] = (
            f"Override {number_id} saved: {plain(override.validated().describe())}. "
            f"{plain(scope_name)} over those weeks: {before:,.0f} → {after:,.0f} units."
        )
        if frozen:
            st.session_state["override_frozen"] = frozen
        st.rerun()


if submitted and amount is None:
    st.session_state.pop("override_pending", None)
    st.error(
        "Enter an amount: the % change, the units per week to add, or the units per week to "
        "set. Nothing was changed.",
        icon=":material/error:",
    )
elif submitted:
    st.session_state.pop("override_pending", None)
    override = consensus.Override(
        level, target, first, last, mode, amount, reason, author=identity.who()
    )
    try:
        before, after = consensus.scope_change(
            base, base.statistical_by_channel, base.consensus_by_channel, override
        )
    except InputError as error:
        st.error(plain(error), icon=":material/error:")
    else:
        if consensus.large_change(before, after):
            # A big move is more often a slip (a % typed as units, "set" left at its
            # default) than a plan: ask once.
            st.session_state["override_pending"] = (override, before, after)
        else:
            save_override(override)
pending = st.session_state.get("override_pending")
if pending:
    override, before, after = pending
    st.warning(
        f"{plain(override.validated().describe())} takes {plain(scope_name)} over those weeks from "
        f"{before:,.0f} to {after:,.0f} units. Is that what you mean?",
        icon=":material/warning:",
    )
    yes, no, _ = st.columns([2, 1, 5])
    if yes.button("Yes, apply it", key="override_confirm", type="primary"):
        st.session_state.pop("override_pending")
        save_override(override)
    if no.button("Cancel", key="override_cancel"):
        st.session_state.pop("override_pending")
        st.rerun()
if "override_done" in st.session_state:
    st.success(st.session_state.pop("override_done"), icon=":material/check_circle:")
if "override_frozen" in st.session_state:
    st.warning(plain(st.session_state.pop("override_frozen")), icon=":material/warning:")

history = loaders.consensus_overrides()
if history.empty:
    st.caption("No overrides yet: the consensus is the statistical forecast.")
else:
    widgets.table(
        history.round({"units_before": 0, "units_after": 0})[
            [
                "override_id",
                "created_at",
                "author",
                "scope",
                "change",
                "reason",
                "units_before",
                "units_after",
                "status",
            ]
        ],
        override_id=columns.number("No."),
        created_at=columns.moment("Made"),
        author=columns.text("Who"),
        scope=columns.text("Scope"),
        change=columns.text("Change"),
        reason=columns.text("Reason"),
        units_before=columns.units("Units before"),
        units_after=columns.units("Units after"),
        status=columns.text("Status"),
    )
    undoable = history[history["status"] == "in force"]
    described = dict(
        zip(undoable["override_id"], undoable["scope"] + ", " + undoable["change"], strict=True)
    )
    if not undoable.empty:
        pick, go = st.columns([5, 1], vertical_alignment="bottom")
        with pick:
            chosen = st.selectbox(
                "Undo a consensus override",
                undoable["override_id"].tolist(),
                format_func=lambda i: f"{i}: {described[i]}",
                key="undo_pick",
            )
        with go:
            if st.button(
                "Undo", key="undo_override", width="stretch", **identity.disabled("override")
            ):
                try:
                    consensus.undo_override(
                        loaders.database_path(), int(chosen), identity.who(), run.history_end
                    )
                except SopError as error:
                    st.error(plain(error), icon=":material/error:")
                else:
                    st.session_state["override_done"] = f"Override {chosen} undone."
                    st.rerun()

# --- The sales history ----------------------------------------------------------------------
with st.expander("Sales history by family", expanded=False):
    history = periods.frame(loaders.weekly_sales_by_family(sidebar))
    widgets.chart(
        charts.weekly_history_chart(
            history,
            value=measure,
            title=f"{bucket.title()}ly {measure} by family",
            currency=currency,
            families=facts.families,
        ),
        key="demand_history",
    )
    by_channel = loaders.totals_by_family_channel(sidebar, facts.history_last_week, 52)
    widgets.table(
        by_channel,
        family=columns.text("Family"),
        channel=columns.text("Channel"),
        units=columns.units("Units, last 52 weeks"),
        revenue=columns.money("Revenue", currency),
        units_last_year=columns.units("Units a year earlier"),
        units_vs_last_year=columns.change("Change"),
    )
