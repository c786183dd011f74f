"""Time fences: the frozen zone warns about levers and overrides that change it; the production
plan runs weekly for 13 weeks and per fiscal month beyond, on to 78 weeks."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import pytest

from sop_core.data import db
from sop_core.data.fiscal import FiscalCalendar
from sop_core.data.sample import build_sample_database
from sop_core.data.sample.config import SampleConfig
from sop_core.demand.consensus import Override, frozen_override_warning
from sop_core.demand.fences import TimeFences, planning_periods
from sop_core.forecast.engine import ForecastSettings
from sop_core.forecast.runs import refresh_forecast
from sop_core.scenario.levers import apply_scenario
from sop_core.scenario.model import Lever, Scenario
from sop_core.supply.planning import PlanSettings, plan_frames, plan_tables, solve_plan
from tests.test_planning import tiny

FIRST = dt.date(2027, 1, 4)  # the first week of ``tiny``'s horizon


def week(n: int) -> dt.date:
    """The ``n``-th week of the horizon (1 is the first)."""
    return FIRST + dt.timedelta(weeks=n - 1)


def lever_warnings(result_base, lever: Lever) -> list[str]:
    result = apply_scenario(result_base, Scenario("s", levers=[lever], cannibalisation=0.0))
    return [note for note in result.warnings if "frozen zone" in note]


def test_a_lever_in_the_frozen_zone_warns_naming_the_weeks_and_one_after_it_does_not():
    result, _ = tiny(np.full((2, 20), 10.0))
    promotion = Lever("promotion", start_week=week(3), end_week=week(6), discount=0.2)
    (warning,) = lever_warnings(result.base, promotion)
    # Weeks 3 and 4 of the horizon are frozen (4 weeks by default); 5 and 6 are not.
    assert "W03 · 18 Jan" in warning and "W04 · 25 Jan" in warning
    assert "2 weeks inside the frozen zone" in warning and "01 Feb" not in warning
    later = Lever("promotion", start_week=week(5), end_week=week(8), discount=0.2)
    assert lever_warnings(result.base, later) == []
    # A lever with no weeks runs over the whole horizon, the frozen zone included.
    assert lever_warnings(result.base, Lever("price", change=0.05))


def test_the_frozen_zone_follows_its_setting(monkeypatch):
    result, _ = tiny(np.full((1, 20), 10.0))
    lever = Lever("campaign", start_week=week(6), end_week=week(7), change=0.1)
    assert lever_warnings(result.base, lever) == []
    monkeypatch.setenv("SOP_FROZEN_WEEKS", "6")
    (warning,) = lever_warnings(result.base, lever)
    assert "1 week inside the frozen zone (the first 6 weeks" in warning
    monkeypatch.setenv("SOP_FROZEN_WEEKS", "0")
    assert lever_warnings(result.base, Lever("price", change=0.05)) == []


def test_an_override_in_the_frozen_zone_warns_and_one_after_it_does_not():
    result, _ = tiny(np.full((1, 20), 10.0))
    grid = result.base
    inside = Override("total", None, week(4), week(9), "percent", 10, "listing", "Ana")
    warning = frozen_override_warning(grid, inside.validated())
    assert warning is not None and "1 week inside the frozen zone" in warning
    assert "W04 · 25 Jan" in warning and "+10%" in warning
    outside = Override("total", None, week(5), week(9), "units", 50, "listing", "Ana")
    assert frozen_override_warning(grid, outside.validated()) is None
    unchanged = Override("total", None, week(1), week(2), "percent", 0, "no-op", "Ana")
    assert frozen_override_warning(grid, unchanged.validated()) is None
    assert frozen_override_warning(grid, inside.validated(), TimeFences(frozen=0)) is None


def test_planning_periods_are_13_weeks_then_fiscal_months_covering_every_week_once():
    weeks = pd.date_range("2026-11-23", periods=78, freq="7D")
    for calendar in (FiscalCalendar(), FiscalCalendar(7, "445")):
        periods = planning_periods(weeks, calendar)
        assert periods[:13] == [(t, 1) for t in range(13)]
        assert sum(length for _, length in periods) == 78
        starts = [start for start, _ in periods]
        assert starts == sorted(starts) and starts[0] == 0
        assert all(4 <= length <= 5 for _, length in periods[14:-1])  # whole months
        assert 13 + 14 <= len(periods) <= 13 + 18  # about 15 months beyond the detail
    assert planning_periods(weeks, detail=78) == [(t, 1) for t in range(78)]


def monthly_case(capacity: float = 60.0):
    """Three SKUs over 78 weeks with a peak every few weeks and a line that is tight at it."""
    rng = np.random.default_rng(4)
    demand = rng.uniform(5, 20, (3, 78))
    demand[:, 20::9] *= 3  # peaks in the monthly part
    return tiny(demand, hours=capacity, standard=capacity, stock=30.0)


def test_a_78_week_plan_is_weekly_then_monthly_and_keeps_the_stock_balance_every_week():
    result, supply = monthly_case()
    plan = solve_plan(result, supply, PlanSettings(overtime_cost_per_hour=2.0), 78)
    assert plan.production.shape == (3, 78) and plan.inventory.shape == (3, 78)
    assert plan.periods[:13] == [(t, 1) for t in range(13)]
    assert len(plan.periods) < 40 and sum(length for _, length in plan.periods) == 78
    # A row per week in what is stored and shown.
    tables = plan_tables(plan, result, supply)
    assert tables["plan_stock"]["week"].nunique() == 78
    assert len(plan_frames(plan, result)["weekly"]) == 78
    # Stock balance, week by week and per planned period: opening + production - delivered.
    made = plan.production  # one route per SKU
    delivered = plan.demand - plan.unmet
    closing = supply.opening_stock[:, None] + np.cumsum(made - delivered, axis=1)
    assert np.allclose(plan.inventory, closing, atol=1e-6)
    assert (plan.inventory >= -1e-9).all() and (plan.unmet <= plan.demand + 1e-9).all()
    opening = supply.opening_stock.copy()
    for start, length in plan.periods:
        weeks = slice(start, start + length)
        assert opening + made[:, weeks].sum(axis=1) - delivered[:, weeks].sum(axis=1) == (
            pytest.approx(plan.inventory[:, start + length - 1], abs=1e-6)
        )
        opening = plan.inventory[:, start + length - 1]
        # A month's hours stay within its available hours plus its overtime.
        available = result.available[:, weeks].sum()
        assert plan.hours[:, weeks].sum() <= available + plan.overtime[:, weeks].sum() + 1e-6
        assert plan.overtime[:, weeks].sum() <= 0.2 * 60.0 * length + 1e-6


def test_weekly_and_monthly_plans_have_the_same_totals_where_capacity_is_ample():
    result, supply = monthly_case(capacity=500.0)
    settings = PlanSettings(safety_weeks=0.0)
    monthly = solve_plan(result, supply, settings, 78)
    weekly = solve_plan(result, supply, settings, 78, detail=None)
    assert len(weekly.periods) == 78 and len(monthly.periods) < len(weekly.periods)
    # All demand is met in both, so both make the demand less the opening stock, in total
    # and in the weekly part alike.
    assert monthly.unmet.sum() == pytest.approx(0, abs=1e-6)
    assert monthly.production.sum() == pytest.approx(weekly.production.sum(), rel=1e-9)
    assert monthly.production[:, :13].sum() == pytest.approx(weekly.production[:, :13].sum())
    assert monthly.total_cost == pytest.approx(weekly.total_cost, rel=1e-3)
    # The weekly frames sum to the plan's totals across the weekly/monthly boundary.
    frame = plan_frames(monthly, result)["weekly"]
    assert frame["production"].sum() == pytest.approx(monthly.production.sum())
    assert frame["demand"].sum() == pytest.approx(result.revised.sum())


def test_a_78_week_plan_on_a_small_sample_solves_within_5_seconds(tmp_path):
    path = tmp_path / "h.duckdb"
    build_sample_database(
        path, SampleConfig(skus=10, weeks=110, seed=5, as_of=dt.date(2026, 11, 25), lines=5)
    )
    refresh_forecast(path, ForecastSettings(horizon=78), jobs=1)
    from sop_core.supply.planning import build_plan

    started = time.perf_counter()
    plan, chase, _, plan_id = build_plan(path, horizon=78)
    assert time.perf_counter() - started <= 5.0
    assert plan.status == "optimal" and plan.production.shape[1] == 78
    with db.connect(path) as con:
        weeks = con.execute(
            "SELECT count(DISTINCT week) FROM plan_stock WHERE plan_id = ?", [plan_id]
        ).fetchone()[0]
        shutdowns = con.execute(
            "SELECT count(*) FROM capacity_calendar WHERE week > DATE '2027-11-25'"
        ).fetchone()[0]
    assert weeks == 78
    assert shutdowns > 0  # the capacity calendar reaches the second Christmas ahead
    assert plan.unmet.sum() <= chase.unmet.sum() + 1e-6


@pytest.mark.parametrize(
    ("value", "weeks"), [("78", 78), ("52", 52), ("100", 78), ("0", 26), ("x", 26), ("", 26)]
)
def test_the_app_forecasts_up_to_78_weeks_as_its_setting_says(monkeypatch, value, weeks):
    from sop_core.data import settings

    monkeypatch.setenv("SOP_HORIZON_WEEKS", value)
    assert settings.horizon_weeks() == weeks
