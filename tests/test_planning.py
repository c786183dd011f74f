"""The production plan on small cases a planner can check by hand, and on the sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sop_core.data import db, workers
from sop_core.data.errors import InputError
from sop_core.data.workers import worker_pool
from sop_core.demand.plan_base import DRIVERS, PlanBase, load_plan_base
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.model import Scenario
from sop_core.supply.planning import (
    PlanSettings,
    SupplyData,
    build_plan,
    chase_plan,
    load_supply,
    plan_frames,
    scenario_fingerprint,
    solve_plan,
    stored_plan,
)

# In these tiny cases a unit takes an hour, so an hour of overtime must cost less than the
# sale it saves (price 10): 2 per hour.
NO_SAFETY = PlanSettings(safety_weeks=0.0, overtime_cost_per_hour=2.0)


def tiny(demand, hours=10.0, standard=10.0, stock=0.0, alternate=None):
    """One line (or two with ``alternate`` hours per unit), SKUs at 1 hour per unit."""
    demand = np.atleast_2d(np.asarray(demand, dtype=float))
    n, w = demand.shape
    lines = ["L1"] if alternate is None else ["L1", "L2"]
    available = np.full((len(lines), w), hours, dtype=float)
    base = PlanBase(
        run_id=0,
        skus=np.array([f"S{i}" for i in range(n)], dtype=object),
        names=np.array(["x"] * n, dtype=object),
        families=np.array(["f"] * n, dtype=object),
        brands=np.array(["b"] * n, dtype=object),
        channels=np.array(["all"], dtype=object),
        weeks=np.datetime64("2027-01-04") + np.arange(w) * np.timedelta64(7, "D"),
        baseline=demand,
        lower_80=demand,
        upper_80=demand,
        channel_share=np.ones((n, 1)),
        channel_price=np.full((n, 1), 10.0),
        list_price=np.full(n, 10.0),
        regular_price=np.full(n, 10.0),
        unit_cost=np.full(n, 4.0),
        variable_cost=np.full(n, 4.0),
        setup_cost=np.zeros(n),
        batch_size=np.full(n, 100.0),
        hours_per_unit=np.ones(n),
        line_index=np.zeros(n, dtype=int),
        lines=np.array(lines, dtype=object),
        line_names=np.array(lines, dtype=object),
        available_hours=available,
        effects={d: np.zeros(n) for d in DRIVERS},
        errors={d: np.zeros(n) for d in DRIVERS},
        max_discount_seen=np.zeros(n),
        price_change_seen=np.zeros(n),
    )
    routes = [(i, 0, 1.0, False) for i in range(n)]
    if alternate is not None:
        routes += [(i, 1, alternate, True) for i in range(n)]
    supply = SupplyData(
        routes=pd.DataFrame(
            routes, columns=["sku_index", "line_index", "hours_per_unit", "alternate"]
        ),
        standard_hours=np.full(len(lines), standard),
        opening_stock=np.full(n, stock),
    )
    return apply_scenario(base, Scenario("tiny", cannibalisation=0.0)), supply


def test_a_known_optimum():
    result, supply = tiny([[10, 10, 10]])
    plan = solve_plan(result, supply, NO_SAFETY)
    assert np.allclose(plan.production, [[10, 10, 10]])
    assert plan.unmet.sum() == pytest.approx(0) and plan.overtime.sum() == pytest.approx(0)
    assert plan.total_cost == pytest.approx(30 * 4.0)


def test_builds_ahead_of_a_peak_when_cheaper_than_overtime():
    result, supply = tiny([[0, 0, 30]])
    plan = solve_plan(result, supply, NO_SAFETY)
    assert np.allclose(plan.production.sum(axis=0), [10, 10, 10])
    assert plan.overtime.sum() == pytest.approx(0)
    assert plan.inventory[0, :2] == pytest.approx([10, 20])
    assert plan.unmet.sum() == pytest.approx(0)


def test_uses_overtime_when_holding_stock_costs_more():
    result, supply = tiny([[0, 0, 12]])
    expensive_stock = PlanSettings(
        safety_weeks=0.0, holding_rate_per_year=5000.0, overtime_cost_per_hour=2.0
    )
    plan = solve_plan(result, supply, expensive_stock)
    assert plan.overtime[0, 2] == pytest.approx(2.0)
    assert plan.inventory.sum() == pytest.approx(0, abs=1e-6)


def test_demand_goes_unmet_only_when_capacity_runs_out():
    result, supply = tiny([[30, 30, 30]])  # at most 10 h + 2 h overtime a week
    plan = solve_plan(result, supply, NO_SAFETY)
    assert plan.unmet.sum() == pytest.approx(90 - 3 * 12)
    enough, supply = tiny([[12, 12, 12]])
    assert solve_plan(enough, supply, NO_SAFETY).unmet.sum() == pytest.approx(0, abs=1e-6)


def test_opening_stock_is_used_first():
    result, supply = tiny([[10, 10, 10]], stock=15)
    plan = solve_plan(result, supply, NO_SAFETY)
    assert plan.production.sum() == pytest.approx(15)


def test_an_alternate_line_takes_the_overflow():
    result, supply = tiny([[18, 18]], alternate=1.25)
    plan = solve_plan(result, supply, NO_SAFETY)
    assert plan.unmet.sum() == pytest.approx(0, abs=1e-6)
    assert plan.hours[1].sum() > 0  # the alternate line worked
    assert plan.overtime.sum() == pytest.approx(0, abs=1e-6)  # cheaper than overtime


def test_safety_stock_holds_to_the_last_week():
    """The old program drained the buffer in the last week: stock left at the end of the
    horizon was worth nothing to it. Now the last week keeps the safety stock too."""
    result, supply = tiny([[10] * 6], hours=30, stock=10)
    plan = solve_plan(result, supply, PlanSettings(overtime_cost_per_hour=2.0))
    assert plan.inventory[0] == pytest.approx([10.0] * 6)  # old: [10, 10, 10, 10, 10, 0]
    assert plan.safety == pytest.approx([10.0])
    assert plan.below_safety.sum() == pytest.approx(0, abs=1e-6)
    summary = plan.summary(result.available)
    assert summary["below_safety_units_at_end"] == 0 and summary["skus_below_safety_at_end"] == 0


def test_safety_stock_the_lines_cannot_make_shows_as_a_shortfall():
    # 12 units a week at most (10 h + 2 h overtime), demand 10 a week, no stock: the plan can
    # build 2 a week towards the safety stock of 10 and ends 4 short.
    result, supply = tiny([[10, 10, 10]])
    plan = solve_plan(result, supply, PlanSettings(overtime_cost_per_hour=2.0))
    assert plan.unmet.sum() == pytest.approx(0, abs=1e-6)
    assert plan.inventory[0] == pytest.approx([2, 4, 6])
    assert plan.below_safety[0] == pytest.approx([8, 6, 4])
    summary = plan.summary(result.available)
    assert summary["below_safety_units_at_end"] == pytest.approx(4)
    assert summary["skus_below_safety_at_end"] == 1
    assert plan.costs["below_safety_stock"] > 0


def test_demand_comes_before_the_safety_stock_at_the_end():
    # Exactly enough hours for demand: the plan serves it and ends with no buffer.
    result, supply = tiny([[12, 12, 12]])
    plan = solve_plan(result, supply, PlanSettings(overtime_cost_per_hour=2.0))
    assert plan.unmet.sum() == pytest.approx(0, abs=1e-6)
    assert plan.below_safety[0, -1] == pytest.approx(12)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0, 40), min_size=3, max_size=8), st.floats(0, 20))
def test_hours_never_exceed_capacity_plus_overtime(demand, stock):
    result, supply = tiny([demand], stock=stock)
    for plan in (solve_plan(result, supply), chase_plan(result, supply)):
        assert (plan.hours <= 10.0 + 2.0 + 1e-6).all()
        assert (plan.overtime <= 2.0 + 1e-6).all()
        assert (plan.inventory >= -1e-6).all() and (plan.unmet >= -1e-6).all()
        flow = (
            stock + plan.production.sum(axis=0).cumsum() - (plan.demand[0] - plan.unmet[0]).cumsum()
        )
        assert np.allclose(flow, plan.inventory[0], atol=1e-4)


def test_on_the_sample_the_plan_beats_the_chase_plan(forecast_db: Path):
    with db.connect(forecast_db) as con:
        base = load_plan_base(con, 1)
        supply = load_supply(con, base)
    result = apply_scenario(base, Scenario("baseline"))
    plan, chase = solve_plan(result, supply), chase_plan(result, supply)
    assert plan.total_cost < chase.total_cost
    assert plan.unmet.sum() <= chase.unmet.sum() + 1e-6
    assert len(supply.routes) > len(base.skus)  # alternates are loaded


def test_on_the_sample_the_last_week_keeps_every_skus_safety_stock(forecast_db: Path):
    with db.connect(forecast_db) as con:
        base = load_plan_base(con, 1)
        supply = load_supply(con, base)
    result = apply_scenario(base, Scenario("baseline"))
    for weeks in (13, 26):
        plan = solve_plan(result, supply, weeks=weeks)
        # The lines have room in the last week, so nothing excuses a drained buffer.
        assert (plan.hours[:, -1] < result.available[:, weeks - 1]).all()
        # A week of average demand (the default setting): old plans left every SKU at 0.
        expected = plan.demand.mean(axis=1)
        assert (expected > 0).all() and (plan.inventory[:, -1] >= expected - 1e-3).all()
        assert plan.safety == pytest.approx(expected)  # the plan's own figures agree
        assert plan.unmet.sum() == pytest.approx(0, abs=1e-3)
        assert plan.summary(result.available[:, :weeks])["skus_below_safety_at_end"] == 0


def test_build_plan_stores_the_plan(forecast_db: Path, tmp_path: Path):
    import shutil

    path = tmp_path / "plan.duckdb"
    shutil.copy(forecast_db, path)
    plan, _chase, _result, plan_id = build_plan(path, horizon=13)
    with db.connect(path) as con:
        stored = con.execute(
            "SELECT status, horizon, unmet_units FROM production_plans WHERE plan_id = ?", [plan_id]
        ).fetchone()
        made = con.execute(
            "SELECT sum(production) FROM plan_rows WHERE plan_id = ?", [plan_id]
        ).fetchone()[0]
    assert stored[0] == "optimal" and stored[1] == 13
    assert made == pytest.approx(plan.production.sum(), rel=1e-6)
    with pytest.raises(InputError, match="no scenario called"):
        build_plan(path, "nope")


def test_a_drafts_plan_is_stored_and_read_back_with_the_same_figures(
    forecast_db: Path, tmp_path: Path
):
    """The Supply page's job plans the page's own scenario (an unsaved draft here) on the
    page's forecast run; the page then finds it by the scenario's content and shows the
    numbers a direct solve gives."""
    import datetime as dt
    import shutil

    from sop_core.data.stores import forecast_runs
    from sop_core.scenario.model import CapacityChange, Lever

    path = tmp_path / "plan.duckdb"
    shutil.copy(forecast_db, path)
    with db.connect(path) as con:
        run_id = forecast_runs.latest_run_id(con)
        base = load_plan_base(con, run_id)
        supply = load_supply(con, base)
    first = base.weeks[2].astype("datetime64[D]").astype(dt.date)
    draft = Scenario(
        "Draft",
        levers=[Lever("promotion", "family", "skincare", first, first, discount=0.3)],
        capacity=[CapacityChange(base.lines[0], first, first, 16.0, "Saturday shift")],
    )
    weeks = len(base.weeks)
    with db.connect(path) as con:
        assert stored_plan(con, base, draft, weeks) is None  # nothing built yet

    plan, _chase, result, plan_id = build_plan(
        path, None, weeks, scenario=Scenario.from_json("x", draft.to_json()), run_id=run_id
    )
    direct = solve_plan(apply_scenario(base, draft), supply)
    expected = direct.summary(result.available)
    assert plan.total_cost == pytest.approx(direct.total_cost)  # the draft, as drafted
    with db.connect(path) as con:
        shown = stored_plan(con, base, draft, weeks)
        assert stored_plan(con, base, Scenario("baseline"), weeks) is None  # other content
        assert stored_plan(con, base, draft, weeks - 1) is None  # other weeks
        name, fingerprint = con.execute(
            "SELECT scenario, scenario_fingerprint FROM production_plans WHERE plan_id = ?",
            [plan_id],
        ).fetchone()
    assert name is None and fingerprint == scenario_fingerprint(draft)
    assert shown.plan_id == plan_id
    assert (shown.total_cost, shown.unmet_units, shown.overtime_hours) == (
        expected["total_cost"],
        expected["unmet_units"],
        expected["overtime_hours"],
    )
    assert shown.max_utilisation == expected["max_utilisation"]
    np.testing.assert_allclose(shown.hours, direct.hours, atol=1e-6)
    np.testing.assert_allclose(shown.overtime, direct.overtime, atol=1e-6)
    frames = plan_frames(direct, result)
    for name in ("weekly", "lines"):
        pd.testing.assert_frame_equal(
            shown.frames[name].drop(columns="production", errors="ignore"),
            frames[name].drop(columns="production", errors="ignore"),
            check_exact=False,
            atol=1e-6,
        )
    # Production is stored by SKU, line and week where at least half a unit is made.
    np.testing.assert_allclose(
        shown.frames["weekly"]["production"],
        frames["weekly"]["production"],
        atol=0.5 * len(base.skus),
    )
    # A newer plan of the same content is the one shown.
    _, _, _, newer = build_plan(path, "Draft", weeks, scenario=draft, run_id=run_id)
    with db.connect(path) as con:
        assert stored_plan(con, base, draft, weeks).plan_id == newer > plan_id
    with pytest.raises(InputError, match="no forecast run 999"):
        build_plan(path, None, weeks, scenario=draft, run_id=999)


def test_a_plan_solved_part_by_part_has_the_single_programs_optimum(forecast_db: Path, monkeypatch):
    from sop_core.supply import planning

    with db.connect(forecast_db) as con:
        base = load_plan_base(con, 1)
        supply = load_supply(con, base)
    result = apply_scenario(base, Scenario("baseline"))
    whole = solve_plan(result, supply, weeks=26)
    monkeypatch.setattr(planning, "PART_VARIABLES", 0)  # every part its own program
    routes = supply.routes
    parts = planning._independent_parts(
        routes["sku_index"].to_numpy(),
        routes["line_index"].to_numpy(),
        len(base.skus),
        len(base.lines),
        len(whole.periods),
    )
    assert len(parts) > 1  # the sample's lines fall into groups that share no SKU
    split = solve_plan(result, supply, weeks=26)
    assert split.total_cost == pytest.approx(whole.total_cost, rel=1e-9)
    for name in ("unmet", "hours", "overtime"):
        assert getattr(split, name).sum() == pytest.approx(getattr(whole, name).sum(), rel=1e-6)
    assert np.allclose(split.production.sum(axis=0), whole.production.sum(axis=0), rtol=1e-6)
    assert split.hour_value.shape == whole.hour_value.shape


def test_a_large_plans_parts_solved_in_worker_processes_give_the_same_plan(
    forecast_db: Path, monkeypatch
):
    from sop_core.supply import planning

    with db.connect(forecast_db) as con:
        base = load_plan_base(con, 1)
        supply = load_supply(con, base)
    result = apply_scenario(base, Scenario("baseline"))
    monkeypatch.setattr(planning, "PART_VARIABLES", 0)  # every part its own program
    here = solve_plan(result, supply, weeks=26, jobs=1)
    pools = []

    def counted(jobs: int):
        pools.append(jobs)
        return worker_pool(jobs)

    monkeypatch.setattr(workers, "worker_pool", counted)
    monkeypatch.setattr(planning, "PARALLEL_VARIABLES", 0)  # every plan counts as large
    apart = solve_plan(result, supply, weeks=26, jobs=2)
    assert pools == [2]  # the parts went to two worker processes
    for name in ("production", "inventory", "unmet", "overtime", "hours", "hour_value"):
        assert np.array_equal(getattr(apart, name), getattr(here, name)), name
    assert apart.total_cost == here.total_cost
    # One process asked for: no pool, the same plan.
    pools.clear()
    assert solve_plan(result, supply, weeks=26, jobs=1).total_cost == here.total_cost
    assert pools == []
