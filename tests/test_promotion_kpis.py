"""Promotion KPIs scoped to the lever: hand-checked numbers on a tiny company, and on the
sample the same promotion ROI as the scenario's own for a promotion alone."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from sop_core.data import db
from sop_core.demand.plan_base import PlanBase, load_plan_base
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.model import Lever, Scenario
from sop_core.scenario.promotion_kpis import promotion_kpis, promotion_kpis_table

WEEKS = np.array([np.datetime64("2026-11-23") + np.timedelta64(7 * i, "D") for i in range(6)])
LOG_2 = math.log(2.0)


def week(index: int) -> dt.date:
    return WEEKS[index].astype(dt.date)


@pytest.fixture()
def tiny() -> PlanBase:
    """Three SKUs (A1 and A2 in family a, B1 in family b), two channels half each, 100 units a
    week at 10 EUR (cost 4, no setups), 6 weeks. A 20% discount doubles the volume (no price
    elasticity) and the week after it sells 10% less; full feature support adds 50%."""
    skus = np.array(["A1", "A2", "B1"], dtype=object)
    n, w = len(skus), len(WEEKS)
    ones = np.ones(n)
    return PlanBase(
        run_id=1,
        skus=skus,
        names=skus.copy(),
        families=np.array(["a", "a", "b"], dtype=object),
        brands=np.array(["X", "X", "Y"], dtype=object),
        channels=np.array(["retail", "online"], dtype=object),
        weeks=WEEKS,
        baseline=np.full((n, w), 100.0),
        lower_80=np.full((n, w), 80.0),
        upper_80=np.full((n, w), 120.0),
        channel_share=np.full((n, 2), 0.5),
        channel_price=np.full((n, 2), 10.0),
        list_price=10 * ones,
        regular_price=10 * ones,
        unit_cost=4 * ones,
        variable_cost=4 * ones,
        setup_cost=0 * ones,
        batch_size=np.full(n, np.nan),
        hours_per_unit=0 * ones,
        line_index=np.zeros(n, dtype=int),
        lines=np.array(["L1"], dtype=object),
        line_names=np.array(["Line 1"], dtype=object),
        available_hours=np.full((1, w), 100.0),
        effects={
            "price_elasticity": 0 * ones,
            "promo_depth": LOG_2 / 0.2 * ones,
            "promo_10pct": LOG_2 / 2 * ones,  # so 20% off is log 2: twice the volume
            "feature": math.log(1.5) * ones,
            "display": 0 * ones,
            "post_promotion": math.log(0.9) / 0.2 * ones,  # 20% off: 10% less the week after
        },
        errors={"promo_10pct": 0.01 * ones, "price_elasticity": 0.1 * ones},
        max_discount_seen=0.5 * ones,
        price_change_seen=0.1 * ones,
    )


def run(base: PlanBase, *levers: Lever, cannibalisation: float = 0.3):
    return apply_scenario(base, Scenario("s", list(levers), cannibalisation=cannibalisation))


def test_a_family_promotion_by_hand(tiny):
    lever = Lever("promotion", "family", "a", week(1), week(2), discount=0.2)
    result = run(tiny, lever)
    kpi = promotion_kpis(result, lever)
    # 2 SKUs x 2 weeks, each from 100 to 200 units; 160 EUR a week at 8 EUR instead of 1,000.
    assert kpi.incremental_units == pytest.approx(400)
    assert kpi.baseline_units == pytest.approx(400)
    assert kpi.incremental_revenue == pytest.approx(4 * (1600 - 1000))
    assert kpi.incremental_margin == pytest.approx(2400 - 400 * 4)
    # The discount on the 100 units a week that would have sold anyway: 100 x 10 x 20%.
    assert kpi.trade_spend == pytest.approx(4 * 200)
    # The week after: 90 units instead of 100 for both SKUs, each worth 10 - 4.
    assert kpi.dip_week == week(3)
    assert kpi.dip_units == pytest.approx(-20)
    assert kpi.dip_margin == pytest.approx(-20 * 6)
    assert kpi.cannibalised_units == pytest.approx(0)  # the whole family is on promotion
    assert kpi.roi == pytest.approx((800 - 120) / 800)
    assert (kpi.first_week, kpi.last_week) == (week(1), week(2))
    # One definition: the scenario's ROI for all its promotions is the same for this one.
    assert result.kpis()["promotion_roi"] == pytest.approx(kpi.roi)


def test_a_sku_promotion_counts_what_it_takes_from_its_family(tiny):
    lever = Lever("promotion", "sku", "A1", week(1), week(2), discount=0.2)
    result = run(tiny, lever)
    kpi = promotion_kpis(result, lever)
    assert kpi.incremental_units == pytest.approx(200)
    assert kpi.incremental_margin == pytest.approx(2 * 600 - 200 * 4)
    assert kpi.trade_spend == pytest.approx(2 * 200)
    # A2 gives up 30% of A1's 100 extra units a week; B1 (another family) nothing.
    assert kpi.cannibalised_units == pytest.approx(-60)
    assert kpi.cannibalised_margin == pytest.approx(-60 * 6)
    assert kpi.dip_units == pytest.approx(-10)
    assert kpi.roi == pytest.approx((400 - 60 - 360) / 400)
    assert result.kpis()["promotion_roi"] == pytest.approx(kpi.roi)


def test_no_discount_means_no_trade_spend_and_no_roi(tiny):
    featured = Lever("promotion", "family", "a", week(1), week(2), feature=1.0)
    kpi = promotion_kpis(run(tiny, featured), featured)
    assert kpi.incremental_units == pytest.approx(4 * 50)  # the feature's +50%
    assert kpi.trade_spend == 0
    assert math.isnan(kpi.roi)
    assert kpi.dip_units == 0  # the dip follows a discount
    nothing = Lever("promotion", "family", "a", week(1), week(2))
    kpi = promotion_kpis(run(tiny, nothing), nothing)
    assert (kpi.incremental_units, kpi.trade_spend, kpi.dip_units) == (0, 0, 0)
    assert math.isnan(kpi.roi)


def test_only_the_levers_scope_and_weeks_count(tiny):
    promotion = Lever("promotion", "family", "a", week(1), week(2), discount=0.2)
    alone = promotion_kpis(run(tiny, promotion, cannibalisation=0), promotion)
    # A campaign on the other family in the same weeks, and one on this family after the dip.
    elsewhere = Lever("campaign", "family", "b", week(1), week(2), change=0.5)
    later = Lever("campaign", "family", "a", week(4), week(5), change=0.5)
    result = run(tiny, promotion, elsewhere, later, cannibalisation=0)
    assert promotion_kpis(result, promotion) == alone
    # Each lever reads its own scope: family b's campaign, 2 weeks of +50 units; no discount.
    campaign = promotion_kpis(result, elsewhere)
    assert campaign.incremental_units == pytest.approx(100)
    assert campaign.incremental_margin == pytest.approx(100 * 6)
    assert campaign.trade_spend == 0 and campaign.dip_week is None
    # A brand is its SKUs: brand X is family a here.
    brand = Lever("promotion", "brand", "X", week(1), week(2), discount=0.2)
    assert promotion_kpis(run(tiny, brand, cannibalisation=0), brand).incremental_units == (
        pytest.approx(alone.incremental_units)
    )
    # A lever outside the horizon covers nothing.
    gone = Lever("promotion", "family", "a", dt.date(2030, 1, 7), dt.date(2030, 1, 14))
    kpi = promotion_kpis(result, gone)
    assert kpi.first_week is None and kpi.incremental_units == 0 and kpi.trade_spend == 0


def test_a_channel_promotion_counts_its_channel_only(tiny):
    lever = Lever("promotion", "channel", "retail", week(1), week(2), discount=0.2)
    result = run(tiny, lever)
    kpi = promotion_kpis(result, lever)
    # 3 SKUs x 2 weeks, 50 retail units a week each, doubled; the online half untouched.
    assert kpi.baseline_units == pytest.approx(300)
    assert kpi.incremental_units == pytest.approx(300)
    assert kpi.trade_spend == pytest.approx(6 * 50 * 10 * 0.2)
    assert kpi.incremental_margin == pytest.approx(6 * (50 * 8 * 2 - 500) - 300 * 4)
    assert kpi.dip_units == pytest.approx(-3 * 5)
    assert kpi.roi == pytest.approx(result.kpis()["promotion_roi"])


def test_the_table_has_one_row_per_lever_and_keeps_the_largest(tiny):
    small = Lever("promotion", "sku", "B1", week(1), week(1), discount=0.1)
    large = Lever("promotion", "family", "a", week(3), week(4), discount=0.2)
    result = run(tiny, small, large)
    table = promotion_kpis_table(result, [small, large])
    assert table["lever"].tolist() == [small.describe(), large.describe()]
    for row, lever in zip(table.itertuples(), [small, large], strict=True):
        one = promotion_kpis(result, lever)
        assert row.incremental_units == pytest.approx(one.incremental_units)
        assert row.trade_spend == pytest.approx(one.trade_spend)
        assert row.roi == pytest.approx(one.roi)
    assert table["dip_week"].iloc[1].date() == week(5)
    largest = promotion_kpis_table(result, [small, large], largest=1)
    assert largest["lever"].tolist() == [large.describe()]


@pytest.fixture(scope="module")
def sample_base(forecast_db: Path) -> PlanBase:
    with db.connect(forecast_db) as con:
        return load_plan_base(con, 1)


@pytest.mark.parametrize(
    ("scope", "target"),
    [("family", "skincare"), ("sku", "SKN-0003"), ("brand", None), ("channel", "retail")],
)
def test_on_the_sample_one_promotion_has_the_scenarios_roi(sample_base, scope, target):
    base = sample_base
    target = target or str(base.brands[0])
    start, end = (base.weeks[i].astype(dt.date) for i in (3, 4))
    lever = Lever("promotion", scope, target, start, end, discount=0.3, feature=0.5)
    result = apply_scenario(base, Scenario("one", [lever]))
    kpi = promotion_kpis(result, lever)
    assert kpi.incremental_units > 0 and kpi.trade_spend > 0
    assert kpi.roi == pytest.approx(result.kpis()["promotion_roi"], rel=1e-9)
    # Alone, its figures are the revised targets' change over its SKUs and weeks.
    rows = base.scope_mask(scope, target)
    if scope != "channel":
        change = (result.revised - base.baseline)[rows, 3:5].sum()
        assert kpi.incremental_units == pytest.approx(change)
        assert kpi.dip_units == pytest.approx((result.revised - base.baseline)[rows, 5].sum())
