"""Scenario maths: properties that must hold for any lever, and the numbers on the sample."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sop_core.data import db
from sop_core.data.errors import InputError
from sop_core.forecast.runs import driver_report
from sop_core.scenario.levers import apply_scenario, current_effect, effective_effects
from sop_core.scenario.model import EffectOverride, Lever, Scenario
from tests.helpers import week

FAMILIES = ("skincare", "haircare", "fragrance", "makeup", "body care")


scopes = st.sampled_from(
    [("all", None), *(("family", f) for f in FAMILIES), ("channel", "retail"), ("sku", "SKN-0003")]
)
spans = st.tuples(st.integers(0, 25), st.integers(0, 6))
relaxed = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_no_levers_leaves_the_baseline_exactly(base):
    result = apply_scenario(base, Scenario("none"))
    assert np.array_equal(result.revised, base.baseline)
    assert result.kpis()["volume_change"] == 0
    assert np.array_equal(result.hours, result.hours_base)


@relaxed
@given(
    scope=scopes,
    span=spans,
    shallow=st.floats(0, 0.5),
    extra=st.floats(0.0, 0.3),
    feature=st.floats(0, 1),
    cannibalisation=st.floats(0, 1),
)
def test_a_deeper_discount_never_lowers_volume(
    base, scope, span, shallow, extra, feature, cannibalisation
):
    start, length = span
    end = min(start + length, len(base.weeks) - 1)

    def volume(discount: float) -> np.ndarray:
        lever = Lever(
            "promotion",
            *scope,
            week(base, start),
            week(base, end),
            discount=discount,
            feature=feature,
        )
        return apply_scenario(base, Scenario("s", [lever], cannibalisation=cannibalisation))

    shallow_result, deep_result = volume(shallow), volume(min(shallow + extra, 0.9))
    promoted = base.scope_mask(*scope) & (base.effects["price_elasticity"] < 0)
    weeks = base.week_mask(week(base, start), week(base, end))
    cells = promoted[:, None] & weeks[None, :]
    assert (deep_result.revised[cells] >= shallow_result.revised[cells] - 1e-6).all()


@relaxed
@given(scope=scopes, change=st.floats(0.0, 0.3), first=st.integers(0, 25))
def test_a_price_rise_never_raises_volume_when_elasticity_is_negative(base, scope, change, first):
    lever = Lever("price", *scope, week(base, first), None, change=change)
    result = apply_scenario(base, Scenario("s", [lever]))
    negative = base.effects["price_elasticity"] < 0
    assert (result.revised[negative] <= base.baseline[negative] + 1e-6).all()


@relaxed
@given(
    family=st.sampled_from(FAMILIES),
    span=spans,
    discount=st.floats(0.05, 0.6),
    rate=st.floats(0, 1),
)
def test_cannibalisation_never_creates_volume_in_a_family(base, family, span, discount, rate):
    start, length = span
    end = min(start + length, len(base.weeks) - 1)
    skus = base.skus[base.families == family]
    lever = Lever(
        "promotion", "sku", str(skus[0]), week(base, start), week(base, end), discount=discount
    )
    without = apply_scenario(base, Scenario("s", [lever], cannibalisation=0.0))
    with_it = apply_scenario(base, Scenario("s", [lever], cannibalisation=rate))
    members = base.families == family
    assert (
        with_it.revised[members].sum(axis=0) <= without.revised[members].sum(axis=0) + 1e-6
    ).all()
    assert (with_it.revised >= 0).all()
    others = members & (base.skus != skus[0])
    assert (with_it.revised[others] <= base.baseline[others] + 1e-6).all()


def test_a_promotion_in_one_channel_lifts_only_that_channels_share(base):
    everywhere = Lever("promotion", "all", None, week(base, 2), week(base, 2), discount=0.3)
    retail_only = Lever(
        "promotion", "channel", "retail", week(base, 2), week(base, 2), discount=0.3
    )
    all_up = apply_scenario(base, Scenario("a", [everywhere], cannibalisation=0)).revised[:, 2]
    retail_up = apply_scenario(base, Scenario("r", [retail_only], cannibalisation=0)).revised[:, 2]
    baseline = base.baseline[:, 2]
    assert ((retail_up - baseline) <= (all_up - baseline) + 1e-6).all()
    assert retail_up.sum() > baseline.sum()


def test_the_dip_follows_the_promotion(base):
    lever = Lever("promotion", "family", "skincare", week(base, 3), week(base, 4), discount=0.3)
    result = apply_scenario(base, Scenario("s", [lever], cannibalisation=0))
    skincare = base.families == "skincare"
    dipped = skincare & (base.effects["post_promotion"] < 0)
    assert (result.revised[dipped, 5] < base.baseline[dipped, 5]).all()
    assert np.allclose(result.revised[:, 6], base.baseline[:, 6])


def test_the_effects_used_match_the_drivers_command(base, forecast_db: Path):
    with db.connect(forecast_db) as con:
        report = {row["sku"]: row for row in driver_report(con, 1)}
    effects = effective_effects(base, Scenario("s"))
    for i, sku in enumerate(base.skus):
        row = report[sku]
        if row["price_elasticity"] is not None:
            assert effects["price_elasticity"][i] == pytest.approx(
                row["price_elasticity"], abs=1e-3
            )
        # A 10% discount through the lever maths gives the reported uplift per 10%.
        if row["promo_uplift_per_10pct_discount"] is not None:
            lift = np.expm1(
                0.1 * effects["promo_depth"][i] + effects["price_elasticity"][i] * np.log(0.9)
            )
            assert lift == pytest.approx(row["promo_uplift_per_10pct_discount"], abs=1e-3)


def test_an_effect_override_form_starts_at_the_effect_in_use(base, forecast_db: Path):
    """Each SKU: the drivers command's value; a scope: the volume-weighted value, and after an
    override the override (so adding the starting value again changes nothing)."""
    with db.connect(forecast_db) as con:
        report = {row["sku"]: row for row in driver_report(con, 1)}
    none = Scenario("s")
    sku = next(s for s in base.skus if report[s]["feature_uplift"] is not None)
    for driver, column in (
        ("price_elasticity", "price_elasticity"),
        ("promo_uplift_per_10pct", "promo_uplift_per_10pct_discount"),
        ("feature_uplift", "feature_uplift"),
        ("display_uplift", "display_uplift"),
    ):
        now = current_effect(base, none, driver, "sku", sku)
        assert now.skus == 1 and now.value == pytest.approx(report[sku][column], abs=1e-3)
    family = base.families == "haircare"
    elasticity = effective_effects(base, none)["price_elasticity"][family]
    known = np.isfinite(elasticity)
    weights = base.baseline[family][known].sum(axis=1)
    now = current_effect(base, none, "price_elasticity", "family", "haircare")
    assert now.value == pytest.approx(np.average(elasticity[known], weights=weights))
    assert now.lowest <= now.value <= now.highest and now.skus == known.sum()
    overridden = Scenario(
        "o", overrides=[EffectOverride("display_uplift", 0.4, "family", "haircare")]
    )
    after = current_effect(base, overridden, "display_uplift", "family", "haircare")
    assert after.value == pytest.approx(0.4) and after.lowest == after.highest
    again = Scenario(
        "a",
        overrides=[
            *overridden.overrides,
            EffectOverride("display_uplift", after.value, "family", "haircare"),
        ],
    )
    assert np.allclose(
        effective_effects(base, again)["display"],
        effective_effects(base, overridden)["display"],
        rtol=0,
        atol=1e-12,
    )


def test_an_override_changes_the_response(base):
    lever = Lever("price", "family", "haircare", week(base, 0), None, change=0.1)
    estimate = apply_scenario(base, Scenario("e", [lever]))
    override = EffectOverride("price_elasticity", -4.0, "family", "haircare")
    overridden = apply_scenario(base, Scenario("o", [lever], [override]))
    haircare = base.families == "haircare"
    assert overridden.revised[haircare].sum() < estimate.revised[haircare].sum()
    assert any("override" in note.lower() for note in overridden.warnings)


def test_revenue_margin_and_hours_follow_volume(base):
    lever = Lever("campaign", "family", "makeup", week(base, 0), week(base, 10), change=0.2)
    result = apply_scenario(base, Scenario("c", [lever], cannibalisation=0))
    kpis = result.kpis()
    assert kpis["volume_change"] > 0 and kpis["revenue_change"] > 0
    assert kpis["margin_change"] > 0
    assert result.hours.sum() > result.hours_base.sum()
    family = result.by("family").set_index("family")
    assert family.loc["makeup", "change_share"] == pytest.approx(
        (np.exp(np.log1p(0.2)) - 1) * 11 / 26, rel=0.35
    )
    assert result.by("channel")["revised"].sum() == pytest.approx(result.revised.sum())
    assert result.kpis(("makeup",))["volume"] == pytest.approx(
        result.revised[base.families == "makeup"].sum()
    )


def test_warnings_for_levers_beyond_the_history(base):
    deep = Lever("promotion", "family", "fragrance", week(base, 1), week(base, 2), discount=0.8)
    result = apply_scenario(base, Scenario("d", [deep]))
    assert any("deeper than any discount" in note for note in result.warnings)
    big_move = Lever("price", "all", None, week(base, 1), None, change=0.5)
    result = apply_scenario(base, Scenario("p", [big_move]))
    assert any("bigger price move" in note for note in result.warnings)


@pytest.mark.parametrize(
    ("lever", "message"),
    [
        (Lever("promotion", "family", None), "Say which family"),
        (Lever("promotion", discount=0.95), "between 0% and 90%"),
        (Lever("promotion", feature=2), "between 0% and 100%"),
        (Lever("discount"), "Unknown lever"),
        (Lever("price", "family", "perfume"), "no family called"),
    ],
)
def test_bad_levers_get_a_clear_message(base, lever, message):
    with pytest.raises(InputError, match=message):
        apply_scenario(base, Scenario("bad", [lever]))


def test_a_scenario_survives_json(base):
    scenario = Scenario(
        "round trip",
        [
            Lever("promotion", "family", "skincare", week(base, 1), week(base, 2), 0.2, 0.5, 0.25),
            Lever("price", "all", None, week(base, 4), None, change=-0.03),
        ],
        [EffectOverride("feature_uplift", 0.4, "brand", "Lumiere")],
        cannibalisation=0.2,
    )
    again = Scenario.from_json("round trip", scenario.to_json())
    assert again == scenario


def test_a_channel_promotion_leaves_the_other_channels_alone(base):
    lever = Lever("promotion", "channel", "ecommerce", week(base, 2), week(base, 3), discount=0.3)
    result = apply_scenario(base, Scenario("e", [lever], cannibalisation=0.0))
    baseline_c = base.baseline[:, None, :] * base.channel_share[:, :, None]
    online = list(base.channels).index("ecommerce")
    others = [i for i in range(len(base.channels)) if i != online]
    promoted_weeks = slice(2, 4)
    assert np.allclose(
        result.revised_by_channel[:, others, promoted_weeks], baseline_c[:, others, promoted_weeks]
    )
    assert (
        result.revised_by_channel[:, online, promoted_weeks]
        >= baseline_c[:, online, promoted_weeks] - 1e-9
    ).all()
    by_channel = result.by("channel").set_index("channel")
    assert by_channel.loc["ecommerce", "change"] > 0
    assert abs(by_channel.loc["retail", "change"]) < 1e-6 * by_channel.loc["retail", "baseline"]


def test_a_campaign_does_not_count_as_promotion_return(base):
    promo = Lever("promotion", "family", "skincare", week(base, 2), week(base, 3), discount=0.2)
    campaign = Lever("campaign", "all", None, week(base, 0), week(base, 10), change=0.3)
    alone = apply_scenario(base, Scenario("p", [promo])).kpis()["promotion_roi"]
    both = apply_scenario(base, Scenario("pc", [promo, campaign])).kpis()["promotion_roi"]
    assert both == pytest.approx(alone, rel=1e-9)


def test_levers_outside_the_horizon_do_nothing_and_dates_snap_to_their_week(base):
    before = base.weeks[0].astype(dt.date) - dt.timedelta(weeks=3)
    past = Lever("promotion", "all", None, before, before + dt.timedelta(days=7), discount=0.3)
    result = apply_scenario(base, Scenario("past", [past]))
    assert np.array_equal(result.revised, base.baseline)
    wednesday = week(base, 4) + dt.timedelta(days=2)
    midweek = Lever("promotion", "all", None, wednesday, wednesday, discount=0.3)
    lifted = apply_scenario(base, Scenario("mid", [midweek], cannibalisation=0.0))
    assert lifted.revised[:, 4].sum() > base.baseline[:, 4].sum()
    assert lifted.revised[:, 5].sum() < base.baseline[:, 5].sum()  # the dip, the week after


def test_unknown_effects_are_reported_not_silently_zero(base):
    import dataclasses

    no_prices = dataclasses.replace(
        base, effects={**base.effects, "price_elasticity": np.full(len(base.skus), np.nan)}
    )
    lever = Lever("price", "all", None, week(base, 0), None, change=0.1)
    result = apply_scenario(no_prices, Scenario("p", [lever]))
    assert np.allclose(result.revised, base.baseline)
    assert any("holds no prices" in note for note in result.warnings)
    override = EffectOverride("price_elasticity", -2.0)
    planned = apply_scenario(no_prices, Scenario("o", [lever], [override]))
    assert planned.revised.sum() < base.baseline.sum()
