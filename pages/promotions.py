"""Promotions & pricing: what promotions and price changes did, and what is planned."""

from __future__ import annotations

import datetime as dt

import streamlit as st

import sop_ui
from sop_core import charts

sop_ui.require_shell()
facts = sop_ui.facts()
scope = sop_ui.scope()
last_week = facts["history_last_week"]
horizon_end = last_week + dt.timedelta(weeks=13)

st.title("Promotions & pricing")
st.caption(sop_ui.scope_caption(scope))

year = sop_ui.load("period_totals", scope, last_week, 52).set_index("period")
past = sop_ui.load("promotions_between", scope, last_week - dt.timedelta(weeks=51), last_week)
planned = sop_ui.load("promotions_between", scope, last_week + dt.timedelta(weeks=1), horizon_end)
prices = sop_ui.load("price_changes_after", scope, last_week)

sop_ui.kpi_row(
    [
        sop_ui.Kpi(
            "Sold on promotion, last 52 weeks", f"{year.loc['current', 'promoted_share']:.0%}"
        ),
        sop_ui.Kpi(
            "Promotion events, last 52 weeks",
            f"{len(past):,}",
            note=f"average depth {past['discount_depth'].mean():.0%}" if len(past) else None,
        ),
        sop_ui.Kpi("Promotions planned, next 13 weeks", f"{len(planned):,}"),
        sop_ui.Kpi(
            "Announced list price changes",
            f"{len(prices):,}",
            note=f"average {prices['change'].mean():+.1%}" if len(prices) else None,
        ),
    ]
)

lift = sop_ui.load("promotion_lift_by_depth", scope)
sop_ui.chart(charts.lift_by_depth_chart(lift))
st.caption(
    "Observed lift: a promoted week against the same SKU and channel's median unpromoted week "
    "of the quarter. Raw history, with feature, display, season and holidays still mixed in."
)

left, right = st.columns(2)
with left:
    st.subheader("Planned promotions, next 13 weeks")
    sop_ui.table(
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
        start_week=st.column_config.DateColumn("From", format="DD MMM YYYY"),
        end_week=st.column_config.DateColumn("To", format="DD MMM YYYY"),
        discount_depth=st.column_config.NumberColumn("Discount", format="percent"),
        feature=st.column_config.NumberColumn("Feature", format="percent"),
        display=st.column_config.NumberColumn("Display", format="percent"),
    )
with right:
    st.subheader("Announced list price changes")
    sop_ui.table(
        prices[["effective_week", "sku", "product", "previous_list_price", "list_price", "change"]],
        effective_week=st.column_config.DateColumn("From", format="DD MMM YYYY"),
        previous_list_price=st.column_config.NumberColumn("Old price", format="%.2f"),
        list_price=st.column_config.NumberColumn("New price", format="%.2f"),
        change=st.column_config.NumberColumn("Change", format="percent"),
    )

sop_ui.not_built_yet(
    "The what-if levers: promotion events, price changes, campaign and distribution uplift "
    "that revise volume targets, revenue and margin live, with promotion uplift and price "
    "elasticity estimated per SKU from this history, and saved scenarios."
)
