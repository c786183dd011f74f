"""Promotions & pricing: live what-if levers that revise the targets, revenue and gross margin.

The scenario workspace is one fragment: moving a lever re-renders only it. Everything heavy
(the forecast run's arrays) is cached; a lever move is array maths in memory.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from sop_core import charts
from sop_core.data import formats
from sop_core.data.errors import SopError
from sop_core.data.importer import parse_mapping
from sop_core.scenario.history import lever_history, levers_outside_history
from sop_core.scenario.levers import CurrentEffect, apply_scenario, current_effect
from sop_core.scenario.model import OVERRIDABLE, EffectOverride, Lever
from sop_core.scenario.plan_files import edited_levers, lever_table
from sop_core.scenario.promotion_kpis import promotion_kpis, promotion_kpis_table
from sop_core.scenario.targets import (
    bucketed_targets,
    result_targets,
    targets_bytes,
    targets_cover,
    targets_file_name,
)
from sop_core.supply import loads
from sop_ui import columns, drafts, filters, identity, loaders, periods, shell, widgets
from sop_ui.formatting import LABEL_LIMIT, change, money, plain, scope_caption, units

shell.require_shell()
facts = loaders.facts()
scope = filters.scope()
last_week = facts.history_last_week

st.title("Promotions & pricing")
run = widgets.require_forecast()
base = loaders.plan_base(run.run_id)
path = loaders.database_path()
# Why the person at the screen may not change scenarios (levers, effect overrides, saving),
# None when they may: the editor stays on screen to read, disabled.
REFUSED = identity.may("scenario")
LOCKED = identity.disabled("scenario")
KINDS = {
    "promotion": "Promotion",
    "price": "Price change",
    "campaign": "Campaign",
    "distribution": "Distribution",
}
SCOPE_LABELS = {
    "all": "Total",
    "family": "A family",
    "brand": "A brand",
    "channel": "A channel",
    "sku": "One SKU",
}
WEEK_LABELS = [f"{pd.Timestamp(w):%d %b %Y}" for w in base.weeks]
# Defaults a few weeks out (enough to prepare a promotion), within even a short horizon.
DEFAULT_WEEKS = (
    WEEK_LABELS[min(2, len(WEEK_LABELS) - 1)],
    WEEK_LABELS[min(3, len(WEEK_LABELS) - 1)],
)
DEFAULT_FROM = WEEK_LABELS[min(5, len(WEEK_LABELS) - 1)]
TARGETS = {
    "family": sorted(set(base.families)),
    "brand": sorted(set(base.brands)),
    "channel": list(base.channels),
    "sku": [f"{s}  {n}" for s, n in zip(base.skus, base.names, strict=True)],
}
# The most promotions the "Promotions in this scenario" table lists (those with the most trade
# spend): a plan file's thousands are no table to read in a meeting.
LISTED_PROMOTIONS = 50
CHANGE_SLIDERS = {  # label, lowest, highest, step (in %)
    # Beyond what the history has seen the lever says so, and its band widens.
    "price": ("Price change", -50, 100, 1),
    "campaign": ("Campaign uplift", 0, 50, 5),
    "distribution": ("Distribution change", -50, 50, 5),
}
# One meaning for a price, here and in plan files (``sop_core.scenario.plan_files``).
PRICE_HELP = (
    "Sets the price, against the list price, from its week until the next price change for "
    "the same scope, or until its end week (the To column of the levers table) if that comes "
    "first; none: to the end of the horizon. A plan file's price row means the same."
)
FIELD_WIDTH = 400  # px: the effect override's fields, not stretched across a wide screen
# The sliders' starting values, put in Session State before the sliders are drawn and never
# passed to them as a value: adding a lever resets them through Session State, and a widget
# with a default as well would make Streamlit warn in the server's log. (The weeks keep their
# value argument: it makes a select slider a range, and nothing resets them.)
EDITOR_START = {
    "lever_discount": 0,
    "lever_share": 100,
    "lever_feature": 0,
    "lever_display": 0,
    **{f"lever_{kind}": 0 for kind in CHANGE_SLIDERS},
}


def _started(key: str) -> str:
    """``key``, with its starting value in Session State unless it has one already."""
    st.session_state.setdefault(key, EDITOR_START[key])
    return key


def lever_editor() -> Lever:
    """The lever being edited: its widgets, and the lever they describe (previewed live)."""
    off = bool(REFUSED)  # a person who may not change scenarios reads the editor, disabled
    kind = st.selectbox("Lever", list(KINDS), format_func=KINDS.get, key="lever_kind", disabled=off)
    scope_kind = st.selectbox(
        "Scope", list(SCOPE_LABELS), format_func=SCOPE_LABELS.get, key="lever_scope", disabled=off
    )
    if scope_kind != "all":
        widgets.long_select(
            scope_kind.capitalize(),
            TARGETS[scope_kind],
            key=f"lever_target_{scope_kind}",
            what=f"{scope_kind}s",
            disabled=off,
        )
    if kind in ("promotion", "campaign"):
        st.select_slider("Weeks", WEEK_LABELS, value=DEFAULT_WEEKS, key="lever_weeks", disabled=off)
    else:
        st.select_slider(
            "From the week of", WEEK_LABELS, value=DEFAULT_FROM, key="lever_from", disabled=off
        )
    if kind == "promotion":
        st.slider(
            "Discount",
            0,
            60,
            step=5,
            format="%d%%",
            key=_started("lever_discount"),
            disabled=off,
        )
        st.slider(
            "In share of distribution",
            5,
            100,
            step=5,
            format="%d%%",
            key=_started("lever_share"),
            help="The part of the SKUs' volume (stores, customers) the discount runs in.",
            disabled=off,
        )
        for name, key in (("Feature", "lever_feature"), ("Display", "lever_display")):
            st.slider(
                f"{name} (share of stores)",
                0,
                100,
                step=25,
                format="%d%%",
                key=_started(key),
                disabled=off,
            )
    else:
        label, low, high, step = CHANGE_SLIDERS[kind]
        st.slider(
            label,
            low,
            high,
            step=step,
            format="%+d%%",
            key=_started(f"lever_{kind}"),
            help=PRICE_HELP if kind == "price" else None,
            disabled=off,
        )
    lever = lever_from_state()
    history = lever_history(base, lever)
    if history is not None and (history.outside or lever.change or lever.discount):
        # Next to the lever: the range its SKUs' history has seen, and whether it leaves it.
        st.caption((":material/warning: " if history.outside else "") + plain(history.text()))
    return lever


def lever_from_state() -> Lever:
    """The lever the editor's widgets describe (the buttons' callbacks read it too)."""
    state = st.session_state
    kind = state.get("lever_kind") or "promotion"
    scope_kind = state.get("lever_scope") or "all"
    target = None
    if scope_kind != "all":
        picked = state.get(f"lever_target_{scope_kind}") or TARGETS[scope_kind][0]
        target = picked.split("  ")[0] if scope_kind == "sku" else picked
    if kind in ("promotion", "campaign"):
        first, last = state.get("lever_weeks") or DEFAULT_WEEKS
        start, end = _week(first), _week(last)
    else:
        start, end = _week(state.get("lever_from") or DEFAULT_FROM), None
    if kind == "promotion":
        return Lever(
            kind,
            scope_kind,
            target,
            start,
            end,
            discount=state.get("lever_discount", 0) / 100,
            share=state.get("lever_share", 100) / 100,
            feature=state.get("lever_feature", 0) / 100,
            display=state.get("lever_display", 0) / 100,
        )
    return Lever(kind, scope_kind, target, start, end, change=state.get(f"lever_{kind}", 0) / 100)


def _week(label: str) -> dt.date:
    return base.weeks[WEEK_LABELS.index(label)].astype(dt.date)


def add_lever() -> None:
    current = drafts.current()
    current.levers.append(lever_from_state().validated())
    current.dirty = True
    # The lever is in the scenario now: set the editor back to "no change" so it is not
    # previewed twice.
    for key in (
        "lever_discount",
        "lever_feature",
        "lever_display",
        *(f"lever_{kind}" for kind in CHANGE_SLIDERS),
    ):
        st.session_state[key] = 0


def remove_override(index: int) -> None:
    current = drafts.current()
    if index < len(current.overrides):
        current.overrides.pop(index)
        current.dirty = True


def add_override(
    driver: str, scope_kind: str, target: str | None, key: str, start: float | None
) -> None:
    """Add the effect override the form holds for the scope its button names, unless it is
    empty or still the value the scenario uses now (``start``): neither changes the plan."""
    value = st.session_state.get(key)
    if value is None:
        st.session_state["override_error"] = (
            f"Enter a value for the {OVERRIDABLE[driver].lower()}: the forecast could not "
            "estimate it here, so the form starts empty. Nothing was added."
        )
        return
    if start is not None and abs(float(value) - start) < 1e-9:
        st.session_state["override_note"] = (
            "That is the value the scenario uses now: nothing was added. Change the value first."
        )
        return
    try:
        override = EffectOverride(driver, float(value), scope_kind, target).validated()
    except (SopError, TypeError, ValueError) as error:
        st.session_state["override_error"] = plain(error)
        return
    current = drafts.current()
    current.overrides.append(override)
    current.dirty = True


def _effect_text(driver: str, value: float) -> str:
    return f"{value:.2f}" if driver == "price_elasticity" else f"{value:+.0%}"


def _now_caption(driver: str, now: CurrentEffect) -> str:
    """What the effect is now for the lever's scope: the form's starting value."""
    if now.value is None:
        return "The forecast could not estimate this effect for these SKUs: enter a value."
    text = f"Now {_effect_text(driver, now.value)}"
    if now.skus > 1 and now.highest - now.lowest > 5e-3:
        text += (
            f" (weighted by volume over {now.skus} SKUs, from "
            f"{_effect_text(driver, now.lowest)} to {_effect_text(driver, now.highest)}: an "
            "override sets them all to one value)"
        )
    return text + "."


def effects_panel(current: drafts.ScenarioDraft, preview: Lever) -> None:
    """The estimated effects behind the lever's SKUs, and the user's effect overrides."""
    for index, override in enumerate(current.overrides):
        row = st.columns([5, 1])
        row[0].markdown(f"Effect override: {plain(override.describe())}")
        row[1].button(
            "",
            icon=":material/close:",
            key=f"remove_override_{index}",
            help=REFUSED or "Use the estimate again",
            on_click=remove_override,
            args=(index,),
            disabled=bool(REFUSED),
        )

    with st.expander("Effects behind the lever, and effect overrides"):
        table = loaders.driver_table(run.run_id)
        chosen = base.scope_mask(preview.scope, preview.target)
        shown = table[table["sku"].isin(base.skus[chosen])]
        widgets.table(
            shown[
                [
                    "sku",
                    "price_elasticity",
                    "price_elasticity_lower",
                    "price_elasticity_upper",
                    "promo_uplift_per_10pct_discount",
                    "feature_uplift",
                    "display_uplift",
                    "confidence",
                ]
            ],
            sku=columns.text("SKU"),
            price_elasticity=columns.ratio("Elasticity"),
            price_elasticity_lower=columns.ratio("Low 95%"),
            price_elasticity_upper=columns.ratio("High 95%"),
            promo_uplift_per_10pct_discount=columns.share("Uplift per 10% discount"),
            feature_uplift=columns.share("Feature"),
            display_uplift=columns.share("Display"),
            confidence=columns.text("Confidence"),
        )
        st.caption(
            "Estimated from the history by the forecast (shrunk towards the family "
            "where a SKU's own history cannot tell). Set an effect override for the "
            "lever's scope if the team knows better:"
        )
        driver = st.selectbox(
            "Effect",
            list(OVERRIDABLE),
            format_func=OVERRIDABLE.get,
            key="override_driver",
            width=FIELD_WIDTH,
        )
        # Starts at what the scenario uses now for the lever's scope (empty where the forecast
        # could not tell): submitted unchanged, it changes nothing. The key names the scope and
        # that value, so another scope or a new override starts the field afresh.
        now = current_effect(
            base, current.edited(current.name or "unsaved"), driver, preview.scope, preview.target
        )
        key = f"override_value_{driver}_{preview.scope}_{preview.target}_{now.value!r}"
        st.number_input(
            "Value" if driver == "price_elasticity" else "Uplift (0.30 = +30%)",
            value=now.value,
            step=0.05,
            format="%.2f",
            key=key,
            placeholder="Enter a value",
            width=FIELD_WIDTH,
            disabled=bool(REFUSED),
        )
        st.caption(_now_caption(driver, now))
        st.button(
            "Effect override for "
            + (
                "the total"
                if preview.scope == "all"
                else plain(f"{preview.scope} {preview.target}", limit=LABEL_LIMIT)
            ),
            key="add_override",
            disabled=preview.scope == "channel" or bool(REFUSED),
            help=REFUSED,
            on_click=add_override,
            args=(driver, preview.scope, preview.target, key, now.value),
        )
        if message := st.session_state.pop("override_error", None):
            st.error(message, icon=":material/error:")
        if message := st.session_state.pop("override_note", None):
            st.info(message, icon=":material/info:")


@st.fragment
def workspace() -> None:
    current = drafts.current()
    # The lever comes from the widgets' state, so the results can be drawn first: after a
    # lever move the chart reaches the browser before anything else.
    preview = lever_from_state()
    editor, results = st.columns([1, 2], gap="large")
    # The tables take the page's width under the editor and the chart: beside the editor, a
    # laptop's screen would cut their columns.
    below = st.container()
    with results:
        try:
            result = apply_scenario(base, current.edited(current.name or "unsaved", [preview]))
        except SopError as error:
            st.error(plain(error), icon=":material/error:")
        else:
            show_results(result, preview, below)
    with editor:
        st.subheader("Lever")
        if REFUSED:
            st.caption(plain(REFUSED))
        lever_editor()


def show_results(result, preview: Lever, below: DeltaGenerator) -> None:
    """Chart, KPIs and warnings of the edited scenario; its capacity effect and revised
    targets in ``below``."""
    weekly = periods.frame(result.weekly(scope.families, scope.channels), centre="revised")
    widgets.chart(charts.scenario_chart(weekly), key="scenario_chart")
    lever_kpis(result, preview)
    company_kpis(result)
    st.caption(
        f"Previewing: {plain(preview.describe())}. {scope_caption(scope)} "
        f"Baseline: forecast run {run.run_id}, {len(base.weeks)} weeks from "
        f"{WEEK_LABELS[0]}."
    )
    for note in result.warnings:
        st.warning(plain(note), icon=":material/warning:")
    with below:
        scenario_promotions(result, drafts.current().levers)
        show_tables(result)


def show_tables(result) -> None:
    """The edited scenario's capacity effect, revised targets and their downloads."""
    currency = facts.currency
    over = periods.frame(result.line_load(), ratios={"utilisation": ("hours", "available_hours")})
    over = over[(over["hours"] > over["available_hours"] + 1e-9) & (over["hours"] > 0)]
    st.subheader("Capacity effect")
    if over.empty:
        st.success(
            f"No line needs more hours than it has in any {periods.bucket()} of this scenario.",
            icon=":material/check_circle:",
        )
    else:
        widgets.table(
            over.assign(week=over["week"].dt.date)[
                [
                    "line",
                    "line_name",
                    *([] if periods.weekly() else [periods.bucket()]),
                    "week",
                    "hours_base",
                    "hours",
                    "available_hours",
                    "utilisation",
                ]
            ],
            line=columns.text("Line"),
            line_name=columns.text("Name"),
            week=columns.week("Week"),
            hours_base=columns.hours("Hours needed, baseline"),
            hours=columns.hours("Hours needed, scenario"),
            available_hours=columns.hours("Available"),
            utilisation=columns.share(loads.DEMAND_LOAD),
        )
    st.subheader("Revised targets")
    level = st.segmented_control(
        "Roll up by",
        ["family", "brand", "channel"],
        default="family",
        required=True,
        key="rollup",
        format_func=str.capitalize,
    )
    widgets.table(
        result.by(level).round(
            {"baseline": 0, "revised": 0, "revenue": 0, "margin": 0, "change": 0}
        ),
        fit=True,
        **{level: columns.text(level.capitalize())},
        baseline=columns.units("Baseline units"),
        revised=columns.units("Revised units"),
        revenue=columns.money("Revenue", currency),
        margin=columns.money("Gross margin", currency),
        change=columns.units("Change", signed=True),
        change_share=columns.change("Change %"),
    )
    downloads = st.columns(2)
    name = drafts.current().name or "unsaved scenario"
    for column, kind, label in ((downloads[0], "csv", "CSV"), (downloads[1], "xlsx", "Excel")):
        column.download_button(
            f"Download the targets ({label})",
            data=functools.partial(
                _targets_file, result, kind, name, periods.bucket(), periods.calendar()
            ),
            file_name=targets_file_name(name, base.weeks[0], kind, periods.bucket()),
            key=f"targets_{kind}",
            icon=":material/download:",
            on_click="ignore",
            help="sku, week (or month, quarter), baseline, revised, lower_80, upper_80, name, "
            "family, brand, revenue, margin for every SKU and period (the same file as "
            "`python -m sop_core targets --bucket ...`).",
        )
    if st.toggle(f"Show revised targets by SKU and {periods.bucket()}", key="show_targets"):
        targets = periods.frame(result.targets(), centre="revised")
        changed = targets[targets["change"].abs() > 0.5]
        widgets.table(
            (changed if not changed.empty else targets)
            .assign(week=lambda f: f["week"].dt.date)
            .head(500),
            sku=columns.text("SKU"),
            family=columns.text("Family"),
            week=columns.week("Week"),
            baseline=columns.units("Baseline"),
            revised=columns.units("Revised"),
            lower_80=columns.units("Low 80%"),
            upper_80=columns.units("High 80%"),
            change=columns.units("Change", signed=True),
            revenue=columns.money("Revenue", currency),
            margin=columns.money("Gross margin", currency),
            line_hours=columns.hours("Hours needed", decimals=1),
        )


def lever_kpis(result, preview: Lever) -> None:
    """The lever being edited, in its own scope and weeks: incremental units, revenue and gross
    margin, trade spend, promotion ROI and the post-promotion dip (docs/GLOSSARY.md). Short
    labels, so three tiles fit the results column of a 1366-pixel laptop; the caption below
    says what each one counts."""
    kpi = promotion_kpis(result, preview)
    currency = facts.currency
    promotion = preview.kind == "promotion"
    what = "the total" if preview.scope == "all" else f"{preview.scope} {preview.target}"
    if kpi.first_week is None:
        when = "outside the forecast's weeks"
    else:
        when = formats.weeks_span(kpi.first_week, kpi.last_week)
    st.markdown(
        f"**The lever being edited**, in its scope and weeks: {plain(what)}, {when} "
        f"(money in {currency})"
    )
    widgets.kpi_row(
        [
            widgets.Kpi(
                "Incremental units",
                units(kpi.incremental_units, signed=True),
                change(kpi.baseline_units + kpi.incremental_units, kpi.baseline_units),
                change_label="",
            ),
            widgets.Kpi(
                "Incremental revenue",
                units(kpi.incremental_revenue, signed=True),
                change(kpi.baseline_revenue + kpi.incremental_revenue, kpi.baseline_revenue),
                change_label="",
            ),
            widgets.Kpi(
                "Incremental margin",
                units(kpi.incremental_margin, signed=True),
                change(kpi.baseline_margin + kpi.incremental_margin, kpi.baseline_margin),
                change_label="",
            ),
        ]
    )
    roi = kpi.roi
    if not promotion:
        dip, dip_note = formats.MISSING, f"no dip after a {preview.kind}"
    elif kpi.dip_week is None:
        dip, dip_note = "0", "ends with the horizon"
    else:
        dip, dip_note = units(kpi.dip_units, signed=True), formats.week(kpi.dip_week)
    widgets.kpi_row(
        [
            widgets.Kpi(
                "Trade spend",
                units(kpi.trade_spend),
                note=f"on {units(kpi.baseline_units)} units" if kpi.trade_spend else "no discount",
            ),
            widgets.Kpi(
                "Promotion ROI",
                formats.MISSING if np.isnan(roi) else f"{roi:+.2f}",
                note=f"per {currency} spent" if not np.isnan(roi) else "no trade spend",
            ),
            widgets.Kpi("Post-promotion dip", dip, note=dip_note),
        ]
    )
    taken = (
        f" The rest of the family in those weeks: {units(kpi.cannibalised_units, signed=True)} "
        f"units, {money(kpi.cannibalised_margin, currency, signed=True)} of gross margin "
        "(cannibalisation; the ROI counts it)."
        if round(kpi.cannibalised_units)
        else ""
    )
    st.caption(
        "Incremental: revised target minus baseline in the lever's scope and weeks (other "
        "levers there included); the margin is the gross margin after the discount. Trade "
        "spend: the discount on the units that would have sold anyway (baseline units x "
        "listed price x discount). Promotion ROI: (incremental margin + the dip's + the "
        "family's loss) / trade spend; 0 is break-even. Post-promotion dip: the units the "
        "promotion's own dip takes in the week after it, as the forecast estimated it (one "
        "week; no longer pull-forward is modelled; 0 where none was found)." + taken
    )


def scenario_promotions(result, levers: list[Lever]) -> None:
    """Each promotion of the scenario with the figures of ``lever_kpis`` (the lever being
    edited not among them until it is added)."""
    promotions = [lever for lever in levers if lever.kind == "promotion"]
    if not promotions:
        return
    table = promotion_kpis_table(result, promotions, largest=LISTED_PROMOTIONS)
    currency = facts.currency
    title = "Promotions in this scenario"
    if len(promotions) > len(table):
        title += f": the {len(table)} with the most trade spend, of {len(promotions):,}"
    st.markdown(f"**{title}**, each in its scope and weeks; money in {currency}")
    money_columns = ("incremental_revenue", "incremental_margin", "trade_spend")
    widgets.table(
        table[
            [
                "lever",
                "incremental_units",
                *money_columns,
                "roi",
                "dip_units",
                "cannibalised_units",
            ]
        ].round(
            {"incremental_units": 0, "dip_units": 0, "cannibalised_units": 0, "roi": 2}
            | dict.fromkeys(money_columns, 0)
        ),
        fit=len(table) <= 10,
        # Short headers (the help says the rest), so every column fits a 1366 px laptop.
        # Money in the title above rather than in each header, so the headers stay short.
        lever=columns.text("Promotion", width=200),
        incremental_units=columns.units(
            "Extra units", width=95, help="Incremental units over the baseline."
        ),
        incremental_revenue=columns.units(
            "Extra revenue", width=110, help=f"Incremental revenue, {currency}."
        ),
        incremental_margin=columns.units(
            "Extra margin",
            width=110,
            help=f"Incremental gross margin after the discount, {currency}.",
        ),
        trade_spend=columns.units(
            "Trade spend",
            width=105,
            help=f"The discount on the units that would have sold anyway, {currency}.",
        ),
        roi=columns.ratio("ROI", signed=True, width=65, help="Promotion ROI."),
        dip_units=columns.units("Dip", width=75, help="Post-promotion dip, units."),
        cannibalised_units=columns.units("Cannibalised", width=110, help="Cannibalised units."),
    )


def company_kpis(result) -> None:
    """The company's totals (or the sidebar's families and channels), beside the lever's."""
    kpi = result.kpis(scope.families, scope.channels)
    currency = facts.currency
    roi = kpi["promotion_roi"]
    if scope.families or scope.channels:
        shown = scope_caption(scope).removeprefix("Showing ").removesuffix(".")
        st.markdown(f"**Totals for the sidebar's filter** ({shown})")
    else:
        st.markdown("**Company totals**")
    # Two tiles a row: four do not fit the results column of a 1366-pixel laptop.
    widgets.kpi_row(
        [
            widgets.Kpi(
                "Revised target vs baseline",
                units(kpi["volume"]),
                change(kpi["volume"], kpi["baseline_volume"]),
                change_label="",
            ),
            widgets.Kpi(
                f"Revenue ({currency})",
                units(kpi["revenue"]),
                change(kpi["revenue"], kpi["baseline_revenue"]),
                change_label="",
            ),
        ]
    )
    widgets.kpi_row(
        [
            widgets.Kpi(
                f"Gross margin ({currency})",
                units(kpi["margin"]),
                change(kpi["margin"], kpi["baseline_margin"]),
                change_label="",
            ),
            widgets.Kpi(
                "ROI, all promotions",
                formats.MISSING if np.isnan(roi) else f"{roi:+.2f}",
                note=f"per {currency} of trade spend" if not np.isnan(roi) else "no promotion",
                help="All the scenario's promotions together (without its other levers), the "
                "whole company: the margin they add per unit of their trade spend.",
            ),
        ]
    )


def scenario_panel() -> None:
    """The scenario's levers, effects and saving: deliberate actions, so outside the live
    fragment (a click here reruns the page; a lever move above reruns only the fragment)."""
    current = drafts.current()
    preview = lever_from_state()
    levers, saving = st.columns([2, 3], gap="large")
    with levers:
        st.button(
            "Add the lever to the scenario",
            icon=":material/add:",
            key="add_lever",
            on_click=add_lever,
            type="primary",
            **LOCKED,
        )
    with saving:
        drafts.scenario_bar(run.run_id, say_why=False)  # the lever editor says why
    # The page's width: the effects table has eight columns.
    effects_panel(current, preview)
    levers_table(current)
    plan_import(current)


def levers_table(current: drafts.ScenarioDraft) -> None:
    """The scenario's levers as a table: edit a value in place, or select rows and delete
    them. Values outside a lever's range are refused with the lever's own message."""
    levers = current.levers
    if not levers:
        st.caption("No levers in this scenario yet.")
        return
    # A new table when the levers change, or when an edit was refused (so the refused value
    # does not stay on screen, nor come back with the next edit).
    attempt = st.session_state.get("levers_attempt", 0)
    key = f"levers_table_{abs(hash(tuple(levers)))}_{attempt}"
    st.caption(
        f"In this scenario: {len(levers):,} lever(s)."
        + ("" if REFUSED else " Edit a value, or select rows to delete.")
    )
    table = lever_table(levers)
    st.data_editor(
        table,
        key=key,
        num_rows="fixed" if REFUSED else "delete",
        hide_index=True,
        # A value no lever here takes (a price change among promotions only) is left out,
        # rather than shown as an empty cell on every row.
        column_order=[name for name in table.columns if table[name].notna().any()],
        disabled=True if REFUSED else ["kind", "applies_to"],
        on_change=edit_levers,
        args=(key,),
        column_config={
            "kind": columns.text("Lever"),
            "applies_to": columns.text("Scope"),
            "start_week": columns.week("From"),
            "end_week": columns.week("To"),
            # The cells hold percent points and say "%": headers without it leave every column
            # in sight on a laptop.
            "discount": columns.share("Discount", points=True, help="% off the list price"),
            "share": columns.share(
                "Share", points=True, help="% of the SKUs' volume the discount runs in"
            ),
            "feature": columns.share("Feature", points=True, help="% of stores featuring it"),
            "display": columns.share("Display", points=True, help="% of stores displaying it"),
            "change": columns.change("Change", points=True, help="In %"),
        },
    )
    if message := st.session_state.pop("levers_error", None):
        st.error(message, icon=":material/error:")
    if outside := levers_outside_history(base, levers):
        lever = outside[0]
        history = lever_history(base, lever)
        who = (
            lever.describe()
            if len(outside) == 1
            else f"{len(outside):,} levers (the first: {lever.describe()})"
        )
        st.caption(f":material/warning: {plain(who[0].upper() + who[1:])}. {plain(history.text())}")


def edit_levers(key: str) -> None:
    """Apply the levers table's edits and deletions to the draft (all or none)."""
    current = drafts.current()
    try:
        current.levers = edited_levers(current.levers, st.session_state.get(key) or {})
    except SopError as error:
        st.session_state["levers_error"] = f"Not changed: {plain(error)}"
        st.session_state["levers_attempt"] = st.session_state.get("levers_attempt", 0) + 1
        return
    current.dirty = True


def plan_import(current: drafts.ScenarioDraft) -> None:
    """Marketing's plan file in: checked like any import, then its levers join (or replace)
    the scenario's, to edit and save as usual."""
    attempt = st.session_state.get("plan_attempt", 0)
    with st.expander("Import a promotion and price plan (CSV or Excel)"):
        st.caption(
            "One row per week and scope: `week`; `sku`, `family`, `brand`, `channel`, each "
            "row for its most specific filled one (none: the total), so family promotions and "
            "SKU prices share a file, and where two rows meet on a SKU-week the more specific "
            "wins; `discount` (0.2 = 20% off), optional `share` of distribution taking part, "
            "`feature` and `display` (share of stores, 0 to 1), optional net `price` for SKU "
            "rows (with a discount it must agree with the list price less the discount; "
            "without one it sets the price from its week until the SKU's next price row, or "
            "an optional `until` week, like the price lever). Consecutive weeks with the same "
            "values become one lever."
        )
        if refused := identity.may("plan_file"):
            st.caption(plain(refused))
            return
        upload = st.file_uploader(
            "Plan file", type=["csv", "txt", "xlsx"], key=f"plan_upload_{attempt}"
        )
        mapping_text = st.text_input(
            "Column names, if yours differ (target=your column, ...)",
            placeholder="week=Woche,discount=Rabatt",
            key="plan_map",
        )
        if upload is None:
            return
        try:
            mapping = parse_mapping(mapping_text)
        except SopError as error:
            st.error(plain(error), icon=":material/error:")
            return
        plan = loaders.check_plan(loaders.uploaded_file(upload), upload.name, mapping)
        widgets.show_issues(plan)
        if not plan.ok:
            return
        st.success(plain(plan.summary()), icon=":material/check_circle:")
        left, right = st.columns(2)
        left.button(
            f"Add {len(plan.levers):,} lever(s) to the scenario",
            key="plan_add",
            type="primary",
            on_click=take_plan,
            args=(plan.levers, False),
            disabled=not plan.levers,
        )
        right.button(
            "Replace the scenario's levers with the plan",
            key="plan_replace",
            on_click=take_plan,
            args=(plan.levers, True),
            disabled=not plan.levers,
        )


def take_plan(levers: list[Lever], replace_all: bool) -> None:
    current = drafts.current()
    current.levers = [*([] if replace_all else current.levers), *levers]
    current.dirty = True
    st.session_state["plan_attempt"] = st.session_state.get("plan_attempt", 0) + 1


def _targets_file(result, kind: str, name: str, bucket: str, calendar) -> bytes:
    """The targets file of ``result`` (made when the download is clicked: the bucket and the
    calendar are the page's when it drew the button)."""
    cover = None
    if kind == "xlsx":
        cover = targets_cover(
            loaders.database_path(), name, result.base.run_id, identity.who(), bucket
        )
    frame = bucketed_targets(result_targets(result), bucket, calendar)
    return targets_bytes(frame, kind, cover)


workspace()
scenario_panel()

st.divider()
st.header("What the history shows")
year = loaders.period_totals(scope, last_week, 52).set_index("period")
past = loaders.promotions_between(scope, last_week - dt.timedelta(weeks=51), last_week)
planned = loaders.promotions_between(
    scope,
    last_week + dt.timedelta(weeks=1),
    last_week + dt.timedelta(weeks=13),
)
prices = loaders.price_changes_after(scope, last_week)
widgets.kpi_row(
    [
        widgets.Kpi(
            "Sold on promotion, last 52 weeks", f"{year.loc['current', 'promoted_share']:.0%}"
        ),
        widgets.Kpi(
            "Promotion events, last 52 weeks",
            f"{len(past):,}",
            note=f"average depth {past['discount_depth'].mean():.0%}" if len(past) else None,
        ),
        widgets.Kpi("Promotions planned, next 13 weeks", f"{len(planned):,}"),
        widgets.Kpi(
            "Announced list price changes",
            f"{len(prices):,}",
            note=f"average {prices['change'].mean():+.1%}" if len(prices) else None,
        ),
    ]
)
lift = loaders.promotion_lift_by_depth(scope)
widgets.chart(charts.lift_by_depth_chart(lift))
st.caption(
    "Observed lift: a promoted week against the same SKU and channel's median unpromoted week "
    "of the quarter. Raw history, with feature, display, season and holidays still mixed in; "
    "the levers above use the effects estimated by the forecast."
)
# Side by side on a large screen; one under the other where their columns would be cut.
left, right = widgets.side_by_side("promotions_ahead", 48, 38)
with left:
    st.subheader("Planned promotions, next 13 weeks")
    widgets.table(
        planned[
            [
                "start_week",
                "end_week",
                "sku",
                "product",
                "channel",
                "discount_depth",
                "feature",
                "display",
            ]
        ],
        start_week=columns.week("From"),
        end_week=columns.week("To"),
        sku=columns.text("SKU"),
        product=columns.text("Product"),
        channel=columns.text("Channel"),
        discount_depth=columns.share("Discount"),
        feature=columns.share("Feature"),
        display=columns.share("Display"),
    )
with right:
    st.subheader("Announced list price changes")
    widgets.table(
        prices[["effective_week", "sku", "product", "previous_list_price", "list_price", "change"]],
        effective_week=columns.week("From"),
        sku=columns.text("SKU"),
        product=columns.text("Product"),
        previous_list_price=columns.price(f"Old price ({facts.currency})"),
        list_price=columns.price(f"New price ({facts.currency})"),
        change=columns.change("Change"),
    )
