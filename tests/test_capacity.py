"""Load against capacity, overload probability, exceptions and batch economics."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sop_core.data import db
from sop_core.data.errors import InputError
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.model import CapacityChange, Lever, Scenario
from sop_core.supply import capacity


def test_hours_needed_follow_the_volume_and_speeds(base):
    view = capacity.load_view(apply_scenario(base, Scenario("b")))
    expected = np.zeros_like(view.hours)
    for i, line in enumerate(base.line_index):
        if line >= 0:
            expected[line] += base.baseline[i] * base.hours_per_unit[i]
    assert np.allclose(view.hours, expected)
    frame = view.frame()
    assert {
        "needed_hours",
        "available_hours",
        "utilisation",
        "gap_hours",
        "gap_units",
        "overload_probability",
    } <= set(frame.columns)
    over = frame[frame["gap_hours"] > 0]
    assert np.allclose(over["gap_hours"], over["needed_hours"] - over["available_hours"])


def test_overload_probability_tells_certain_from_possible(base):
    view = capacity.load_view(apply_scenario(base, Scenario("b")))
    utilisation = np.nan_to_num(view.utilisation)
    probability = view.probability
    assert (probability[utilisation > 1.5] > 0.95).all()
    assert (probability[(utilisation < 0.5) & (utilisation > 0)] < 0.05).all()
    assert ((probability >= 0) & (probability <= 1)).all()


def test_more_volume_never_lowers_the_overload_probability(base):
    weeks = (base.weeks[0].astype(dt.date), base.weeks[-1].astype(dt.date))
    calm = capacity.load_view(apply_scenario(base, Scenario("b")))
    busy = capacity.load_view(
        apply_scenario(base, Scenario("c", [Lever("campaign", "all", None, *weeks, change=0.3)]))
    )
    assert (busy.probability >= calm.probability - 1e-9).all()


def test_exceptions_rank_overloads_first(base):
    view = capacity.load_view(apply_scenario(base, Scenario("b")))
    table = capacity.exceptions(view)
    assert table.iloc[0]["kind"] == "overloaded"
    overloaded = table[table["kind"] == "overloaded"]
    assert list(overloaded["gap_hours"]) == sorted(overloaded["gap_hours"], reverse=True)
    assert len(overloaded) == int((view.gap_hours > 1e-6).sum())


def test_a_capacity_change_adds_hours_and_removes_the_overload(base):
    baseline = apply_scenario(base, Scenario("b"))
    view = capacity.load_view(baseline)
    line, week = np.unravel_index(np.argmax(view.gap_hours), view.gap_hours.shape)
    gap = view.gap_hours[line, week]
    day = base.weeks[week].astype(dt.date)
    shift = CapacityChange(str(base.lines[line]), day, day, float(np.ceil(gap)) + 1, "shift")
    with_shift = capacity.load_view(apply_scenario(base, Scenario("s", capacity=[shift])))
    assert with_shift.available[line, week] == pytest.approx(
        view.available[line, week] + shift.hours
    )
    assert with_shift.gap_hours[line, week] == 0
    with pytest.raises(InputError, match="no line called"):
        apply_scenario(base, Scenario("x", capacity=[CapacityChange("Z9", day, day, 8)]))
    shutdown = CapacityChange(str(base.lines[0]), None, None, -500)
    with pytest.raises(InputError, match="168 hours"):
        apply_scenario(base, Scenario("x", capacity=[shutdown]))


def test_a_promotion_buys_bigger_batches_and_cheaper_units(base):
    weeks = (base.weeks[2].astype(dt.date), base.weeks[3].astype(dt.date))
    promo = apply_scenario(
        base, Scenario("p", [Lever("promotion", "family", "fragrance", *weeks, discount=0.3)])
    )
    table = capacity.batch_economics(promo).set_index("sku")
    fragrance = table[table["family"] == "fragrance"]
    assert (fragrance["batch_size"] >= fragrance["batch_size_base"] - 1e-9).all()
    assert (fragrance["unit_cost"] <= fragrance["unit_cost_base"] + 1e-12).all()
    assert fragrance["setup_saving"].sum() > 0
    # The scenario's margin counts it: setups stay at the baseline's cadence.
    assert promo.margin.sum() - promo.margin_base.sum() == pytest.approx(
        (promo.revenue - promo.revised * base.variable_cost[:, None]).sum()
        - (promo.revenue_base - base.baseline * base.variable_cost[:, None]).sum()
    )


def test_unit_cost_falls_with_batch_size(base):
    curve = capacity.unit_cost_curve(base, str(base.skus[0]))
    assert (np.diff(curve["unit_cost"]) < 0).all()


def test_the_two_load_measures_are_defined_once(base, forecast_db):
    from sop_core.supply import loads
    from sop_core.supply.planning import load_supply, solve_plan

    result = apply_scenario(base, Scenario("baseline"))
    available = result.available
    # Demand load: the revised targets' hours over the calendar's available hours; a week
    # without hours has no load and is never the peak.
    demand = loads.demand_load(result, 13)
    expected = np.where(available[:, :13] > 0, result.hours[:, :13], np.nan) / np.where(
        available[:, :13] > 0, available[:, :13], 1.0
    )
    np.testing.assert_allclose(demand, expected, equal_nan=True)
    np.testing.assert_allclose(capacity.load_view(result).utilisation[:, :13], demand)
    peak = loads.peak(demand, result, loads.DEMAND_LOAD, 13)
    assert peak.value == pytest.approx(np.nanmax(demand))
    assert peak.label == "Peak demand load, next 13 weeks" and peak.shown.endswith("%")
    li, wi = list(base.lines).index(peak.line), list(base.weeks).index(np.datetime64(peak.week))
    assert demand[li, wi] == pytest.approx(peak.value)
    # The frame form (a page that shows some lines) finds the same peak.
    assert loads.peak_in_frame(capacity.load_view(result).frame(), loads.DEMAND_LOAD, 13) == peak

    # Planned load: the plan's hours (overtime included) over the same hours, overtime apart.
    with db.connect(forecast_db) as con:
        supply = load_supply(con, base)
    plan = solve_plan(result, supply, weeks=loads.plan_weeks(13, len(base.weeks)))
    assert plan.hours.shape[1] == min(26, len(base.weeks))
    peaks = loads.peaks(result, plan.hours, plan.overtime, 13)
    planned = loads.planned_load(plan.hours, result, 13)
    assert peaks["planned_load"].value == pytest.approx(np.nanmax(planned))
    assert peaks["planned_load"].overtime_hours == pytest.approx(plan.overtime[:, :13].sum())
    assert peaks["demand_load"] == peak
    summary = plan.summary(available[:, : plan.hours.shape[1]])
    assert summary["max_utilisation"] == pytest.approx(
        np.nanmax(loads.planned_load(plan.hours, result)), abs=1e-4
    )
    as_json = peaks["planned_load"].as_json()
    assert set(as_json) == {"measure", "weeks", "peak", "line", "week", "overtime_hours"}
    assert as_json["measure"] == "planned load" and as_json["weeks"] == 13
    # Without a plan there is no planned load, and it says so.
    assert loads.peaks(result, None, None, 13)["planned_load"].shown == "n/a"
