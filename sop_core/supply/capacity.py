"""The demand load of a scenario's revised targets (hours needed against available hours, as
defined in ``sop_core.supply.loads``), gaps, the probability of an overload, the exceptions
worth a meeting's time, and batch economics.

Everything works on a ``ScenarioResult`` (the baseline is a scenario without levers), so the
supply view follows the chosen scenario and its capacity changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr

from sop_core.demand.plan_base import PlanBase
from sop_core.scenario.levers import ScenarioResult
from sop_core.supply.loads import DEMAND_LOAD, load_ratio

Z80 = 1.2815515655446004  # the 80% band is +-1.28 standard deviations
HIGH_LOAD = 0.85
HIGH_LOAD_RUN = 3  # weeks in a row
IDLE_LOAD = 0.30
# Forecast errors of SKUs on the same line move together a little (a hot season lifts them
# all): the line's spread assumes this correlation between SKUs, not independence.
ERROR_CORRELATION = 0.3


@dataclass
class LoadView:
    """Per line and week: hours needed, available, demand load (``utilisation``), gap and
    overload probability."""

    base: PlanBase
    hours: np.ndarray
    available: np.ndarray
    spread: np.ndarray  # standard deviation of the hours needed
    probability: np.ndarray

    @property
    def utilisation(self) -> np.ndarray:
        """The demand load per line x week (NaN without available hours)."""
        return load_ratio(self.hours, self.available)

    @property
    def gap_hours(self) -> np.ndarray:
        return np.maximum(self.hours - self.available, 0.0)

    def gap_units(self) -> np.ndarray:
        """The gap in units, at the line's average speed for its current mix."""
        return self.gap_hours * self.base.line_units_per_hour()[:, None]

    def frame(self) -> pd.DataFrame:
        """Long table: ``line, line_name, week, hours_needed, available_hours, utilisation,
        gap_hours, gap_units, overload_probability``."""
        lines, weeks = self.hours.shape
        return pd.DataFrame(
            {
                "line": np.repeat(self.base.lines, weeks),
                "line_name": np.repeat(self.base.line_names, weeks),
                "week": np.tile(pd.to_datetime(self.base.weeks), lines),
                "needed_hours": self.hours.ravel(),
                "available_hours": self.available.ravel(),
                "utilisation": self.utilisation.ravel(),
                "gap_hours": self.gap_hours.ravel(),
                "gap_units": self.gap_units().ravel(),
                "overload_probability": self.probability.ravel(),
            }
        )


def load_view(result: ScenarioResult) -> LoadView:
    """The demand load of a scenario, with the probability that a line-week overloads.

    The spread of each SKU's volume comes from its 80% band (scaled with the scenario's
    change); a line's spread adds its SKUs' hours with a correlation of
    ``ERROR_CORRELATION``. The probability is that of a normal variable exceeding the hours
    available.
    """
    base = result.base
    sigma = np.maximum(result.upper_80 - result.lower_80, 0.0) / (2 * Z80)
    hourly = sigma * base.hours_per_unit[:, None]
    independent = base.line_hours_sum(hourly**2)
    together = base.line_hours_sum(hourly) ** 2
    spread = np.sqrt((1 - ERROR_CORRELATION) * independent + ERROR_CORRELATION * together)
    available = result.available
    margin = available - result.hours
    with np.errstate(divide="ignore", invalid="ignore"):
        probability = np.where(spread > 0, ndtr(-margin / spread), (margin < 0).astype(float))
    probability = np.where(result.hours <= 0, 0.0, probability)
    return LoadView(base, result.hours, available, spread, probability)


def exceptions(view: LoadView) -> pd.DataFrame:
    """What the supply review should talk about, most serious first.

    Overloaded weeks (by the hours missing), likely overloads (at least an even chance though
    the plan fits), lines above 85% for three weeks or more in a row, and idle lines (below
    30% on average). Columns: ``kind, line, line_name, first_week, last_week, weeks,
    gap_hours, peak_utilisation, probability, detail``.
    """
    base = view.base
    weeks = pd.to_datetime(base.weeks)
    utilisation = np.nan_to_num(view.utilisation, nan=0.0)
    gap_hours = view.gap_hours  # a property: worked out once here, not per line-week
    rows = []
    for li, line in enumerate(base.lines):
        name = base.line_names[li]
        for w in np.flatnonzero(gap_hours[li] > 1e-6):
            rows.append(
                (
                    "overloaded",
                    line,
                    name,
                    weeks[w],
                    weeks[w],
                    1,
                    gap_hours[li, w],
                    utilisation[li, w],
                    view.probability[li, w],
                    f"gap of {gap_hours[li, w]:,.0f} h ({utilisation[li, w]:.0%} "
                    f"{DEMAND_LOAD.lower()}, {view.probability[li, w]:.0%} likely)",
                )
            )
        likely = (view.probability[li] >= 0.5) & (gap_hours[li] <= 1e-6)
        for w in np.flatnonzero(likely):
            rows.append(
                (
                    "likely overload",
                    line,
                    name,
                    weeks[w],
                    weeks[w],
                    1,
                    0.0,
                    utilisation[li, w],
                    view.probability[li, w],
                    f"fits on the point forecast ({utilisation[li, w]:.0%} "
                    f"{DEMAND_LOAD.lower()}) but "
                    f"{view.probability[li, w]:.0%} likely to overload",
                )
            )
        for start, end in _runs(utilisation[li] > HIGH_LOAD):
            if end - start >= HIGH_LOAD_RUN:
                peak = utilisation[li, start:end].max()
                rows.append(
                    (
                        "high demand load for weeks",
                        line,
                        name,
                        weeks[start],
                        weeks[end - 1],
                        end - start,
                        gap_hours[li, start:end].sum(),
                        peak,
                        view.probability[li, start:end].max(),
                        f"{DEMAND_LOAD.lower()} above {HIGH_LOAD:.0%} for {end - start} weeks "
                        f"in a row (peak {peak:.0%})",
                    )
                )
        if view.available[li].sum() > 0:
            average = view.hours[li].sum() / view.available[li].sum()
            if average < IDLE_LOAD:
                rows.append(
                    (
                        "idle line",
                        line,
                        name,
                        weeks[0],
                        weeks[-1],
                        len(weeks),
                        0.0,
                        average,
                        0.0,
                        f"{DEMAND_LOAD.lower()} only {average:.0%} on average",
                    )
                )
    frame = pd.DataFrame(
        rows,
        columns=[
            "kind",
            "line",
            "line_name",
            "first_week",
            "last_week",
            "weeks",
            "gap_hours",
            "peak_utilisation",
            "probability",
            "detail",
        ],
    )
    order = {"overloaded": 0, "likely overload": 1, "high demand load for weeks": 2, "idle line": 3}
    frame["rank"] = frame["kind"].map(order)
    return (
        frame.sort_values(["rank", "gap_hours", "probability"], ascending=[True, False, False])
        .drop(columns="rank")
        .reset_index(drop=True)
    )


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True values."""
    padded = np.concatenate([[False], flags, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2], strict=True))


def batch_economics(result: ScenarioResult) -> pd.DataFrame:
    """Per SKU: batch size, unit cost, changeovers and cycle stock, baseline vs scenario.

    The plant keeps its batch cadence (a batch every ``standard batch / baseline weekly
    volume`` weeks); more volume makes each batch bigger, which spreads the setup cost over
    more units. ``setup_saving`` is what that is worth over the horizon, against producing
    the scenario's volume at the standard batch size.
    """
    base = result.base
    weeks = result.revised.shape[1]
    weekly_base = base.baseline.mean(axis=1)
    weekly = result.revised.mean(axis=1)
    cadence = np.divide(
        base.batch_size, weekly_base, out=np.full_like(weekly_base, np.nan), where=weekly_base > 0
    )
    batch = weekly * cadence
    cost_base = base.variable_cost + np.nan_to_num(base.setup_cost / base.batch_size)
    cost = base.variable_cost + np.nan_to_num(
        np.divide(base.setup_cost, batch, out=np.full_like(batch, np.nan), where=batch > 0)
    )
    return pd.DataFrame(
        {
            "sku": base.skus,
            "name": base.names,
            "family": base.families,
            "weekly_units_base": weekly_base,
            "weekly_units": weekly,
            "weeks_between_batches": cadence,
            "batch_size_base": base.batch_size,
            "batch_size": batch,
            "unit_cost_base": cost_base,
            "unit_cost": cost,
            "changeovers_per_week": np.divide(
                weekly, batch, out=np.zeros_like(weekly), where=batch > 0
            ),
            "cycle_stock": batch / 2,
            "setup_saving": (cost_base - cost) * weekly * weeks,
        }
    )


def unit_cost_curve(base: PlanBase, sku: str, points: int = 60) -> pd.DataFrame:
    """Unit cost against batch size for one SKU (from a tenth to three times its standard
    batch): ``batch_size, unit_cost``."""
    row = list(base.skus).index(sku)
    standard = base.batch_size[row]
    sizes = np.linspace(0.1, 3.0, points) * (standard if np.isfinite(standard) else 1000.0)
    return pd.DataFrame(
        {"batch_size": sizes, "unit_cost": base.variable_cost[row] + base.setup_cost[row] / sizes}
    )
