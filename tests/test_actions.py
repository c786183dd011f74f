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
from sop_core.scenario.levers import Lever, Scenario, apply_scenario
from sop_core.supply import actions
from sop_core.supply.capacity import load_view
from sop_core.supply.planning import PlanSettings, load_supply


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
