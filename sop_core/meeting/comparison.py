"""Scenario comparison: two to four scenarios side by side on the same forecast and supply.

Each scenario's levers are applied to the current plan (the consensus) and its production plan
is solved on the same lines and stock, so the differences are the scenarios' and nothing else.
"""

from __future__ import annotations

import pandas as pd

from sop_core.data import formats
from sop_core.data.errors import InputError
from sop_core.demand.plan_base import PlanBase
from sop_core.scenario.levers import applicable, apply_scenario
from sop_core.scenario.model import Scenario
from sop_core.supply import loads
from sop_core.supply.planning import PlanSettings, SupplyData, solve_plan

METRICS = {
    "volume": "Revised target (units)",
    "revenue": "Revenue",
    "margin": "Gross margin",
    "peak_demand_load": f"Peak {loads.DEMAND_LOAD.lower()}",
    "peak_utilisation": f"Peak {loads.PLANNED_LOAD.lower()}",
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
    each (``week, scenario, volume``).

    Each production plan is solved over ``loads.plan_weeks`` (at least 26 weeks, so the weeks
    compared can build stock ahead of later peaks, as on the Overview) and read over the first
    ``weeks``: ``peak_utilisation`` is the peak planned load, ``peak_demand_load`` the peak
    demand load (``sop_core.supply.loads``), unmet demand and overtime those weeks' sums."""
    if not 1 <= len(scenarios) <= 4:
        raise InputError("Compare two to four scenarios.")
    settings = settings or PlanSettings()
    horizon = base.baseline.shape[1]
    weeks = min(weeks, horizon)
    rows, weekly, notes = [], [], []
    for scenario in scenarios:
        scenario, left_out = applicable(base, scenario)
        notes += left_out
        result = apply_scenario(base, scenario)
        plan = solve_plan(result, supply, settings, loads.plan_weeks(weeks, horizon))
        peaks = loads.peaks(result, plan.hours, plan.overtime, weeks)
        rows.append(
            {
                "scenario": scenario.name,
                "volume": float(result.revised[:, :weeks].sum()),
                "revenue": float(result.revenue[:, :weeks].sum()),
                "margin": float(result.margin[:, :weeks].sum()),
                "peak_demand_load": _value(peaks["demand_load"]),
                "peak_utilisation": _value(peaks["planned_load"]),
                "unmet_units": float(plan.unmet[:, :weeks].sum()),
                "overtime_hours": float(plan.overtime[:, :weeks].sum()),
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


def _value(peak: loads.Peak) -> float:
    return 0.0 if peak.week is None else peak.value


def side_by_side(table: pd.DataFrame, currency: str, weeks: int) -> pd.DataFrame:
    """``compare``'s table as the room reads it: a row per metric (named as ``METRICS``, the
    load rows with their weeks), a column per scenario, each cell written by
    ``sop_core.data.formats`` and, beside the first (the reference), its change from it."""
    names = {
        **METRICS,
        "peak_demand_load": loads.peak_label(loads.DEMAND_LOAD, weeks),
        "peak_utilisation": loads.peak_label(loads.PLANNED_LOAD, weeks),
    }
    shares = {"peak_demand_load", "peak_utilisation"}
    reference = table.iloc[0]
    columns = {}
    for position, row in enumerate(table.itertuples(index=False)):
        cells = []
        for metric in METRICS:
            value = getattr(row, metric)
            if metric in shares:
                cell = f"{value:.0%}"
            elif metric in ("revenue", "margin"):
                cell = formats.money(value, currency)
            else:
                cell = formats.compact(value)
            if position and metric not in shares:
                moved = formats.relative_change(value, reference[metric])
                if moved is not None and moved not in ("+0.0%", "-0.0%"):
                    cell += f" ({moved})"
            elif position and abs(value - reference[metric]) >= 0.005:
                cell += f" ({(value - reference[metric]) * 100:+.0f} pts)"
            cells.append(cell)
        columns[str(row.scenario)] = cells
    return pd.DataFrame(columns, index=[names[metric] for metric in METRICS])
