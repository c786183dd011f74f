"""Scenario comparison: two to four scenarios side by side on the same forecast and supply.

Each scenario's levers are applied to the current plan (the consensus) and its production plan
is solved on the same lines and stock, so the differences are the scenarios' and nothing else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sop_core.data.errors import InputError
from sop_core.demand.plan_base import PlanBase
from sop_core.scenario.levers import Scenario, applicable, apply_scenario
from sop_core.supply.planning import PlanSettings, SupplyData, solve_plan

METRICS = {
    "volume": "Revised target (units)",
    "revenue": "Revenue",
    "margin": "Gross margin",
    "peak_utilisation": "Peak line utilisation",
    "unmet_units": "Unmet demand (units)",
    "overtime_hours": "Overtime (hours)",
}


def compare(
    base: PlanBase,
    supply: SupplyData,
    scenarios: list[Scenario],
    weeks: int = 26,
    settings: PlanSettings | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metrics per scenario over the first ``weeks`` weeks (``scenario`` plus ``METRICS``,
    ``forecast_run`` and ``change_vs_first`` columns for each metric) and the weekly volume of
    each (``week, scenario, volume``)."""
    if not 1 <= len(scenarios) <= 4:
        raise InputError("Compare two to four scenarios.")
    settings = settings or PlanSettings()
    weeks = min(weeks, base.baseline.shape[1])
    rows, weekly, notes = [], [], []
    for scenario in scenarios:
        scenario, left_out = applicable(base, scenario)
        notes += left_out
        result = apply_scenario(base, scenario)
        plan = solve_plan(result, supply, settings, weeks)
        available = result.available[:, :weeks]
        utilisation = np.divide(
            plan.hours, available, out=np.zeros_like(plan.hours), where=available > 0
        )
        rows.append(
            {
                "scenario": scenario.name,
                "volume": float(result.revised[:, :weeks].sum()),
                "revenue": float(result.revenue[:, :weeks].sum()),
                "margin": float(result.margin[:, :weeks].sum()),
                "peak_utilisation": float(utilisation.max()) if utilisation.size else 0.0,
                "unmet_units": float(plan.unmet.sum()),
                "overtime_hours": float(plan.overtime.sum()),
                "forecast_run": base.run_id,
            }
        )
        weekly.append(
            pd.DataFrame(
                {
                    "week": pd.to_datetime(base.weeks[:weeks]),
                    "scenario": scenario.name,
                    "volume": result.revised[:, :weeks].sum(axis=0),
                }
            )
        )
    table = pd.DataFrame(rows)
    for metric in METRICS:
        table[f"{metric}_change"] = table[metric] - table[metric].iloc[0]
    table.attrs["notes"] = notes
    return table, pd.concat(weekly, ignore_index=True)
