"""The Overview's numbers: where demand and supply stand for the weeks ahead, and what
needs a decision, ranked by money.

``overview`` applies the chosen scenario to the consensus, solves its production plan on the
lines and stock, and returns the KPI figures, the weekly demand against production, and the
exceptions of both sides in one currency: margin at risk from demand the plan cannot meet,
and the forecast misses with the largest error x price (when past forecasts allow accuracy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sop_core.data.errors import InputError
from sop_core.demand.plan_base import PlanBase
from sop_core.scenario.levers import applicable, apply_scenario
from sop_core.scenario.model import Scenario
from sop_core.supply import loads
from sop_core.supply.planning import PlanSettings, SupplyData, plan_frames, solve_plan


@dataclass
class Overview:
    weeks: int
    kpis: dict[str, float]
    weekly: pd.DataFrame  # week, demand, production, unmet, inventory
    exceptions: pd.DataFrame  # kind, item, detail, impact
    money: pd.DataFrame  # week, revenue, margin
    notes: list[str]  # what could not be applied or planned
    peaks: dict[str, loads.Peak]  # demand_load and (with a plan) planned_load, next weeks


def overview(
    base: PlanBase,
    supply: SupplyData,
    scenario: Scenario,
    weeks: int = 13,
    plan_weeks: int = loads.PLAN_WEEKS,
    demand_misses: pd.DataFrame | None = None,
) -> Overview:
    """The Overview for ``scenario`` over the next ``weeks`` (its production plan over
    ``plan_weeks``, so stock can be built ahead of the weeks shown). ``demand_misses`` is
    ``accuracy.accuracy_by_sku`` output, when there is one.

    ``peaks`` holds the peak demand load and peak planned load over the ``weeks`` shown (see
    ``sop_core.supply.loads``); ``kpis["peak_utilisation"]`` is the peak planned load's value,
    ``peak_line`` and ``peak_week`` its line-week."""
    plan_weeks = min(max(plan_weeks, weeks), base.baseline.shape[1])
    scenario, notes = applicable(base, scenario)
    result = apply_scenario(base, scenario)
    span = slice(0, weeks)
    try:
        plan = solve_plan(result, supply, PlanSettings(), plan_weeks)
    except InputError as error:  # no lines with speeds yet (a company's sales-only data)
        notes.append(f"No production plan: {error}")
        plan = None
    kpis = {
        "consensus": float(base.baseline[:, span].sum()),
        "statistical": float(base.statistical[:, span].sum()),
        "target": float(result.revised[:, span].sum()),
        "revenue": float(result.revenue[:, span].sum()),
        "margin": float(result.margin[:, span].sum()),
        "unmet_units": float("nan"),
        "peak_utilisation": float("nan"),
        "peak_line": "",
        "peak_week": None,
    }
    money = pd.DataFrame(
        {
            "week": pd.to_datetime(base.weeks[span]),
            "revenue": result.revenue[:, span].sum(axis=0),
            "margin": result.margin[:, span].sum(axis=0),
        }
    )
    if plan is None:
        weekly = pd.DataFrame(
            {
                "week": money["week"],
                "demand": result.revised[:, span].sum(axis=0),
                "production": np.nan,
                "unmet": np.nan,
                "inventory": np.nan,
            }
        )
        exceptions = _exceptions(base, result, None, weeks, demand_misses)
        peaks = loads.peaks(result, None, None, weeks)
        return Overview(weeks, kpis, weekly, exceptions, money, notes, peaks)
    peaks = loads.peaks(result, plan.hours, plan.overtime, weeks)
    planned = peaks["planned_load"]
    if planned.week is not None:
        kpis.update(peak_utilisation=planned.value, peak_line=planned.line, peak_week=planned.week)
    kpis["unmet_units"] = float(plan.unmet[:, span].sum())
    weekly = plan_frames(plan, result)["weekly"].head(weeks)
    exceptions = _exceptions(base, result, plan, weeks, demand_misses)
    return Overview(weeks, kpis, weekly, exceptions, money, notes, peaks)


def _exceptions(base, result, plan, weeks: int, misses: pd.DataFrame | None) -> pd.DataFrame:
    unit_margin = np.maximum(base.weekly_price[:, :weeks] - base.variable_cost[:, None], 0.0)
    unmet = plan.unmet[:, :weeks] if plan is not None else np.zeros_like(unit_margin)
    at_risk = (unmet * unit_margin).sum(axis=1)
    rows = []
    for i in np.flatnonzero(unmet.sum(axis=1) > 0.5):
        short = np.flatnonzero(unmet[i] > 0.5)
        first, last = pd.Timestamp(base.weeks[short[0]]), pd.Timestamp(base.weeks[short[-1]])
        rows.append(
            {
                "kind": "supply",
                "item": str(base.skus[i]),
                "detail": f"{unmet[i].sum():,.0f} units the lines cannot make, weeks of "
                f"{first:%d %b} to {last:%d %b}",
                "impact": float(at_risk[i]),
            }
        )
    if plan is not None:
        overtime_cost = PlanSettings().overtime_cost_per_hour
        for li in np.flatnonzero(plan.overtime[:, :weeks].sum(axis=1) > 0.5):
            busy = np.flatnonzero(plan.overtime[li, :weeks] > 0.5)
            first, last = pd.Timestamp(base.weeks[busy[0]]), pd.Timestamp(base.weeks[busy[-1]])
            hours = float(plan.overtime[li, :weeks].sum())
            rows.append(
                {
                    "kind": "supply",
                    "item": f"line {base.lines[li]}",
                    "detail": f"{hours:,.0f} overtime hours to make the plan, weeks of "
                    f"{first:%d %b} to {last:%d %b}",
                    "impact": hours * overtime_cost,
                }
            )
    if misses is not None and not misses.empty:
        for miss in misses.head(10).itertuples():
            rows.append(
                {
                    "kind": "demand",
                    "item": str(miss.sku),
                    "detail": f"past forecasts missed by {miss.wape:.0%} ({miss.bias:+.0%} "
                    f"bias), served by {miss.model}",
                    "impact": float(miss.impact),
                }
            )
    frame = pd.DataFrame(rows, columns=["kind", "item", "detail", "impact"])
    return frame.sort_values("impact", ascending=False).reset_index(drop=True)
