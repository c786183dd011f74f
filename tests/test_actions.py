"""Recommended actions for overloaded line-weeks, on the sample with a holiday promotion."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from sop_core.data import db
from sop_core.data.stores import forecast_runs
from sop_core.demand.plan_base import load_plan_base
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.model import CapacityChange, Lever, Scenario
from sop_core.supply import actions
from sop_core.supply.capacity import load_view
from sop_core.supply.planning import PlanSettings, load_supply, solve_plan


@pytest.fixture(scope="module")
def setting(forecast_db: Path):
    with db.connect(forecast_db) as con:
        base = load_plan_base(con, forecast_runs.latest_run_id(con))
        supply = load_supply(con, base)
    week = base.weeks[3].astype("datetime64[D]").astype(dt.date)
    push = Lever("promotion", "family", "skincare", week, week, discount=0.4, feature=1.0)
    scenario = Scenario("push", levers=[push])
    result = apply_scenario(base, scenario)
    return base, supply, scenario, result, week


def _cell(base, action):
    line = list(base.lines).index(action.line)
    week = list(base.weeks.astype("datetime64[D]").astype(dt.date)).index(action.week)
    return line, week


def test_the_promoted_week_has_several_kinds_of_action_with_hours_and_cost(setting):
    _base, supply, scenario, result, week = setting
    found = [a for a in actions.recommend(scenario, result, supply, weeks=13) if a.week == week]
    assert found, "the 40% promotion should overload a skincare line that week"
    worst = max(found, key=lambda a: a.gap_hours)
    kinds = {a.kind for a in found if a.line == worst.line}
    assert {"overtime", "saturday shift", "trim promotion"} <= kinds
    assert len(kinds) >= 3
    for action in found:
        assert action.hours > 0 and action.cost >= 0 and action.action
    table = actions.frame(found)
    assert list(table.columns) == actions.COLUMNS and len(table) == len(found)


def test_overtime_is_priced_at_the_rate_and_limited(setting):
    base, supply, scenario, result, _ = setting
    settings = PlanSettings()
    for action in actions.recommend(scenario, result, supply, settings, weeks=13):
        if action.kind == "overtime":
            line, _ = _cell(base, action)
            assert action.hours <= supply.standard_hours[line] * settings.overtime_share + 1e-9
            assert action.cost == pytest.approx(action.hours * settings.overtime_cost_per_hour)


def test_the_cheapest_action_a_scenario_can_hold_removes_the_overload_it_names(setting):
    base, supply, scenario, result, week = setting
    ranked = actions.recommend(scenario, result, supply, weeks=13)
    applicable = [
        a
        for a in ranked
        if a.week == week and a.closes_gap and (a.capacity is not None or a.lever is not None)
    ]
    cheapest = min(applicable, key=lambda a: a.cost)
    line, w = _cell(base, cheapest)
    before = load_view(result).gap_hours[line, w]
    after = load_view(apply_scenario(base, cheapest.applied_to(scenario))).gap_hours[line, w]
    assert before > 0 and after == pytest.approx(0.0, abs=1e-6)


def test_trimming_the_promotion_frees_hours_and_costs_volume_and_margin(setting):
    base, supply, scenario, result, _week = setting
    trims = [
        a
        for a in actions.recommend(scenario, result, supply, weeks=13)
        if a.kind == "trim promotion"
    ]
    assert trims
    trim = trims[0]
    assert trim.lever.discount == pytest.approx(0.2) and trim.replaces == scenario.levers[0]
    assert trim.volume_change < 0 and trim.hours > 0
    after = apply_scenario(base, trim.applied_to(scenario))
    line, w = _cell(base, trim)
    assert result.hours[line, w] - after.hours[line, w] == pytest.approx(trim.hours)
    assert after.revised.sum() - result.revised.sum() == pytest.approx(trim.volume_change)


def test_no_overload_no_action(setting):
    base, supply, _, _, _ = setting
    calm = dataclasses.replace(Scenario("calm"), capacity=[])
    result = apply_scenario(base, calm)
    gaps = load_view(result).gap_hours[:, :13]
    found = actions.recommend(calm, result, supply, weeks=13)
    assert len({(a.line, a.week) for a in found}) == int(np.count_nonzero(gaps > 1e-6))


def test_the_plan_prices_each_action_with_and_without_it(setting):
    """With the plan, every action has the shadow price of its line-week's hours and what it
    saves the plan; for a capacity action that saving is the plan solved without it less the
    plan solved with it, and net cost is cost less saving."""
    base, supply, scenario, result, week = setting
    weeks = base.weeks.size
    found = actions.recommend(scenario, result, supply, weeks=13, plan_weeks=weeks)
    plan = solve_plan(result, supply, PlanSettings(), weeks)
    assert plan.hour_value.shape == (len(base.lines), weeks) and (plan.hour_value >= 0).all()
    for action in found:
        line, column = _cell(base, action)
        assert action.hour_value == pytest.approx(plan.hour_value[line, column])
        assert np.isfinite(action.plan_saving)
        assert action.net_cost == pytest.approx(action.cost - action.plan_saving)
    shift = next(a for a in found if a.kind == "saturday shift" and a.week == week)
    with_it = solve_plan(apply_scenario(base, shift.applied_to(scenario)), supply, weeks=weeks)
    assert shift.plan_saving == pytest.approx(
        plan.cost_beyond_materials - with_it.cost_beyond_materials
    )
    assert shift.plan_saving > 0  # the promoted week is short of hours: more of them pay
    table = actions.frame(found)
    assert {"hour_value", "plan_saving", "net_cost"} <= set(table.columns)


def test_an_hours_shadow_price_is_what_one_more_hour_saves_the_plan(setting):
    """The dual of a line-week's hours agrees with solving the plan with one more hour there:
    the LP's marginals are read with the right sign and scale."""
    base, supply, scenario, result, _ = setting
    weeks = base.weeks.size
    plan = solve_plan(result, supply, PlanSettings(), weeks)
    line, column = np.unravel_index(np.argmax(plan.hour_value), plan.hour_value.shape)
    assert plan.hour_value[line, column] > 0
    moment = base.weeks[column].astype("datetime64[D]").astype(dt.date)
    one_more = dataclasses.replace(
        scenario,
        capacity=[CapacityChange(str(base.lines[line]), moment, moment, 0.5, "test")],
    )
    with_it = solve_plan(apply_scenario(base, one_more), supply, PlanSettings(), weeks)
    saved = (plan.total_cost - with_it.total_cost) / 0.5
    assert saved == pytest.approx(plan.hour_value[line, column], rel=0.02)
    spare = plan.hours < result.available[:, :weeks] - 1.0
    assert spare.any() and np.allclose(plan.hour_value[spare], 0.0, atol=1e-6)
